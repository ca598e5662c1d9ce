"""Growing the source list: `monitor sources add` (feed discovery), `import` and `export`
(OPML), and a JSON Feed source end to end."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from monitor.app import build_app
from monitor.config.loading import load_settings
from monitor.config.opml import read_opml
from tests import fixtures
from tests.configs import LOOPBACK_FETCH, monitor_config
from tests.conftest import Cli
from tests.servers import Route, Site, WebhookReceiver

CONFIG = """\
# The desk's sources. Comments like this one must survive an edit.
storage:
  url: sqlite:///data/monitor.db
sources:
  # Taiwan
  - {name: Existing, url: "https://example.org/feed"}   # keep me
  - name: Block Style
    url: https://example.org/other
    every: 30m
# The rules follow.
watch:
  - {name: Iron Dome, terms: [Iron Dome]}
"""

HOMEPAGE = b"""<!DOCTYPE html><html><head><title>Desk News</title>
<link rel="alternate" type="application/rss+xml" title="Desk News RSS" href="/feed.xml">
<link rel="stylesheet" href="/style.css">
</head><body><a href="/atom.xml">Atom feed</a> <a href="/about">About</a></body></html>"""
OPML = b"""<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0"><head><title>Analyst feeds</title></head><body>
  <outline text="Asia">
    <outline text="Taiwan">
      <outline type="rss" text="Strait Notes" xmlUrl="https://strait.test/rss"/>
      <outline type="rss" text="Existing again" xmlUrl="https://EXAMPLE.org/feed?utm_source=opml"/>
    </outline>
    <outline type="rss" text="Tokyo Desk" title="Tokyo Desk" xmlUrl="https://tokyo.test/feed"/>
  </outline>
  <outline type="link" text="Ministry notices" url="https://mod.test/news/"/>
  <outline type="rss" text="Existing" xmlUrl="https://other.test/feed"/>
  <outline type="rss" text="EXISTING" xmlUrl="https://third.test/feed"/>
  <outline type="rss" text="strait notes" xmlUrl="https://strait2.test/rss"/>
</body></opml>"""


def _site(site: Site) -> None:
    site.routes["/"] = Route(HOMEPAGE, headers={"Content-Type": "text/html; charset=utf-8"})
    site.routes["/feed.xml"] = Route(fixtures.english_feed(site.base))
    site.routes["/atom.xml"] = Route(
        fixtures.atom_feed(site.base), headers={"Content-Type": "application/atom+xml"}
    )


def _config(tmp_path: Path, text: str = CONFIG) -> Path:
    path = tmp_path / "monitor.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_add_discovers_announced_and_linked_feeds_and_keeps_comments(
    cli: Cli, tmp_path: Path, site: Site
) -> None:
    _site(site)
    config = _config(tmp_path)
    code, out, err = cli("-c", str(config), "sources", "add", site.url("/"))
    assert code == 0, err
    assert f"1. {site.url('/feed.xml')}  Desk News RSS  [announced (RSS), 3 entries]" in out
    assert f"2. {site.url('/atom.xml')}" in out and "[linked," in out
    text = config.read_text(encoding="utf-8")
    for line in CONFIG.splitlines():
        assert line in text  # nothing of the original was lost or reflowed
    added = yaml.safe_load(text)["sources"][-1]
    assert added == {"name": "Desk News RSS", "url": site.url("/feed.xml")}
    assert text.index("Desk News RSS") < text.index("# The rules follow.")
    assert cli("-c", str(config), "check")[0] == 0

    code, _, err = cli("-c", str(config), "sources", "add", site.url("/"), "--pick", "2", "--name", "Kanto")
    assert code == 0, err
    assert yaml.safe_load(config.read_text(encoding="utf-8"))["sources"][-1]["url"] == site.url("/atom.xml")
    site.routes["/other.xml"] = Route(fixtures.english_feed(site.base))
    code, _, err = cli("-c", str(config), "sources", "add", site.url("/other.xml"), "--name", "Kanto")
    assert code == 2 and "already named 'Kanto'" in err
    code, _, err = cli("-c", str(config), "sources", "add", site.url("/other.xml"), "--name", "KANTO")
    assert code == 2 and "already named 'Kanto'" in err
    code, _, err = cli("-c", str(config), "sources", "add", site.url("/other.xml"), "--name", "Two\nlines")
    assert code == 2 and "--name: the name holds a line break or NUL (U+000A)" in err  # a review
    # A feed configured already (found by a review: it proposed a line the config would refuse).
    before = config.read_text(encoding="utf-8")
    code, out, err = cli("-c", str(config), "sources", "add", site.url("/"), "--print")
    assert code == 0 and err == "", err
    assert out.endswith(f"{site.url('/feed.xml')} is already configured as 'Desk News RSS': nothing added\n")
    assert "- {name:" not in out and config.read_text(encoding="utf-8") == before


def test_add_tries_common_paths_and_takes_a_feed_url_as_it_is(cli: Cli, tmp_path: Path, site: Site) -> None:
    site.routes["/plain/"] = Route(b"<html><body>No feeds announced here.</body></html>")
    site.routes["/rss.xml"] = Route(fixtures.rdf_feed(site.base))
    config = _config(tmp_path)
    code, out, _ = cli("-c", str(config), "sources", "add", site.url("/plain/"), "--print")
    assert code == 0 and f"1. {site.url('/rss.xml')}" in out and "[common path," in out
    assert "- {name: " in out and config.read_text(encoding="utf-8") == CONFIG  # --print edits nothing
    site.routes["/direct.xml"] = Route(fixtures.english_feed(site.base))
    code, out, _ = cli("-c", str(config), "sources", "add", site.url("/direct.xml"))
    assert code == 0 and "[the URL itself, 3 entries]" in out


def test_add_without_any_feed_fails_clearly(cli: Cli, tmp_path: Path) -> None:
    bare = Site()  # serves no feed at any common path
    bare.routes["/empty/"] = Route(b"<html><body>Nothing.</body></html>")
    try:
        code, _, err = cli("-c", str(_config(tmp_path)), "sources", "add", bare.url("/empty/"))
    finally:
        bare.close()
    assert code == 2 and "no feed found" in err


def test_add_names_a_linked_feed_by_its_own_title_and_says_why_feeds_were_refused(
    cli: Cli, tmp_path: Path, site: Site
) -> None:
    site.routes["/linked/"] = Route(b'<html><body><a href="/feed.xml">RSS</a></body></html>')
    site.routes["/feed.xml"] = Route(fixtures.english_feed(site.base))
    config = _config(tmp_path)
    code, out, err = cli("-c", str(config), "sources", "add", site.url("/linked/"), "--print")
    assert code == 0, err
    assert "1. " in out and "  Harbor Daily  [linked," in out

    public = Site(host="127.0.0.2")  # stands for a public page: its own address is allowed, not others
    public.routes["/"] = Route(
        f'<html><head><link rel="alternate" type="application/rss+xml" href="{site.url("/feed.xml")}">'
        "</head><body></body></html>".encode()
    )
    try:
        code, _, err = cli("-c", str(config), "sources", "add", public.url("/"))
    finally:
        public.close()
    assert code == 2
    assert "non-public addresses, which the egress gate refuses" in err and site.url("/feed.xml") in err
    assert "--allow-private" in err

    code, _, err = cli("-c", str(config), "sources", "add", "not-a-url")
    assert code == 2 and err == "monitor: 'not-a-url' is not an http(s) URL\n"


def test_an_inline_sources_list_is_not_edited_but_printed(cli: Cli, tmp_path: Path, site: Site) -> None:
    _site(site)
    original = "sources: []  # fill me\n"
    config = _config(tmp_path, original)
    code, out, err = cli("-c", str(config), "sources", "add", site.url("/feed.xml"))
    assert code == 0 and "not edited in place" in err
    assert "  - {name: Harbor Daily, url: '" + site.url("/feed.xml") + "'}" in out
    assert config.read_text(encoding="utf-8") == original


def test_import_opml_with_nested_outlines(cli: Cli, tmp_path: Path) -> None:
    config = _config(tmp_path)
    (tmp_path / "feeds.opml").write_bytes(OPML)
    code, out, err = cli("-c", str(config), "sources", "import", str(tmp_path / "feeds.opml"))
    assert code == 0, err
    assert "7 outlines with a URL" in out and "6 new, 1 already configured, 0 refused" in out
    text = config.read_text(encoding="utf-8")
    sources = yaml.safe_load(text)["sources"]
    assert [(s["name"], s.get("kind", "feed")) for s in sources[2:]] == [
        ("Strait Notes", "feed"),
        ("Tokyo Desk", "feed"),
        ("Ministry notices", "html"),
        ("Existing (2)", "feed"),
        ("EXISTING (3)", "feed"),  # names are unique ignoring case, as the config wants them
        ("strait notes (2)", "feed"),
    ]
    assert "# OPML folder: Asia / Taiwan" in text and "# keep me" in text
    assert cli("-c", str(config), "check")[0] == 0


def test_an_imported_title_or_address_never_reads_the_environment(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A shared OPML file (or a feed's title, with `sources add`) chose these words, not the user.
    monkeypatch.setenv("MONITOR_TOKEN", "secret-token")
    config = _config(tmp_path)
    opml = OPML.replace(b'text="Tokyo Desk" title="Tokyo Desk"', b'text="Desk ${MONITOR_TOKEN}"')
    opml = opml.replace(b"https://tokyo.test/feed", b"https://tokyo.test/feed?k=${MONITOR_TOKEN}")
    (tmp_path / "feeds.opml").write_bytes(opml)
    code, _, err = cli("-c", str(config), "sources", "import", str(tmp_path / "feeds.opml"))
    assert code == 0, err
    listed = {
        source["name"]: source["url"] for source in cli.json("-c", str(config), "sources", "--format", "json")
    }
    assert listed["Desk ${MONITOR_TOKEN}"] == "https://tokyo.test/feed?k=${MONITOR_TOKEN}"
    assert "secret-token" not in str(listed) and "$${MONITOR_TOKEN}" in config.read_text(encoding="utf-8")


def test_export_is_opml_that_reads_back(cli: Cli, tmp_path: Path) -> None:
    config = _config(tmp_path)
    code, out, _ = cli("-c", str(config), "sources", "export")
    assert code == 0 and out.startswith("<?xml") and 'version="2.0"' in out
    assert [(s.name, s.url) for s in read_opml(out.encode())] == [
        ("Existing", "https://example.org/feed"),
        ("Block Style", "https://example.org/other"),
    ]
    code, out, _ = cli("-c", str(config), "sources", "export", "-o", str(tmp_path / "out.opml"))
    assert code == 0 and len(read_opml((tmp_path / "out.opml").read_bytes())) == 2


def test_a_json_feed_source_end_to_end(
    cli: Cli, tmp_path: Path, site: Site, webhook: WebhookReceiver
) -> None:
    site.routes["/feed.json"] = Route(
        fixtures.json_feed(site.base), headers={"Content-Type": "application/feed+json"}
    )
    config = monitor_config(
        tmp_path,
        fetch=LOOPBACK_FETCH,
        defaults={"full_text": "never"},
        sources=[{"name": "Strait Notes", "url": site.url("/feed.json")}],
        alerts=[{"name": "desk", "notify": [{"webhook": webhook.url}]}],
    )
    code, out, err = cli("-c", str(config), "once")
    assert code == 0 and "3 new articles" in out, (out, err)
    titles = sorted(d.payload["article"]["title"] for d in webhook.wait_for(2))
    assert titles == ["", "T-Dome budget passes"]  # the second: 鐵穹 in a title-less item


def test_a_sitemap_source_from_robots_txt_through_an_index(
    cli: Cli, tmp_path: Path, site: Site, webhook: WebhookReceiver
) -> None:
    fresh = datetime.now(UTC).isoformat(timespec="seconds")
    stale = (datetime.now(UTC) - timedelta(days=10)).isoformat(timespec="seconds")
    site.routes["/robots.txt"] = Route(
        f"User-agent: *\nAllow: /\nSitemap: {site.url('/sitemap-index.xml')}\n".encode(),
        headers={"Content-Type": "text/plain"},
    )
    site.routes["/sitemap-index.xml"] = Route(
        f"""<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
        <sitemap><loc>{site.url("/news-sitemap.xml")}</loc><lastmod>{fresh}</lastmod></sitemap>
        </sitemapindex>""".encode()
    )
    site.routes["/news-sitemap.xml"] = Route(
        f"""<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
        xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">
        <url><loc>{site.url("/articles/shield.html")}</loc><news:news>
          <news:publication><news:name>Ministry</news:name><news:language>en</news:language></news:publication>
          <news:publication_date>{fresh}</news:publication_date><news:title>Shield plan</news:title>
        </news:news></url>
        <url><loc>{site.url("/articles/old.html")}</loc><lastmod>{stale}</lastmod></url>
        </urlset>""".encode()
    )
    config = monitor_config(
        tmp_path,
        fetch=LOOPBACK_FETCH,
        sources=[{"name": "Ministry", "url": site.url("/robots.txt"), "kind": "sitemap", "robots": False}],
        alerts=[{"name": "desk", "notify": [{"webhook": webhook.url}]}],
    )
    code, out, err = cli("-c", str(config), "once")
    assert code == 0 and "1 new article" in out, (out, err)
    [delivery] = webhook.wait_for(1)
    assert delivery.payload["article"]["title"] == "Shield plan"
    assert "Taiwan Shield" in delivery.payload["rules"]  # the terms are on the page only
    assert site.hits("/articles/old.html") == 0


def _opml(prefix: str, count: int) -> bytes:
    outlines = "".join(
        f'<outline type="rss" text="{prefix} {n}" xmlUrl="https://{prefix}.example/{n}/rss"/>'
        for n in range(count)
    )
    return f'<?xml version="1.0"?><opml version="2.0"><body>{outlines}</body></opml>'.encode()


@pytest.mark.slow
def test_concurrent_imports_keep_every_source_and_clean_up_after_a_killed_one(tmp_path: Path) -> None:
    config = _config(tmp_path)
    stale = tmp_path / f".{config.name}.abc123.tmp"  # left by an import that was killed
    stale.write_text("half a config")
    imports = []
    for prefix in ("north", "south"):
        (tmp_path / f"{prefix}.opml").write_bytes(_opml(prefix, 1500))
        command = ["-m", "monitor", "-c", str(config), "sources", "import", str(tmp_path / f"{prefix}.opml")]
        imports.append(subprocess.Popen([sys.executable, *command], stdout=subprocess.PIPE, text=True))
    for process in imports:
        out, _ = process.communicate(timeout=120)
        assert process.returncode == 0 and "1500 new" in out, out
    sources = yaml.safe_load(config.read_text(encoding="utf-8"))["sources"]
    assert len(sources) == 2 + 3000
    assert not stale.exists()
    assert not list(tmp_path.glob(f".{config.name}.*.tmp"))


def test_import_through_a_symlinked_config_edits_the_file_it_points_at(cli: Cli, tmp_path: Path) -> None:
    real = _config(tmp_path)
    link = tmp_path / "link.yaml"
    link.symlink_to(real)
    (tmp_path / "north.opml").write_bytes(_opml("north", 3))
    code, _, err = cli("-c", str(link), "sources", "import", str(tmp_path / "north.opml"))
    assert code == 0, err
    assert link.is_symlink()
    assert len(yaml.safe_load(real.read_text(encoding="utf-8"))["sources"]) == 2 + 3


def test_import_takes_the_good_outlines_and_names_each_refused_one(cli: Cli, tmp_path: Path) -> None:
    config = _config(tmp_path)
    ministry = b'<outline type="link" text="Ministry notices"'
    trap = b'<outline type="rss" text="Trap" xmlUrl="javascript:alert(1)"/>\n  '
    opml = OPML.replace(ministry, trap + ministry)
    (tmp_path / "feeds.opml").write_bytes(opml)
    code, out, err = cli("-c", str(config), "sources", "import", str(tmp_path / "feeds.opml"))
    assert code == 2
    assert "8 outlines with a URL" in out and "6 new, 1 already configured, 1 refused" in out
    assert "'Trap' (javascript:alert(1)): 'javascript:alert(1)' is not an http(s) URL" in err
    names = [source["name"] for source in yaml.safe_load(config.read_text(encoding="utf-8"))["sources"]]
    assert "Strait Notes" in names and "Trap" not in names
    assert cli("-c", str(config), "check")[0] == 0


def test_export_to_a_path_that_cannot_be_written_is_one_clear_line(cli: Cli, tmp_path: Path) -> None:
    config = _config(tmp_path)
    # Under a file, not a folder: no one, root included, can make it (a review's run as root had
    # made /nonexistent).
    (tmp_path / "a-file").write_text("x", encoding="utf-8")
    target = tmp_path / "a-file" / "x.opml"
    code, _, err = cli("-c", str(config), "sources", "export", "-o", str(target))
    assert code == 2
    assert err == f"monitor: cannot write {target}: Not a directory\n"


def test_a_source_added_after_the_last_poll_is_listed_as_new(cli: Cli, tmp_path: Path) -> None:
    config = _config(tmp_path)
    (tmp_path / "feeds.opml").write_bytes(OPML)
    code, out, _ = cli("-c", str(config), "sources", "import", str(tmp_path / "feeds.opml"))
    assert code == 0 and "restart it (monitor run) to poll them" in out
    listed = cli.json("-c", str(config), "sources", "--format", "json")
    assert [source["name"] for source in listed][:3] == ["Existing", "Block Style", "Strait Notes"]
    assert {source["status"] for source in listed} == {"new: not polled yet"}


def test_the_feed_text_counts_when_the_page_replaces_it(cli: Cli, tmp_path: Path, site: Site) -> None:
    feed = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "Desk",
        "items": [
            {
                "id": "1",
                "url": site.url("/articles/english.html"),
                "title": "Delegation visit",
                "content_text": "המשלחת ביקרה בסוללת כיפת ברזל בדרום.",  # the term is here only
            }
        ],
    }
    site.routes["/feed.json"] = Route(
        json.dumps(feed).encode(), headers={"Content-Type": "application/feed+json"}
    )
    site.routes["/articles/english.html"] = Route(
        fixtures.article_page("Engineers met the visiting delegation at the southern base."),
        headers={"Content-Type": "text/html"},
    )
    config = monitor_config(
        tmp_path,
        storage="sqlite:///m.db",
        watch=[{"name": "Iron Dome", "terms": ["כיפת ברזל"]}],
        fetch={"host_gap": "0s"},
        sources=[{"name": "Desk", "url": site.url("/feed.json"), "robots": False}],
    )
    code, out, err = cli("-c", str(config), "once")
    assert code == 0 and site.hits("/articles/english.html") == 1, (out, err)
    [found] = cli.json("-c", str(config), "search", "כיפת ברזל", "--format", "json")
    assert found["rules"] == ["Iron Dome"]  # matched through the feed's text
    [by_page] = cli.json("-c", str(config), "search", "Engineers", "--format", "json")
    assert by_page["id"] == found["id"]  # and the page's text is the article's text


HTML = {"Content-Type": "text/html; charset=utf-8"}


def _page_declaring(kind: str, title: str) -> bytes:
    return (
        f'<html><head><title>{title}</title><script type="application/ld+json">{{"@context": '
        f'"https://schema.org", "@type": "{kind}", "name": "{title}"}}</script></head><body><article>'
        f"<h1>{title}</h1><p>{'The Iron Dome battery near the coast was inspected by engineers. ' * 12}</p>"
        "</article></body></html>"
    ).encode()


def test_a_listing_link_whose_page_says_it_is_a_list_is_not_stored(
    cli: Cli, tmp_path: Path, site: Site
) -> None:
    """Without selectors an html source guesses articles from their links; a slug-like link whose
    page declares itself a collection (JSON-LD CollectionPage) is a section front: not stored."""
    site.routes["/front"] = Route(
        b'<html><body><main><a href="/world/iron-dome-batteries-explained-in-depth">Iron Dome batteries'
        b' explained in depth</a> <a href="/world/iron-dome-coverage-from-our-desk">Iron Dome coverage'
        b" from our desk</a></main></body></html>",
        headers=HTML,
    )
    site.routes["/world/iron-dome-batteries-explained-in-depth"] = Route(
        _page_declaring("NewsArticle", "Iron Dome batteries explained"), headers=HTML
    )
    site.routes["/world/iron-dome-coverage-from-our-desk"] = Route(
        _page_declaring("CollectionPage", "Iron Dome coverage"), headers=HTML
    )
    config = monitor_config(
        tmp_path,
        fetch=LOOPBACK_FETCH,
        sources=[{"name": "Front", "url": site.url("/front"), "kind": "html", "robots": False}],
    )
    code, _, err = cli("-c", str(config), "once")
    assert code == 0, err
    found = cli.json("-c", str(config), "search", "dome", "--format", "json")
    article_url = site.url("/world/iron-dome-batteries-explained-in-depth")
    assert [article["url"] for article in found] == [article_url]


def test_a_link_found_to_be_a_list_is_not_fetched_again(tmp_path: Path, site: Site) -> None:
    """The daemon remembers the links whose pages said they are lists: the next poll of the
    listing does not fetch them again."""
    front = (
        b'<html><body><main><a href="/world/iron-dome-coverage-from-our-desk">Iron Dome coverage'
        b" from our desk</a></main></body></html>"
    )
    site.routes["/front"] = Route(front, headers=HTML)
    site.routes["/world/iron-dome-coverage-from-our-desk"] = Route(
        _page_declaring("CollectionPage", "Iron Dome coverage"), headers=HTML
    )
    config = monitor_config(
        tmp_path,
        storage="sqlite:///monitor.db",
        fetch=LOOPBACK_FETCH,
        sources=[{"name": "Front", "url": site.url("/front"), "kind": "html", "robots": False}],
    )
    app = build_app(load_settings(config))

    async def two_polls() -> None:
        try:
            await app.poll()
            site.routes["/front"] = Route(front.replace(b"</main>", b"<p>Updated.</p></main>"), headers=HTML)
            await app.poll()
        finally:
            await app.aclose()

    asyncio.run(two_polls())
    assert site.hits("/front") == 2
    assert site.hits("/world/iron-dome-coverage-from-our-desk") == 1


def test_sources_sharing_one_article_count_it_once(cli: Cli, tmp_path: Path, site: Site) -> None:
    """Three feeds carrying one article (one URL): one new article, one matched, in the pass
    summary as in the archive (each poll counted it as its own match)."""
    item = {
        "title": "Iron Dome battery inspected",
        "link": f"{site.base}/gone/shared",
        "description": "Iron Dome",
    }
    for name in ("a", "b", "c"):
        site.routes[f"/{name}.xml"] = Route(fixtures.rss([item]))
    config = monitor_config(
        tmp_path,
        storage="sqlite:///monitor.db",
        fetch=LOOPBACK_FETCH,
        sources=[{"name": name, "url": site.url(f"/{name}.xml")} for name in ("a", "b", "c")],
    )
    code, out, err = cli("-c", str(config), "once")
    assert code == 0 and "3 entries, 1 new article, 0 updated, 1 matched" in out, (out, err)
