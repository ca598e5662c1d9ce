"""The rules' names in the stored hits kept to the config's spelling: a rule renamed in case or
Unicode form only (`Dome Rule` to `DOME rule`) is the same rule (names.name_key), and its feed,
counts and filter, which read its hits by name, keep its matches."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select, update

from monitor.archive.connections import Transactions, operation
from monitor.archive.tables import hits
from monitor.names import name_key


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
