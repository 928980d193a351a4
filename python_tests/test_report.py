"""``segments report``: the HTML page renders every chart in headless Chromium, offline, and
its figures match the published file.

Chromium (Debian's ``chromium`` package; .ci/run installs it) runs the page's scripts
(``--dump-dom`` after a virtual time budget), and the test reads the page's own account of
itself (segments.report_html): the number of charts it declares, each chart's rendered
flag and SVG, and the errors its hooks recorded; any console message Chromium logged fails
the test too. A screenshot of the whole page goes to test-artifacts/ (kept by CI).
"""

from __future__ import annotations

import json
import math
import re
import shutil
import statistics
import subprocess
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import duckdb
import pytest

from dbt_runner import PROJECT_ROOT, run_segments

ARTIFACTS = PROJECT_ROOT / "test-artifacts"
WINDOW_WIDTH = 1400
EXTERNAL_REFERENCE = re.compile(r"""\b(src|href|action|srcset)\s*=\s*["']?\s*(https?:)?//""", re.IGNORECASE)
CONSOLE_LINE = re.compile(r":CONSOLE[:(\]]")


# --- Chromium ------------------------------------------------------------------------------


def chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        pytest.fail(
            "chromium is not installed: the report test needs Debian's chromium package "
            "(apt-get install --no-install-recommends chromium; .ci/run installs it)"
        )
    return path


def run_chromium(arguments: list[str], profile: Path) -> subprocess.CompletedProcess[str]:
    command = [
        chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        *arguments,
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{result.stderr[-3000:]}"
    return result


@dataclass
class ChartNode:
    """One chart container of the rendered page."""

    name: str
    rendered: str | None
    svgs: int = 0
    svg_elements: int = 0  # elements inside its SVGs (axes, marks, labels)
    svg_sizes: list[tuple[float, float]] = field(default_factory=list)


class RenderedPage(HTMLParser):
    """What the DOM after the scripts ran says: the body's attributes, each chart, the errors."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.body: dict[str, str | None] = {}
        self.charts: list[ChartNode] = []
        self.errors: list[str] = []  # the items of <ol id="report-errors">
        self.stack: list[tuple[str, ChartNode | None, bool]] = []  # tag, its chart, inside an svg
        self.in_errors = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        chart, in_svg = (self.stack[-1][1], self.stack[-1][2]) if self.stack else (None, False)
        if tag == "body":
            self.body = attributes
        elif tag == "ol" and attributes.get("id") == "report-errors":
            self.in_errors = True
        elif tag == "li" and self.in_errors:
            self.errors.append("")
        elif tag == "div" and "chart" in (attributes.get("class") or "").split():
            chart = ChartNode(str(attributes.get("data-chart-name")), attributes.get("data-rendered"))
            self.charts.append(chart)
        if chart is not None and in_svg:
            chart.svg_elements += 1
        elif chart is not None and tag == "svg":
            chart.svgs += 1
            chart.svg_sizes.append((float(attributes.get("width") or 0), float(attributes.get("height") or 0)))
            in_svg = True
        if tag not in VOID_ELEMENTS:
            self.stack.append((tag, chart, in_svg))

    def handle_endtag(self, tag: str) -> None:
        if tag == "ol":
            self.in_errors = False
        while self.stack and self.stack.pop()[0] != tag:
            pass

    def handle_data(self, data: str) -> None:
        if self.in_errors and self.errors:
            self.errors[-1] += data


VOID_ELEMENTS = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


@dataclass(frozen=True)
class BrowserResult:
    page: RenderedPage
    dom: str
    console: list[str]


def open_in_chromium(report: Path, tmp_path: Path, screenshot: Path) -> BrowserResult:
    """Run the page's scripts in headless Chromium, then screenshot the whole page."""
    uri = report.resolve().as_uri()
    dumped = run_chromium(
        [
            "--enable-logging=stderr",
            "--v=0",
            f"--window-size={WINDOW_WIDTH},1000",
            "--virtual-time-budget=60000",
            "--dump-dom",
            uri,
        ],
        tmp_path / "chromium-dom",
    )
    page = RenderedPage()
    page.feed(dumped.stdout)
    console = [line for line in dumped.stderr.splitlines() if CONSOLE_LINE.search(line)]
    height = int(page.body.get("data-page-height") or 4000)
    screenshot.parent.mkdir(parents=True, exist_ok=True)
    run_chromium(
        ["--virtual-time-budget=60000", f"--window-size={WINDOW_WIDTH},{height}", f"--screenshot={screenshot}", uri],
        tmp_path / "chromium-screenshot",
    )
    assert screenshot.stat().st_size > 50_000, "the screenshot is (nearly) blank"
    return BrowserResult(page, dumped.stdout, console)


def assert_every_chart_rendered(result: BrowserResult) -> None:
    page = result.page
    assert page.body.get("data-report-state") == "done", "the page's scripts did not finish"
    assert page.errors == [], f"script errors in the page: {page.errors}"
    assert result.console == [], "Chromium logged console messages:\n" + "\n".join(result.console)
    declared = int(page.body.get("data-charts") or -1)
    assert declared == len(page.charts) > 0
    not_drawn = [
        chart.name
        for chart in page.charts
        if chart.rendered != "true"
        or chart.svgs != 1
        or chart.svg_elements < 10
        or not all(width > 0 and height > 0 for width, height in chart.svg_sizes)
    ]
    assert not_drawn == [], f"charts not rendered: {not_drawn}"


def assert_offline(html: str, dom: str) -> None:
    for text in (html, dom):
        assert EXTERNAL_REFERENCE.search(text) is None, EXTERNAL_REFERENCE.search(text)
    assert "<link" not in html and "@import" not in html and "url(http" not in html
    assert "Content-Security-Policy" in html and "connect-src 'none'" in html


# --- the page's data -------------------------------------------------------------------------


def chart_specs(html: str) -> dict[str, dict[str, Any]]:
    """Each chart's Vega-Lite spec, by the chart's name."""
    specs = {
        spec_id: json.loads(text)
        for spec_id, text in re.findall(r'<script type="application/json" id="([^"]+)">(.*?)</script>', html, re.S)
    }
    return {
        name: specs[spec_id] for name, spec_id in re.findall(r'data-chart-name="([^"]+)" data-spec="([^"]+)"', html)
    }


def chart_values(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """The inline data of a chart: its top-level data, inline or named in its datasets
    (altair names the data sets of the specs it writes)."""
    data = spec.get("data", {})
    if "values" in data:
        return list(data["values"])
    return list(spec.get("datasets", {}).get(data.get("name"), []))


def one(connection: duckdb.DuckDBPyConnection, sql: str, parameters: list[object] | None = None) -> tuple[Any, ...]:
    row = connection.execute(sql, parameters or []).fetchone()
    assert row is not None
    return tuple(row)


def render(published: Path, out: Path) -> str:
    result = run_segments(["report", "--published", str(published), "--out", str(out)])
    assert result.returncode == 0, result.stderr
    assert f"to {out}" in result.stdout and result.stderr == ""
    return out.read_text(encoding="utf-8")


# --- fixtures --------------------------------------------------------------------------------


def add_an_earlier_date(published: Path) -> tuple[str, str]:
    """Give a copy of the published file a second, earlier as-of date 31 days before its
    own: the same memberships, except that a tenth of the customers are not there yet, a
    quarter of the rest were in their family's first segment, and three customers since
    gone were there; segment_sizes and segment_drift get the date too and the shares moved."""
    with duckdb.connect(str(published)) as connection:
        later = connection.execute("select max(as_of_date) from marts.segment_memberships").fetchone()
        assert later is not None
        earlier = later[0] - timedelta(days=31)
        connection.execute(
            """
            insert into marts.segment_memberships (as_of_date, customer_key, segment_family, segment_name)
            select ?, customer_key, segment_family,
                case when hash(customer_key) % 4 = 0
                    then min(segment_name) over (partition by segment_family) else segment_name end
            from marts.segment_memberships
            where hash(customer_key) % 10 != 0
            union all
            select ?, 'gone-' || n, segment_family, min(segment_name)
            from marts.segment_memberships, range(3) as gone (n)
            where segment_family in ('rfm', 'lifecycle')
            group by all
            """,
            [earlier, earlier],
        )
        connection.execute(
            """
            insert into marts.segment_sizes (as_of_date, segment_family, segment_name, customers, share, average_monetary)
            select as_of_date, segment_family, segment_name, count(*),
                count(*) / (select count(distinct customer_key) from marts.segment_memberships where as_of_date = ?),
                null
            from marts.segment_memberships where as_of_date = ?
            group by all
            """,
            [earlier, earlier],
        )
        connection.execute(
            "insert into marts.segment_drift select * replace (?::date as as_of_date) from marts.segment_drift",
            [earlier],
        )
        connection.execute(
            """
            update marts.segment_drift as d set previous_as_of_date = ?, previous_share = coalesce((
                select s.share from marts.segment_sizes as s
                where s.as_of_date = ? and s.segment_family = d.segment_family and s.segment_name = d.segment_name
            ), 0)
            where as_of_date = ?
            """,
            [earlier, earlier, later[0]],
        )
        connection.execute(
            """
            update marts.segment_drift set
                share_change_points = (share - previous_share) * 100,
                drift_status = case when abs(share - previous_share) > 0.05 then 'warn' else 'ok' end,
                is_moved = abs(share - previous_share) > 0.05
            where as_of_date = ?
            """,
            [later[0]],
        )
    return earlier.isoformat(), later[0].isoformat()


# --- the tests -------------------------------------------------------------------------------


def test_report_renders_every_chart_in_chromium(published_sample: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    html = render(published_sample, out)
    result = open_in_chromium(out, tmp_path, ARTIFACTS / "report.png")
    assert_every_chart_rendered(result)
    assert_offline(html, result.dom)
    names = {chart.name for chart in result.page.charts}
    assert {"rfm-grid", "drift-status", "clusters", "churn-clv", "distribution-monetary"} <= names
    assert {
        f"sizes-{family}" for family in ("rfm", "lifecycle", "behavioural", "clv_band", "churn_risk", "cluster")
    } <= names
    # one as-of date in the sample: the sections that need two say so instead of failing
    assert "transitions need two" in html and "no earlier date to compare with" in html
    assert "marts.segment_lift is empty" in html  # no complete period after an export in the sample
    assert len(html.encode()) < 2_000_000

    with duckdb.connect(str(published_sample), read_only=True) as connection:
        published_at, as_of = one(connection, "select published_at, latest_as_of_date from marts.publication")
        scored, revenue = one(
            connection,
            "select count(*), sum(monetary)::double from marts.customer_rfm where as_of_date = ? and frequency > 0",
            [as_of],
        )
        (total_monetary,) = one(connection, "select sum(monetary)::double from marts.customer_rfm")
        scores = connection.execute(
            "select r_score, f_score, m_score from marts.customer_segments where as_of_date = ? and r_score is not null",
            [as_of],
        ).fetchall()
        champions = [
            float(value)
            for (value,) in connection.execute(
                "select r.monetary from marts.customer_rfm as r join marts.customer_segments as s "
                "using (customer_key, as_of_date) where s.rfm_segment = 'champions' and r.frequency > 0"
            ).fetchall()
        ]
    assert f"{as_of}" in html and f"{published_at:%Y-%m-%d %H:%M} UTC" in html

    specs = chart_specs(html)
    cells = chart_values(specs["rfm-grid"])
    assert len(cells) == 25
    assert sum(cell["customers"] for cell in cells) == scored == len(scores)
    assert math.isclose(sum(cell["revenue"] for cell in cells), revenue, abs_tol=0.01)
    assert math.isclose(revenue, total_monetary, abs_tol=0.01)  # prospects spent nothing
    expected = Counter((r, math.floor((f + m) / 2 + 0.5)) for r, f, m in scores)  # halves round up
    assert {(cell["r_score"], cell["fm_score"]): cell["customers"] for cell in cells if cell["customers"]} == expected

    boxes = {box["segment"]: box for box in chart_values(specs["distribution-monetary"])}
    assert boxes["champions"]["customers"] == len(champions)
    assert math.isclose(boxes["champions"]["median"], statistics.median(champions), abs_tol=0.005)


def test_transitions_between_the_last_two_dates(published_sample: Path, tmp_path: Path) -> None:
    published = tmp_path / "published.duckdb"
    shutil.copy(published_sample, published)
    earlier, later = add_an_earlier_date(published)
    out = tmp_path / "report.html"
    html = render(published, out)
    result = open_in_chromium(out, tmp_path, ARTIFACTS / "report-two-dates.png")
    assert_every_chart_rendered(result)
    names = {chart.name for chart in result.page.charts}
    # the partition families get a matrix; behavioural segments overlap, so no matrix
    assert {"transitions-rfm", "transitions-lifecycle", "drift-share-change"} <= names
    assert "transitions-behavioural" not in names

    specs = chart_specs(html)
    assert specs["sizes-rfm"]["mark"]["type"] == "line"  # two dates: sizes over time
    with duckdb.connect(str(published), read_only=True) as connection:
        for family in ("rfm", "lifecycle"):
            before = dict(
                connection.execute(
                    "select customer_key, segment_name from marts.segment_memberships where segment_family = ? and as_of_date = ?",
                    [family, earlier],
                ).fetchall()
            )
            after = dict(
                connection.execute(
                    "select customer_key, segment_name from marts.segment_memberships where segment_family = ? and as_of_date = ?",
                    [family, later],
                ).fetchall()
            )
            both = before.keys() & after.keys()
            moves = Counter((before[key], after[key]) for key in both)
            cells = chart_values(specs[f"transitions-{family}"])
            assert sum(cell["customers"] for cell in cells) == len(both)
            assert {(cell["from_segment"], cell["to_segment"]): cell["customers"] for cell in cells} == moves
            assert f"{len(after.keys() - before.keys()):,} new on {later}" in html
            assert f"{len(before.keys() - after.keys()):,} gone since {earlier}" in html


def test_a_missing_optional_mart_is_a_note(published_sample: Path, tmp_path: Path) -> None:
    published = tmp_path / "published.duckdb"
    shutil.copy(published_sample, published)
    with duckdb.connect(str(published)) as connection:
        connection.execute("drop table marts.cluster_profiles")
        connection.execute("delete from marts.customer_predictions")
    result = run_segments(["report", "--published", str(published)])  # default: beside the published file
    assert result.returncode == 0, result.stderr
    html = (tmp_path / "segment_report.html").read_text(encoding="utf-8")
    assert "marts.cluster_profiles is not in the published file: no clusters to show." in html
    assert "marts.customer_predictions is empty: no predictions to show." in html
    names = set(chart_specs(html))
    assert "clusters" not in names and "churn-clv" not in names and "rfm-grid" in names
    assert f'data-charts="{len(names)}"' in html
    assert [path.name for path in tmp_path.iterdir() if path.name.startswith(".")] == []  # no temporary left


def drop_segment_drift(published: Path) -> None:
    with duckdb.connect(str(published)) as connection:
        connection.execute("drop table marts.segment_drift")


@pytest.mark.parametrize(
    "case, expected",
    [
        ("missing file", "does not exist: run segments publish first"),
        ("missing required mart", "lacks marts.segment_drift: run dbt build and segments publish"),
        ("not a DuckDB file", "cannot open the published file"),
        ("missing output folder", "the folder of the report"),
        ("output is a directory", "is a directory, not a file"),
        ("output is the published file", "is the published file: choose another --out"),
    ],
)
def test_failures_are_one_line_and_exit_2(published_sample: Path, tmp_path: Path, case: str, expected: str) -> None:
    published = tmp_path / "published.duckdb"
    out = tmp_path / "report.html"
    if case != "missing file":
        shutil.copy(published_sample, published)
    if case == "missing required mart":
        drop_segment_drift(published)
    elif case == "not a DuckDB file":
        published.write_text("not a database\n")
    elif case == "missing output folder":
        out = tmp_path / "no-such-folder" / "report.html"
    elif case == "output is a directory":
        out.mkdir()
    elif case == "output is the published file":
        out = published
    result = run_segments(["report", "--published", str(published), "--out", str(out)])
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("segments report: error: ") and expected in lines[0], result.stderr
    assert "Traceback" not in result.stderr
    if out == published:
        with duckdb.connect(str(published), read_only=True) as connection:  # untouched
            assert one(connection, "select count(*) from marts.publication") == (1,)
    else:
        assert not out.is_file()


def test_report_help_imports_no_heavy_dependency() -> None:
    from dbt_runner import BIN

    probe = (
        "import sys\n"
        "from segments.cli import main\n"
        "try:\n"
        "    main(['report', '--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = ('duckdb', 'numpy', 'pandas', 'altair', 'vl_convert')\n"
        "print(sorted(name for name in heavy if name in sys.modules))\n"
    )
    result = subprocess.run([str(BIN / "python"), "-c", probe], capture_output=True, text=True, check=False)
    assert result.stdout.strip().splitlines()[-1] == "[]", result.stdout + result.stderr
    assert "--published" in result.stdout and "--out" in result.stdout
