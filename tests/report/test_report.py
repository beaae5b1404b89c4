"""The report's contents, escaping, caps and behaviour when upstream stages did not run."""

from __future__ import annotations

import json
import re
from html import escape as esc
from html.parser import HTMLParser
from pathlib import Path

import polars as pl
import pytest

from cibwatch import schema
from cibwatch.cli.main import main
from cibwatch.report import Limits, collect, render
from cibwatch.report.charts import network
from cibwatch.report.data import HOW_TO, _details_texts
from cibwatch.report.page import script_json
from cibwatch.store.case import Case
from tests.report.conftest import EVIL, build_case


class Elements(HTMLParser):
    """Every start tag with its attributes, and the text of the chart JSON block."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.charts_json = ""
        self._in_charts = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_charts = dict(attrs).get("id") == "cibwatch-charts"

    def handle_endtag(self, tag: str) -> None:
        self._in_charts = False

    def handle_data(self, data: str) -> None:
        if self._in_charts:
            self.charts_json += data


def parse(html: str) -> Elements:
    parser = Elements()
    parser.feed(html)
    return parser


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The full case's report, rendered once for the tests that only read it."""
    root = tmp_path_factory.mktemp("report")
    with build_case(root / "case") as case:
        return render(case, root / "out" / "report.html")


def test_overview_counts_every_table(full_case: Case) -> None:
    o = collect(full_case).overview
    assert (o.posts, o.authors, o.accounts, o.quarantined) == (54, 12, 12, 1)
    assert o.datasets == [("fixture", 54, 12)]
    assert (o.bot_scored, o.bots, o.coordinated, o.clusters, o.campaigns) == (12, 6, 6, 1, 1)
    assert o.tiers == {"none": 6, "monitor": 1, "review": 3, "enforce-eligible": 2}


def test_untrusted_text_is_escaped_everywhere(report: Path) -> None:
    html = report.read_text()
    assert EVIL not in html
    assert "&lt;script&gt;alert(&#x27;pwned&#x27;)&lt;/script&gt;" in html  # shown, as text
    page = parse(html)
    scripts = [attrs for tag, attrs in page.tags if tag == "script"]
    # The hook, plotly.js, the chart data and the app: nothing the data could have added.
    assert len(scripts) == 4
    assert [a.get("type") for a in scripts].count("application/json") == 1
    # Inside the chart data, hover labels are escaped for plotly and '<' never appears raw.
    assert "<" not in page.charts_json
    specs = json.loads(page.charts_json)
    labels = [t for spec in specs.values() for trace in spec["data"] for t in trace.get("text", [])]
    assert any("c1_&lt;script&gt;" in label for label in labels)


def test_script_json_cannot_end_its_script_element() -> None:
    text = script_json({"name": "</script><script>alert(1)</script><!--", "amp": "&"})
    assert "</" not in text and "<!--" not in text and "&" not in text
    assert json.loads(text) == {"name": "</script><script>alert(1)</script><!--", "amp": "&"}


def test_page_only_references_its_own_files(report: Path) -> None:
    page = parse(report.read_text())
    refs = [attrs[key] for tag, attrs in page.tags for key in ("src", "href") if attrs.get(key)]
    assert refs, "the page should reference plotly.js and its figures"
    for ref in refs:
        assert ref is not None
        if ref.startswith("#"):
            continue
        assert not re.match(r"^[a-z][a-z0-9+.-]*:|^//", ref, re.I), f"{ref} is not a relative file"
        assert (report.parent / ref).is_file(), f"{ref} does not exist beside the report"
    csp = next(
        a["content"] for t, a in page.tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy"
    )
    assert (
        "default-src 'self'" in csp
        and "connect-src 'none'" in csp
        and "unsafe-inline" not in csp.split(";")[1]
    )


def test_campaign_card_shows_members_narratives_and_evidence(report: Path) -> None:
    html = report.read_text()
    assert "campaign camp-k1" in html and "suspicion 0.82" in html
    assert "core / amplifier / peripheral" in html and "2 / 3 / 1" in html
    assert "<code>stopit</code>" in html and "<code>evil.example</code>" in html
    assert "coordination=0.95×0.30; bots=0.90×0.20" in html
    # Expected vs observed, with the partners, the items, the times and the gaps.
    assert "c1 ↔ c2 · co_repost · observed 5 shared items vs 0.02 expected by chance · q = 2.0e-08" in html
    assert "<td><code>src-0</code></td><td>rt-c1-0</td><td>2016-10-01 12:00:00 UTC</td>" in html
    assert "2016-10-01 12:00:03 UTC" in html and '<td class="num">3 s</td>' in html
    # No link is ever made from the data; account rows link to their campaign's card in the page.
    assert 'href="http://evil.example' not in html
    assert '<article class="card" id="card-01-camp-k1">' in html
    assert '<td><a href="#card-01-camp-k1">camp-k1</a></td>' in html


def test_campaign_texts_come_from_the_campaign_record() -> None:
    details = json.dumps({"narratives": {"texts": [{"text": "same words", "accounts": 4, "posts": 9}]}})
    assert _details_texts(details) == [("same words", 4)]
    assert _details_texts("not json") == []
    assert _details_texts(json.dumps({"narratives": {"texts": "oops"}})) == []
    assert _details_texts(None) == []


def test_report_reads_parquet_only_and_never_opens_the_case_database(tmp_path: Path) -> None:
    # The web app or a review session may hold the DuckDB file's lock; the report must not need it.
    with build_case(tmp_path / "case") as case:
        render(case, tmp_path / "report.html", figures=False)
        assert not case.db_path.exists()


def test_accounts_no_stage_named_get_their_profile_screen_name(tmp_path: Path) -> None:
    with build_case(tmp_path / "case", bots=False, campaigns=False) as case:
        unnamed = case.read("coord_accounts").with_columns(pl.lit(None, dtype=pl.String).alias("screen_name"))
        case.replace_table("coord_accounts", unnamed.to_arrow().cast(schema.COORD_ACCOUNTS))
        names = {r.account_id: r.screen_name for r in collect(case).accounts}
    assert names["c1"] == f"c1_{EVIL}" and names["h3"] == "user_h3"


def test_accounts_are_ordered_by_tier_then_score(full_case: Case) -> None:
    rows = collect(full_case).accounts
    assert [r.account_id for r in rows[:2]] == ["c1", "c2"]
    assert [r.tier for r in rows[:6]] == ["enforce-eligible"] * 2 + ["review"] * 3 + ["monitor"]
    assert rows[0].reasons == "coordinated reposting with 5 partners; bot score 0.95"
    assert {r.tier for r in rows[6:]} == {"none"}


def test_large_cases_are_capped_with_a_note(full_case: Case, tmp_path: Path) -> None:
    limits = Limits(accounts=3, members_listed=2, evidence_edges=2, evidence_rows=2)
    data = collect(full_case, limits)
    assert len(data.accounts) == 3 and data.n_accounts == 12
    assert len(data.evidence) == 2 and data.n_edges == 15
    assert all(len(e.rows) == 2 and e.n_rows == 5 for e in data.evidence)
    html = render(full_case, tmp_path / "report.html", limits=limits, figures=False).read_text()
    assert "Showing the top 3 of 12 scored accounts" in html
    assert "Showing the 2 strongest of 6 members." in html
    assert "The 2 most significant of 15 account pairs" in html
    assert "The 2 closest in time of 5 co-actions." in html
    accounts_table = html[html.index('<table class="sortable accounts">') :]
    accounts_table = accounts_table[: accounts_table.index("</table>")]
    assert accounts_table.count("<tr><td>") == 3


@pytest.mark.parametrize(
    ("stages", "missing", "cards_title"),
    [
        (
            {"bots": False, "coord": False, "campaigns": False},
            ["bot_scores", "coord", "campaigns"],
            "Campaigns",
        ),
        ({"campaigns": False}, ["campaigns"], "Coordination clusters"),
        ({"bots": False}, ["bot_scores"], "Campaigns"),
    ],
)
def test_missing_stages_say_how_to_produce_them(
    tmp_path: Path, stages: dict[str, bool], missing: list[str], cards_title: str
) -> None:
    with build_case(tmp_path / "case", **stages) as case:
        data = collect(case)
        html = render(case, tmp_path / "report.html", figures=False).read_text()
    assert sorted(data.absent) == sorted(missing)
    for key in missing:
        assert esc(HOW_TO[key].format(case=tmp_path / "case")) in html
    assert f"<h2>{cards_title}</h2>" in html
    if cards_title == "Coordination clusters":
        assert "cluster k1" in html and "Vote NO &lt;script&gt;" in html  # texts found from the posts
    if "bot_scores" in missing:
        assert "accounts scored for bots</div>" in html and ">not run<" in html


def test_an_empty_case_renders(tmp_path: Path) -> None:
    with Case.create(tmp_path / "case") as case:
        out = render(case, tmp_path / "report.html")
    html = out.read_text()
    assert esc(f"cibwatch ingest FILES --case {tmp_path / 'case'}") in html
    assert "Posts span no posts" in html
    assert list((tmp_path / "report_files").glob("*.png")) == []


def test_network_layout_is_deterministic(full_case: Case) -> None:
    card = collect(full_case).cards[0]
    first = network(card, max_nodes=150)
    card.edges.reverse()  # input order must not matter
    again = network(card, max_nodes=150)
    assert first.xy == again.xy and first.links == again.links
    assert len(first.xy) == 6 and len(first.links) == 15
    assert all(-1.0 <= x <= 1.0 and -1.0 <= y <= 1.0 for x, y in first.xy)
    assert len(set(first.xy)) == 6  # no two members drawn on top of each other
    capped = network(card, max_nodes=4)
    assert len(capped.nodes) == 4 and capped.n_hidden == 2 and len(capped.links) == 6
    thin = network(card, max_nodes=150, max_links=5)
    assert thin.xy == first.xy  # the layout still uses every link
    assert len(thin.links) == 5 and thin.n_links == 15


def test_rendering_twice_gives_the_same_charts(full_case: Case, tmp_path: Path) -> None:
    a = parse(render(full_case, tmp_path / "a.html", figures=False).read_text()).charts_json
    b = parse(render(full_case, tmp_path / "b.html", figures=False).read_text()).charts_json
    assert a == b
    assert len(json.loads(a)) == 4  # two histograms, one network, one timeline


def test_png_figures_are_written_and_stale_ones_removed(tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    with build_case(tmp_path / "case") as case:
        render(case, out)
    files = tmp_path / "report_files"
    names = sorted(p.name for p in files.glob("*.png"))
    assert names == [
        "bot_score_histogram.png",
        "campaign-01-camp-k1-network.png",
        "campaign-01-camp-k1-timeline.png",
        "coordination_score_histogram.png",
    ]
    for name in names:
        assert (files / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with build_case(tmp_path / "bare", bots=False, coord=False, campaigns=False) as bare:
        render(bare, out)
    assert list(files.glob("*.png")) == []


def test_inline_js_puts_plotly_in_the_page(full_case: Case, tmp_path: Path) -> None:
    out = render(full_case, tmp_path / "report.html", inline_js=True, figures=False)
    assert not (tmp_path / "report_files" / "plotly.min.js").exists()
    page = parse(out.read_text())
    assert not [a for t, a in page.tags if t == "script" and a.get("src")]
    assert out.stat().st_size > 3_000_000


def test_cli_writes_the_report(full_case: Case, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cli" / "r.html"
    main(["report", "--case", str(full_case.root), "--out", str(out), "--top", "5", "--no-figures", "-q"])
    printed = "".join(capsys.readouterr().out.split())  # rich wraps long lines
    assert f"Wrote{out}" in printed
    html = out.read_text()
    assert "Showing the top 5 of 12 scored accounts" in html
    assert "Not written this time (figures were turned off)." in html
    assert (tmp_path / "cli" / "r_files" / "plotly.min.js").is_file()
    assert list((tmp_path / "cli" / "r_files").glob("*.png")) == []


def test_cli_fails_clearly_without_a_case(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["report", "--case", str(tmp_path / "nowhere")])
    assert exit_info.value.code == 1
    assert "is not a cibwatch case" in " ".join(capsys.readouterr().err.split())
