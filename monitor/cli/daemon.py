"""`monitor run` and `monitor once`: polling the sources, as a daemon or once."""

from __future__ import annotations

import asyncio
import signal
import socket
import sys
import time
from contextlib import nullcontext

from monitor.archive.connections import refuse_unless_ours
from monitor.archive.engine import database_path
from monitor.config.settings import Settings
from monitor.errors import UsageError
from monitor.models import PollResult
from monitor.names import known_names
from monitor.phrases import counted
from monitor.runtime import event_loop


def run_command(settings: Settings, path: str) -> int:
    from monitor.app import build_app
    from monitor.metrics import Metrics
    from monitor.runtime.arenas import limit_malloc_arenas
    from monitor.runtime.daemon_lock import sole_daemon
    from monitor.runtime.scheduler import Daemon
    from monitor.serve.server import bind, serve

    limit_malloc_arenas()  # before the pass's threads exist

    async def daemon(listener: socket.socket | None) -> None:
        app = build_app(settings, path)
        try:
            metrics = Metrics()
            metrics.watch_archive(app.archive, settings)
            running = Daemon(app, metrics)
            read_side = (
                asyncio.create_task(serve(listener, app.archive, settings, metrics, running.stopping))
                if listener
                else None
            )
            try:
                await running.run()
            finally:  # stopped by a signal or on its own (the archive's file gone): the server too
                if read_side is not None:
                    await read_side
        finally:
            await app.aclose()

    url = settings.database_url()
    database = database_path(url)  # one lock however the path is spelled
    if url.startswith("sqlite:///"):
        refuse_unless_ours(url)  # before the lock file: nothing is left beside a refused file
    with sole_daemon(database) if url.startswith("sqlite:///") else nullcontext():
        # Bound once the archive is this daemon's: a second daemon is told that one runs, not
        # that the address is in use. Before anything starts: an address in use stops it here.
        listener = bind(settings.serve.listen, settings) if settings.serve.listen else None
        event_loop.run(daemon(listener))
    return 0


def once_command(settings: Settings, path: str, names: list[str]) -> int:
    from monitor.app import build_app
    from monitor.runtime.arenas import limit_malloc_arenas

    names = list(known_names(names, [source.name for source in settings.sources], "source"))
    limit_malloc_arenas()  # a pass is the daemon's work: the same threads, the same cap

    started = time.monotonic()

    async def one_pass() -> tuple[str, int]:
        # SIGTERM (a cron job's timeout, `timeout 5m monitor once`) stops the pass as Ctrl-C
        # does, not the process at once, and is said; what was stored is kept either way.
        task = asyncio.current_task()
        if task is not None:
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
        app = build_app(settings, path)
        try:
            reports = await app.poll(names or None)
            sent = await app.dispatcher.dispatch()
        except asyncio.CancelledError:
            # Stopped mid-send: the sends are cut before their channels close under them (each
            # would fail as the receiver's fault and pause its channel); their rows stay
            # claimed, so none is sent twice (see Dispatcher.drain).
            await app.dispatcher.drain(0)
            raise
        finally:
            await app.aclose()
        failed = sum(1 for report in reports if report.error)
        ours = sum(1 for report in reports if report.status is PollResult.INTERNAL_ERROR)
        summary = (
            f"once: {counted(len(reports), 'source')} ({len(reports) - failed} ok, {failed} failed), "
            f"{counted(sum(r.entries for r in reports), 'entry', 'entries')}, "
            f"{counted(sum(r.new for r in reports), 'new article')}, "
            f"{sum(r.updated for r in reports)} updated, "
            f"{sum(r.matched for r in reports)} matched, {counted(sent.sent, 'alert')} sent, "
            f"{counted(sent.failed, 'alert send')} failed, in {time.monotonic() - started:.1f}s"
        )
        if sent.postponed:
            summary += (
                f"\nonce: {counted(sent.postponed, 'alert')} left for later: "
                "their channel asked for a wait or did not answer"
            )
        if ours:
            summary += (
                f"\nonce: {ours} of the failures are a fault of the monitor, not of the source: see the log"
            )
        return summary, ours

    try:
        summary, ours = event_loop.run(one_pass())
    except (KeyboardInterrupt, asyncio.CancelledError) as stopped:
        name, code = ("SIGINT", 130) if isinstance(stopped, KeyboardInterrupt) else ("SIGTERM", 143)
        print(
            f"once: stopped by {name} after {time.monotonic() - started:.1f}s, before the pass ended: "
            "what it stored is kept, its alerts are sent by the next pass",
            file=sys.stderr,
        )
        return code
    print(summary)
    return 1 if ours else 0  # a source's failure is the source's; a fault of ours is unexpected


def serve_command(settings: Settings, listen: str | None) -> int:
    """The read side alone, until SIGINT or SIGTERM."""
    import signal

    from monitor.archive.backends import no_archive_yet, open_archive
    from monitor.metrics import Metrics
    from monitor.runtime.arenas import limit_malloc_arenas
    from monitor.serve.server import DEFAULT_LISTEN, bind, serve

    limit_malloc_arenas()  # the read threads' searches: as many cores at once, not 32 arenas
    listener = bind(listen or settings.serve.listen or DEFAULT_LISTEN, settings)
    try:
        absent = no_archive_yet(settings.database_url())
        if absent is not None:  # a mistyped path: an empty archive made there would answer "ok"
            raise UsageError(f"{absent}: nothing to serve; start the daemon first")
    except UsageError:
        listener.close()
        raise
    archive = open_archive(settings)

    async def serving() -> None:
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stopping.set)
        metrics = Metrics()
        metrics.watch_archive(archive, settings)
        await serve(listener, archive, settings, metrics, stopping)

    try:
        event_loop.run(serving())
    finally:
        archive.close()
    return 0
