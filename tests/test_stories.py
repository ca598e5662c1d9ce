"""Near-duplicate stories: fingerprints, grouping in the archive, and one alert per story."""

from __future__ import annotations

import hashlib
import random
import tempfile
from datetime import timedelta
from pathlib import Path

import pytest

from bench.stories import group
from bench.story_corpus import Copy, corpus, pair_scores, short_corpus
from monitor.archive.sql import SqlArchive
from monitor.archive.stories import MOST_PER_BAND
from monitor.near_duplicates import (
    BINS,
    EMPTY,
    MAX_BOILERPLATE,
    StoryGrouping,
    band_keys,
    densified,
    fingerprint,
    fingerprint_tokens,
    remembered_boilerplate,
    similarity,
)
from tests.archive.helpers import NOW, make_article
from tests.configs import LOOPBACK_FETCH, monitor_config
from tests.conftest import Cli
from tests.fixtures import rss
from tests.servers import Route, Site, WebhookReceiver

WIRE = (
    "The defence ministry said on Tuesday that Taiwan plans to deploy the T-Dome shield near the"
    " northern coast. The contract covers twelve batteries and training for forty crews. Officials"
    " declined to say when the first units would be ready. Critics argue the system is too costly"
    " to defend a long coastline, while supporters point to its record against rockets and drones."
)


def _reference_fingerprint(tokens: list[str]) -> tuple[int, ...] | None:
    """The fingerprint as first defined (stored fingerprints were made so): a faster one must
    give the same values."""
    found = {" ".join(tokens[index : index + 3]) for index in range(len(tokens) - 2)}
    if len(found) < 5:
        return None
    mins = [-1] * 64
    for shingle in found:
        value = int.from_bytes(hashlib.blake2b(shingle.encode(), digest_size=8).digest())
        index, rest = value >> 58, value & ((1 << 58) - 1)
        if mins[index] == -1 or rest < mins[index]:
            mins[index] = rest
    return tuple(mins)


def test_fingerprints_keep_their_definition() -> None:
    rng = random.Random(9)
    for length in (0, 2, 3, 6, 7, 40, 900):
        tokens = [
            rng.choice(["iron", "dome", "鐵", "穹", "t", "shield", "radar"]) + str(rng.randrange(60))
            for _ in range(length)
        ]
        assert fingerprint_tokens(tokens) == _reference_fingerprint(tokens)


def test_copies_are_alike_and_unrelated_stories_are_not() -> None:
    original = fingerprint("Taiwan to deploy T-Dome", WIRE)
    wire_copy = fingerprint("Taiwan to deploy T-Dome", f"TAIPEI (Agency) - {WIRE} Reporting by our desk.")
    rewrite = fingerprint("Taiwan to deploy T-Dome", "A new opening line here. " + WIRE.split(". ", 1)[1])
    other = fingerprint("Budget hearings", "Lawmakers debated the farm budget and rural schools for hours.")
    assert original and wire_copy and rewrite and other
    assert similarity(original, wire_copy) > 0.7
    assert similarity(original, rewrite) > 0.5
    assert similarity(original, other) < 0.1
    assert fingerprint("Short", "Too short.") is None


def test_traditional_and_simplified_copies_are_one_text() -> None:
    simplified = fingerprint("铁穹", "国防部表示，台湾计划在北部海岸部署台湾之盾，合同涵盖十二个发射单元。")
    traditional = fingerprint("鐵穹", "國防部表示，台灣計劃在北部海岸部署台灣之盾，合同涵蓋十二個發射單元。")
    assert simplified is not None and simplified == traditional


def test_the_archive_groups_copies_in_the_storing_transaction(tmp_path: Path) -> None:
    archive = SqlArchive(f"sqlite:///{tmp_path / 'a.db'}")
    print_ = fingerprint("Iron Dome visit", WIRE)
    first = make_article("a1", text=WIRE, fingerprint=print_)
    copy = make_article("a2", text=WIRE, fingerprint=print_, fetched=NOW + timedelta(hours=1))
    late = make_article("a3", text=WIRE, fingerprint=print_, fetched=NOW + timedelta(days=4))
    for article in (first, copy, late):
        archive.store_new([article], [])
    stored = [archive.article(key) for key in ("a1", "a2", "a3")]
    # The late look-alike is outside the three-day window: a new story.
    assert [item.article.story for item in stored if item] == ["a1", "a1", "a3"]
    assert stored[0] is not None and [url for _, url in stored[0].also_reported_by] == [copy.url]


def test_copies_stored_in_one_batch_join_one_story(tmp_path: Path) -> None:
    archive = SqlArchive(f"sqlite:///{tmp_path / 'a.db'}")
    print_ = fingerprint("Iron Dome visit", WIRE)
    other = fingerprint(
        "Budget hearings", "Lawmakers debated the farm budget and rural schools for hours." * 3
    )
    batch = [
        make_article("b1", text=WIRE, fingerprint=print_),
        make_article("b2", text="Budget hearings went on.", fingerprint=other),
        make_article("b3", text=WIRE, fingerprint=print_, fetched=NOW + timedelta(hours=1)),
        make_article("b3", text=WIRE, fingerprint=print_),  # a repeat within the batch: stored once
    ]
    assert len(archive.store_new(batch, [])) == 3
    stories = [item.article.story for key in ("b1", "b2", "b3") if (item := archive.article(key))]
    assert stories == ["b1", "b2", "b1"]
    late = make_article("b4", text=WIRE, fingerprint=print_, fetched=NOW + timedelta(days=4))
    assert len(archive.store_new([late, batch[0]], [])) == 1  # b1 is stored already
    assert (found := archive.article("b4")) is not None and found.article.story == "b4"


def test_a_story_copied_more_often_than_the_candidates_read_still_gathers_its_copies(tmp_path: Path) -> None:
    archive = SqlArchive(f"sqlite:///{tmp_path / 'a.db'}")
    print_ = fingerprint("Iron Dome visit", WIRE)
    copies = MOST_PER_BAND + 20
    for index in range(0, copies, 10):
        batch = [
            make_article(f"c{n:03d}", text=WIRE, fingerprint=print_, fetched=NOW + timedelta(minutes=n))
            for n in range(index, min(copies, index + 10))
        ]
        archive.store_new(batch, [])
    stories = {item.article.story for n in range(copies) if (item := archive.article(f"c{n:03d}"))}
    assert stories == {"c000"}


@pytest.mark.parametrize(
    "copies", [corpus(families=24, seed=11), short_corpus(families=30, seed=13)], ids=["full", "feed-length"]
)
def test_grouping_precision_and_recall_on_the_generated_corpora(copies: list[Copy]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        stories, _ = group(copies, StoryGrouping(), Path(folder))
    precision, recall = pair_scores(copies, stories)
    assert precision >= 0.99 and recall >= 0.95, (precision, recall)


def _teaser(rng: random.Random, words: int) -> list[str]:
    vocabulary = [f"w{index}" for index in range(3000)]
    return [rng.choice(vocabulary) for _ in range(words)]


def test_copies_of_a_short_teaser_share_a_band_and_pass_the_threshold() -> None:
    """From 25 words up, a copy with its own headline and one word changed is found (through a
    shared band key) and judged alike: empty bins of a short text no longer hide it."""
    rng = random.Random(4)
    found = trials = 0
    for words in range(25, 61):
        for _ in range(6):
            text = _teaser(rng, words)
            copy = list(text)
            copy[rng.randrange(words)] = "changed"
            one = fingerprint_tokens(_teaser(rng, 6) + text)
            other = fingerprint_tokens(_teaser(rng, 6) + copy)
            assert one and other
            trials += 1
            shared = not set(band_keys(one)).isdisjoint(band_keys(other))
            found += shared and similarity(one, other) >= StoryGrouping().similarity
    assert found / trials >= 0.95, found / trials


def test_densified_fingerprints_fill_every_bin_from_the_text_itself() -> None:
    print_ = fingerprint_tokens(_teaser(random.Random(2), 12))
    assert print_ is not None and EMPTY in print_
    dense = densified(print_)
    assert EMPTY not in dense and set(dense) == set(print_) - {EMPTY} and len(dense) == BINS
    assert len(band_keys(print_)) == 21


def test_one_alert_per_story_across_sources(
    cli: Cli, tmp_path: Path, site: Site, webhook: WebhookReceiver
) -> None:
    base = site.base
    site.routes["/a.xml"] = Route(
        rss([{"title": "Taiwan to deploy T-Dome", "link": f"{base}/a/1", "description": WIRE}])
    )
    site.routes["/b.xml"] = Route(
        rss(
            [
                {
                    "title": "T-Dome deployment planned",
                    "link": f"{base}/b/9?utm_source=rss",
                    "description": f"TAIPEI (Agency) - {WIRE} Copyright the agency.",
                }
            ],
            title="Second Outlet",
        )
    )
    config = monitor_config(
        tmp_path,
        fetch=LOOPBACK_FETCH,
        defaults={"full_text": "never"},
        sources=[
            {"name": "First", "url": site.url("/a.xml")},
            {"name": "Second", "url": site.url("/b.xml")},
        ],
        alerts=[{"name": "desk", "notify": [{"webhook": webhook.url}]}],
    )
    code, _, err = cli("-c", str(config), "once")
    assert code == 0, err
    [delivery] = webhook.wait_for(1)
    found = cli.json("-c", str(config), "search", '"T-Dome"', "--format", "json")
    assert len(found) == 2 and len({article["story"] for article in found}) == 1
    for article in found:
        assert [copy["source"] for copy in article["also_reported_by"]] == [
            "Second" if article["source"] == "First" else "First"
        ]
    assert delivery.payload["article"]["story"] == found[0]["story"]
    assert len(webhook.deliveries) == 1


def _two_outlets(site: Site, items_a: list[dict[str, str]], items_b: list[dict[str, str]]) -> None:
    site.routes["/a.xml"] = Route(rss(items_a))
    site.routes["/b.xml"] = Route(rss(items_b, title="Second Outlet"))


def _config(tmp_path: Path, site: Site, webhook: WebhookReceiver) -> Path:
    return monitor_config(
        tmp_path,
        fetch=LOOPBACK_FETCH,
        sources=[
            {"name": "First", "url": site.url("/a.xml")},
            {"name": "Second", "url": site.url("/b.xml")},
        ],
        alerts=[{"name": "desk", "notify": [{"webhook": webhook.url}]}],
    )


SHORT = (
    "Taiwan's defence ministry said on Tuesday it will deploy the T-Dome shield on an offshore"
    " island next year, with twelve launchers and radar linked to the air force command network."
)


def test_short_copies_with_their_own_headlines_are_one_story(
    cli: Cli, tmp_path: Path, site: Site, webhook: WebhookReceiver
) -> None:
    """A 30-word wire story in two feeds whose pages cannot be fetched (404), each under its own
    headline, one with a word changed: one story, one alert, each copy naming the other."""
    base = site.base
    _two_outlets(
        site,
        [{"title": "T-Dome to guard an island", "link": f"{base}/gone/1", "description": SHORT}],
        [
            {
                "title": "Ministry outlines island shield",
                "link": f"{base}/gone/2",
                "description": SHORT.replace("Tuesday", "Wednesday"),
            }
        ],
    )
    config = _config(tmp_path, site, webhook)
    code, _, err = cli("-c", str(config), "once")
    assert code == 0, err
    found = cli.json("-c", str(config), "search", '"T-Dome"', "--format", "json")
    assert len(found) == 2 and len({article["story"] for article in found}) == 1
    assert all(article["also_reported_by"] for article in found)
    webhook.wait_for(1)
    assert len(webhook.deliveries) == 1


DISCLAIMER = (
    " This report is published under the outlet's open licence; readers may share it with"
    " attribution. Subscribe to the morning defence briefing for analysis delivered before"
    " eight, and follow our correspondents in Taipei, Tokyo and Jerusalem."
)
TEASERS = [
    "The navy tested an Iron Dome radar off the southern port on Monday.",
    "Lawmakers asked how much the Iron Dome batteries for the capital would cost.",
    "An Iron Dome crew trained with engineers from the north for three weeks.",
    "Satellite images showed Iron Dome launchers near a mountain base.",
    "A parliamentary report faulted the Iron Dome procurement schedule as too slow.",
]


def test_a_sources_repeated_boilerplate_does_not_make_its_stories_one(
    cli: Cli, tmp_path: Path, site: Site, webhook: WebhookReceiver
) -> None:
    """Four short stories sharing a long tail of the outlet's own are four stories, on the first
    poll and on a later one (the tail is remembered); a copy elsewhere still joins its story."""
    base = site.base
    items = [
        {"title": f"Report {index}", "link": f"{base}/gone/a{index}", "description": teaser + DISCLAIMER}
        for index, teaser in enumerate(TEASERS[:3])
    ]
    copy = {"title": "Navy radar trial", "link": f"{base}/gone/b0", "description": TEASERS[0] * 3}
    _two_outlets(site, items, [copy])
    config = _config(tmp_path, site, webhook)
    code, _, err = cli("-c", str(config), "once")
    assert code == 0, err
    last = {"title": "Report 3", "link": f"{base}/gone/a3", "description": TEASERS[3] + DISCLAIMER}
    site.routes["/a.xml"] = Route(rss([last, *items]))
    code, _, err = cli("-c", str(config), "once")
    assert code == 0, err
    found = cli.json("-c", str(config), "search", "source:First", "--format", "json")
    assert len(found) == 4 and len({article["story"] for article in found}) == 4
    [elsewhere] = cli.json("-c", str(config), "search", "source:Second", "--format", "json")
    [first] = [article for article in found if article["title"] == "Report 0"]
    assert elsewhere["story"] == first["story"]
    assert len(webhook.deliveries) == 4  # `once` delivers before it exits; the copy is no new story


def test_a_feed_bringing_one_new_item_per_poll_still_teaches_its_boilerplate(
    cli: Cli, tmp_path: Path, site: Site, webhook: WebhookReceiver
) -> None:
    """An outlet's feed grows by one short item per poll, each with the outlet's long tail: the
    tail is learned from the feed's other items once three carry it, and every later item is a
    story of its own (before, only a poll with three new items taught it: five items, one story)."""
    base = site.base
    items = [
        {"title": f"Report {index}", "link": f"{base}/gone/a{index}", "description": teaser + DISCLAIMER}
        for index, teaser in enumerate(TEASERS)
    ]
    _two_outlets(site, [], [])
    config = _config(tmp_path, site, webhook)
    for count in range(1, len(items) + 1):
        site.routes["/a.xml"] = Route(rss(items[:count][::-1]))
        code, _, err = cli("-c", str(config), "once")
        assert code == 0, err
    found = cli.json("-c", str(config), "search", "source:First", "--format", "json")
    story = {article["title"]: article["story"] for article in found}
    assert len(story) == 5
    later = [story[f"Report {index}"] for index in (2, 3, 4)]
    assert len(set(later)) == 3 and not set(later) & {story["Report 0"], story["Report 1"]}


def test_a_sources_boilerplate_grows_and_does_not_forget() -> None:
    """What a later poll learns is added to what the source's boilerplate was, the newest kept
    first at the cap."""
    known = frozenset(range(10))
    assert remembered_boilerplate(known, frozenset({3, 4})) == known
    assert remembered_boilerplate(known, frozenset({100, 101})) == known | {100, 101}
    full = frozenset(range(2000, 2000 + MAX_BOILERPLATE))
    grown = remembered_boilerplate(full, frozenset({1, 2}))
    assert len(grown) == MAX_BOILERPLATE and {1, 2} <= grown
