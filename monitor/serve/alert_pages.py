"""The alerts page, and the one write the pages make: queueing failed alerts again, by a form
posted from a page of this address (the browser's Fetch Metadata says so) or holding this
process's CSRF token."""

from __future__ import annotations

import hmac
import secrets
from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import urlencode

from fastapi import HTTPException, Query, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse

from monitor.archive import Archive
from monitor.errors import UsageError
from monitor.models import AlertState
from monitor.phrases import RETRY_LEFT_ALONE
from monitor.queries import AlertKey, alert_history
from monitor.serve.cursors import read_cursor, write_cursor
from monitor.serve.rendering import counted_page, page
from monitor.serve.searching import Searching

MOST_RETRIED = 1000  # alert ids in one retry form
SHOWN = 500  # the latest alerts on the page


class AlertPages:
    """The routes of /alerts and POST /alerts/retry."""

    def __init__(self, archive: Archive, counting: Searching) -> None:
        self.archive = archive
        self.counting = counting
        self.csrf = secrets.token_urlsafe(32)  # this process's: a form from another site cannot know it

    async def alerts_page(
        self,
        request: Request,
        state: Annotated[AlertState | None, Query()] = None,
        retried: Annotated[int | None, Query(ge=0, le=MOST_RETRIED)] = None,
        cursor: Annotated[str | None, Query()] = None,
    ) -> HTMLResponse:
        """The newest SHOWN alerts (of `state`, when given; from `cursor` on, when given), and
        how many there are in each state: read and rendered on a read thread once it has a turn
        (Searching.count; 500 rows make a page of a quarter of a megabyte), or a page saying the
        server is busy."""
        before = read_cursor(cursor, of="alerts")
        return await counted_page(
            self.counting, request, self._alerts_answer, state, retried, before, title="Alerts",
            path="/alerts",
        )  # fmt: skip

    def _alerts_answer(
        self, state: AlertState | None, retried: int | None, before: AlertKey | None
    ) -> HTMLResponse:
        history, following = alert_history(self.archive, SHOWN, state, before)
        kept = {"state": state.value} if state else {}
        older = None
        if following:
            older = "/alerts?" + urlencode({**kept, "cursor": write_cursor(*following, of="alerts")})
        in_state = self.archive.stats.alert_states()
        counts = [(each.value, in_state.get(each.value, 0)) for each in AlertState]
        total = in_state.get(state.value, 0) if state else sum(in_state.values())
        notice = None
        if retried is not None:
            them = "them" if retried > 1 else "it"
            notice = (
                f"{retried} queued again: the daemon sends {them} at its next dispatch"
                if retried
                else f"Nothing queued again: the alert was {RETRY_LEFT_ALONE}."
            )
        shown = state.value if state else None
        return page(
            "alerts.html",
            alerts=history,
            older=older,
            paged=before is not None,
            cursor=write_cursor(*before, of="alerts") if before else None,  # a retry comes back to it
            newest="/alerts?" + urlencode(kept),
            counts=counts,
            state=shown,
            total=total,
            csrf=self.csrf,
            notice=notice,
        )

    async def retry(self, request: Request) -> RedirectResponse:
        ids, back_to, cursor = await self._retry_form(request)
        missing = await run_in_threadpool(self.archive.outbox.missing_alerts, ids)
        if missing:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no alert {', '.join(missing)}")
        count = await run_in_threadpool(self.archive.outbox.retry_alerts, ids, False, datetime.now(UTC))
        back = {"state": back_to} if back_to else {}  # the page the form was on
        if cursor:
            back["cursor"] = cursor
        address = f"/alerts?{urlencode({**back, 'retried': count})}"
        return RedirectResponse(address, status.HTTP_303_SEE_OTHER)

    async def _retry_form(self, request: Request) -> tuple[list[str], str | None, str | None]:
        """The alert ids of a retry form this server gave, and the state and cursor of the page
        it was on; HTTPException for any other."""
        # The form is read here, after the token check (a Form parameter would have FastAPI read
        # the body first, an upload of any size included), and files are refused.
        try:
            form = await request.form(max_files=0, max_fields=MOST_RETRIED + 2)
        except HTTPException:
            raise
        except Exception as error:  # multipart errors, a file, too many fields
            raise HTTPException(status.HTTP_400_BAD_REQUEST, f"not a retry form: {error}") from None
        csrf_given = str(form.get("csrf", ""))
        ids = [str(value) for value in form.getlist("id")]
        origin = request.headers.get("origin")
        # A browser says where a form was posted from (Fetch Metadata), which no page can make
        # it misstate: posted from a page of this address, the form is ours, whichever process
        # drew it (several behind one address, or this one before a restart). Without that
        # header (an older browser, a program), the token of this process's forms is asked.
        ours = request.headers.get("sec-fetch-site") == "same-origin" or hmac.compare_digest(
            csrf_given.encode(), self.csrf.encode()
        )
        if not ours or (origin is not None and origin != str(request.base_url).rstrip("/")):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN, "the form is not one this server gave: reload the page"
            )
        if not ids or len(ids) > MOST_RETRIED:
            raise HTTPException(status.HTTP_400_BAD_REQUEST, f"give 1 to {MOST_RETRIED} alert ids")
        if any("\x00" in each for each in ids):  # PostgreSQL refuses it in text outright
            raise HTTPException(status.HTTP_400_BAD_REQUEST, "an alert id holds a NUL character")
        state = str(form.get("state", ""))
        cursor = str(form.get("cursor", ""))
        try:
            read_cursor(cursor, of="alerts")
        except UsageError:
            cursor = ""  # back to the newest
        return ids, state if state in {each.value for each in AlertState} else None, cursor or None
