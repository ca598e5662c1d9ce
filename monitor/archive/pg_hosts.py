"""Per-host politeness shared by the daemons of a PostgreSQL archive: each request to a host takes
one of its `per_host` slots (a row of host_slots, held until released or until its hold lapses,
so a daemon that dies frees its slots) and reserves its start after the host's gap (host_gaps:
the next start any daemon may make). The database's clock decides, so machines whose clocks
differ still keep the gap."""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from sqlalchemy import text

from monitor.archive import HostTurn
from monitor.archive.connections import operation
from monitor.archive.postgres import PostgresConnections
from monitor.errors import ArchiveError

log = logging.getLogger(__name__)

_ADD_SLOTS = text(
    "INSERT INTO host_slots (host, slot, held_until) "
    "SELECT :host, slot, '-infinity' FROM generate_series(0, :per_host - 1) AS slot ON CONFLICT DO NOTHING"
)
# One free slot taken (a slot another daemon is taking is skipped, not waited for), and, if one
# was, the host's next start moved on by the gap; the wait is until this request's start.
_TAKE = text(
    "WITH taken AS (UPDATE host_slots SET held_until = clock_timestamp() + :hold "
    "WHERE (host, slot) = (SELECT host, slot FROM host_slots WHERE host = :host AND slot < :per_host "
    "AND held_until <= clock_timestamp() ORDER BY slot LIMIT 1 FOR UPDATE SKIP LOCKED) "
    "RETURNING slot, held_until), "
    "started AS (INSERT INTO host_gaps (host, next_start) SELECT :host, clock_timestamp() + :gap "
    "WHERE EXISTS (SELECT 1 FROM taken) ON CONFLICT (host) DO UPDATE "
    "SET next_start = greatest(host_gaps.next_start, clock_timestamp()) + :gap RETURNING next_start) "
    "SELECT taken.slot, taken.held_until, "
    "extract(epoch FROM started.next_start - :gap - clock_timestamp()) FROM taken, started"
)
_RELEASE = text(
    "UPDATE host_slots SET held_until = '-infinity' "
    "WHERE host = :host AND slot = :slot AND held_until = :held_until"
)


class PostgresHostTurns:
    """HostTurns on the archive's PostgreSQL database."""

    def __init__(self, db: PostgresConnections) -> None:
        self.db = db

    @operation("taking a turn at a host")
    def take(self, host: str, per_host: int, gap: timedelta, hold: timedelta) -> HostTurn | None:
        values = {"host": host, "per_host": per_host, "gap": gap, "hold": hold}
        for attempt in range(2):
            with self.db.writing() as connection:
                row = connection.execute(_TAKE, values).first()
                if row is not None:
                    slot, held_until, wait = row
                    return HostTurn(host, slot, held_until, time.monotonic() + max(float(wait), 0.0))
                if attempt == 0:  # perhaps the host's slots are not there yet
                    added = connection.execute(_ADD_SLOTS, values).rowcount
                    if not added:
                        return None
        return None

    def release(self, turn: HostTurn) -> None:
        values = {"host": turn.host, "slot": turn.slot, "held_until": turn.held_until}
        try:
            with self.db.writing() as connection:
                connection.execute(_RELEASE, values)
        except ArchiveError as error:  # the hold lapses by itself
            log.warning("releasing a turn at %s: %s", turn.host, error)
