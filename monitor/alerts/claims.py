"""The outbox rows a dispatcher has claimed and not yet sent, each with the time its claim runs
to. A claimed row is the dispatcher's until then: rows waiting for a send slot are renewed (the
daemon's heartbeat, or a dispatch waiting for its sends), and a send starting takes its row past
its channel's deadline. A claim lapses only when its dispatcher died or stalled; another
dispatcher then takes the row, and this one, should it wake, drops it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from monitor.archive import Outbox
from monitor.models import AlertRecord

log = logging.getLogger(__name__)
# A send starting takes its row for the lease and the channel's deadline; a killed daemon's rows
# go out from another within a lease.
CLAIM_LEASE = timedelta(seconds=30)


class AlertClaims:
    def __init__(self, outbox: Outbox, clock: Callable[[], datetime]) -> None:
        self.outbox, self.clock = outbox, clock
        self._until: dict[str, datetime] = {}  # row id -> claimed until
        self._loop: asyncio.AbstractEventLoop | None = None
        self._renewing = asyncio.Lock()  # one renewal at a time: two would each find the other's

    def hold(self, ids: Iterable[str], until: datetime) -> None:
        """Rows just claimed, until `until`."""
        for row_id in ids:
            self._until[row_id] = until

    def forget(self, ids: Iterable[str]) -> None:
        """Rows whose send ended (sent, failed, or stopped): nothing more to keep."""
        for row_id in ids:
            self._until.pop(row_id, None)

    async def renew(self) -> None:
        """Keep every held claim from lapsing for another lease."""
        if self._until:
            await self._renew(list(self._until), self.clock() + CLAIM_LEASE)

    async def still_ours(self, rows: list[AlertRecord], deadline: float) -> list[AlertRecord]:
        """The rows whose claim still stands as their send starts, with the claim extended past
        the send's `deadline` (seconds). A claim that lapsed while its send waited for a slot and
        was taken again belongs to that other send: this one drops the row."""
        until = self.clock() + CLAIM_LEASE + timedelta(seconds=deadline)
        ours = await self._renew([row.id for row in rows], until)
        for row in rows:
            if row.id not in ours:
                log.info("alert %s: claimed again while it waited to be sent; the other send has it", row.id)
        return [row for row in rows if row.id in ours]

    async def _renew(self, ids: list[str], until: datetime) -> set[str]:
        """Extend to at least `until` the claims on these rows as this dispatcher holds them;
        the ids still ours. A row lost is forgotten: its waiting send drops it."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # `once` and tests run several event loops in turn
            self._loop, self._renewing = loop, asyncio.Lock()
        async with self._renewing:
            by_claim: dict[datetime, list[str]] = {}
            for row_id in ids:
                if (held := self._until.get(row_id)) is not None:
                    by_claim.setdefault(held, []).append(row_id)
            ours: set[str] = set()
            for held, claimed in by_claim.items():
                if held >= until:  # a send under way holds its row past its deadline already
                    ours.update(claimed)
                    continue
                renewed = await asyncio.to_thread(self.outbox.renew_alert_claims, claimed, held, until)
                for row_id in claimed:
                    if row_id in renewed:
                        self._until[row_id] = until
                    else:
                        self._until.pop(row_id, None)
                ours |= renewed
            return ours
