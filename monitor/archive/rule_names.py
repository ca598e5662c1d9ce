"""The rules' names in the stored hits kept to the config's spelling: a rule renamed in case or
Unicode form only (`Dome Rule` to `DOME rule`) is the same rule (names.name_key), and its feed,
counts and filter, which read its hits by name, keep its matches. A daemon files them under its
config's spelling at its start (respell_rules); a process whose config spells the rule
otherwise (a `monitor serve` started before that daemon, or still running after it, a daemon
on the old config) reads its hits under every spelling (RuleSpellings)."""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable, Iterable, Sequence

from sqlalchemy import select, text, update

from monitor.archive.connections import Transactions, operation
from monitor.archive.tables import hits
from monitor.names import name_key

SPELLINGS_KEPT = 60.0  # seconds the stored spellings read are used before they are read again

# Each name the hits hold, once: a step down the index of names a name (a loose index scan;
# DISTINCT reads every hit), on SQLite and PostgreSQL alike. At 1,000 names: 2.7 ms on
# SQLite, 7 ms on PostgreSQL.
_STORED_NAMES = text(
    "WITH RECURSIVE spelled(rule) AS (SELECT min(rule) FROM hits UNION ALL "
    "SELECT (SELECT min(rule) FROM hits WHERE rule > spelled.rule) FROM spelled "
    "WHERE spelled.rule IS NOT NULL) SELECT rule FROM spelled WHERE rule IS NOT NULL"
)


class RuleSpellings:
    """The spellings of the rules' names in the stored hits, read at most once a minute."""

    def __init__(self, db: Transactions, clock: Callable[[], float] = time.monotonic) -> None:
        self.db = db
        self.clock = clock
        self._read: tuple[dict[str, tuple[str, ...]], float] = ({}, -SPELLINGS_KEPT)

    def standing_for(self, names: Iterable[str]) -> dict[str, str]:
        """Each name, and each stored spelling of it (names.name_key), with the name it stands for."""
        by_key = self._by_key()
        return {spelled: name for name in names for spelled in (name, *by_key.get(name_key(name), ()))}

    def merged(self, names: Iterable[str]) -> dict[str, str]:
        """The stored spellings of each name stored under several, with the name: counts taking
        an article once however it was filed group them as one (a CASE over every hit read, so
        only these: a name stored under one spelling is read under it, then named as asked)."""
        by_key = self._by_key()
        several = [
            (name, by_key[name_key(name)]) for name in names if len(by_key.get(name_key(name), ())) > 1
        ]
        return {spelled: name for name, stored in several for spelled in stored}

    def stale(self, answer: Sequence[Hashable]) -> bool:
        """Whether an answer read by `merged`'s names shows the spellings read are out of date:
        one of its lines twice (a spelling stored since, not grouped with the name's others);
        then they are read again at the next ask."""
        if len(set(answer)) == len(answer):
            return False
        self._read = ({}, -SPELLINGS_KEPT)
        return True

    def _by_key(self) -> dict[str, tuple[str, ...]]:
        """The stored names by their keys, read again once SPELLINGS_KEPT old (threads may both
        read them: no harm)."""
        by_key, read_at = self._read
        if self.clock() - read_at >= SPELLINGS_KEPT:
            by_key = _stored_names(self.db)
            self._read = (by_key, self.clock())
        return by_key


@operation("reading the rules' names in the hits")
def _stored_names(db: Transactions) -> dict[str, tuple[str, ...]]:
    spellings: dict[str, list[str]] = {}
    with db.reading() as connection:
        for name in connection.execute(_STORED_NAMES).scalars():
            spellings.setdefault(name_key(name), []).append(name)
    return {key: tuple(each) for key, each in spellings.items()}


@operation("spelling the rules' names as configured")
def respell_rules(db: Transactions, configured: Sequence[str]) -> dict[str, str]:
    """Each stored spelling of a configured rule's name that differs from the config's, made
    the config's; {old: new}. One transaction."""
    spelled = {name_key(name): name for name in configured}
    with db.writing() as connection:
        stored = connection.execute(select(hits.c.rule).distinct()).scalars().all()
        renamed = {
            old: spelled[name_key(old)]
            for old in stored
            if name_key(old) in spelled and spelled[name_key(old)] != old
        }
        for old, new in renamed.items():
            connection.execute(update(hits).where(hits.c.rule == old).values(rule=new))
    return renamed
