"""One self-contained HTML page of sections, charts and tables, shared by the reports.

``segments report`` renders with it, and any other command that shows its result to a
person (``segments diff``) can use the same style. The page opens offline: its style, the
chart specifications with their data, and the Vega, Vega-Lite and vega-embed JavaScript
(from vl-convert, which ships them) are all inline, and a Content-Security-Policy forbids
every fetch, so nothing is ever loaded from the network, not even by mistake.

The API::

    from segments.report_html import Chart, Note, Section, Table, page

    html = page(
        "Segment report",
        [
            Section("Sizes", [Note("One as-of date."), Chart("sizes", vega_lite_spec), Table(...)]),
        ],
        facts=[("As of", "2026-06-30")],
    )

- ``Chart(name, spec)``: a Vega-Lite specification (a dict, e.g. an altair chart's
  ``to_dict()``) with its data inline (``data.values``); ``name`` identifies it in the page
  (``data-chart-name``). Give it a title and axis titles in the spec.
- ``Table(headers, rows, formats)``: a table; a cell may be text, a number, a date or
  None (shown as a dash); ``formats`` maps a header to a format spec (``".1%"``), else
  whole numbers get thousands separators and other numbers two decimals.
- ``Note(text)``: one paragraph, e.g. why a section has no chart.
- ``Section(title, blocks, intro)``: a heading, an optional paragraph, then its blocks.
- ``page(title, sections, facts)``: the whole document; ``facts`` are (label, value)
  pairs shown under the title.

How the page reports on itself (python_tests/test_report.py reads it after Chromium ran
its scripts): ``<body data-charts="N">`` declares the number of charts; each chart's
container ``<div class="chart" data-chart-name=...>`` gets ``data-rendered="true"`` once
vega-embed drew it as SVG (``"error"`` if it failed); any script error, unhandled
rejection, ``console.error`` or Content-Security-Policy violation is appended to
``<ol id="report-errors">`` (shown at the top of the page when not empty); and
``<body data-report-state="done">`` says every chart was attempted (``data-page-height``
then holds the page's height in pixels, for a screenshot of the whole page).
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from typing import Any

Cell = str | int | float | Decimal | date | datetime | bool | None

# the Vega-Lite version the bundled JavaScript compiles: the one altair 6.3 writes
VEGA_LITE_VERSION = "6.4"

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; style-src 'unsafe-inline'; "
    "img-src data:; font-src data:; connect-src 'none'; base-uri 'none'; form-action 'none'"
)


@dataclass(frozen=True)
class Chart:
    """A Vega-Lite chart, its data inline; name identifies it in the page."""

    name: str
    spec: Mapping[str, Any]


@dataclass(frozen=True)
class Table:
    """A table; formats maps a header to a Python format spec for its column."""

    headers: Sequence[str]
    rows: Sequence[Sequence[Cell]]
    formats: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Note:
    """One paragraph of text."""

    text: str


Block = Chart | Table | Note


@dataclass(frozen=True)
class Section:
    """A heading, an optional introduction, then charts, tables and notes in order."""

    title: str
    blocks: Sequence[Block]
    intro: str = ""


STYLE = """
:root { --ink: #1f2933; --muted: #616e7c; --line: #d9e2ec; --paper: #f5f7fa; --accent: #2f6fb0; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--paper); color: var(--ink);
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
header { background: #fff; border-bottom: 1px solid var(--line); padding: 24px 32px 16px; }
header h1 { margin: 0 0 8px; font-size: 26px; }
dl.facts { display: flex; flex-wrap: wrap; gap: 4px 28px; margin: 0; }
dl.facts div { display: flex; gap: 6px; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; font-weight: 600; }
nav { padding: 8px 32px; background: #fff; border-bottom: 1px solid var(--line); font-size: 14px; }
nav a { color: var(--accent); margin-right: 16px; text-decoration: none; }
main { padding: 16px 32px 48px; max-width: 1400px; }
section { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 16px 24px;
  margin: 16px 0; }
section h2 { margin: 0 0 8px; font-size: 20px; }
p.intro { color: var(--muted); margin: 0 0 12px; max-width: 80ch; }
p.note { background: #fffbea; border-left: 3px solid #f0b429; padding: 6px 12px; margin: 8px 0; }
.blocks { display: flex; flex-wrap: wrap; gap: 16px 32px; align-items: flex-start; }
.chart { min-height: 40px; max-width: 100%; overflow-x: auto; }
table { border-collapse: collapse; font-size: 13px; margin: 8px 0; }
th, td { border-bottom: 1px solid var(--line); padding: 4px 10px; text-align: left; vertical-align: top; }
th { background: var(--paper); font-weight: 600; }
td.number { text-align: right; font-variant-numeric: tabular-nums; }
#report-errors { color: #ab091e; background: #ffe3e3; margin: 16px 32px; padding: 8px 32px; }
#report-errors:empty { display: none; }
"""

# before any other script: record every error where the test (and a reader) sees it
ERROR_HOOK = """
(function () {
  var pending = [];
  function record(text) {
    var list = document.getElementById("report-errors");
    if (!list) { pending.push(text); return; }  // before the body is parsed
    var item = document.createElement("li");
    item.textContent = String(text);
    list.appendChild(item);
  }
  window.reportError = record;
  document.addEventListener("DOMContentLoaded", function () { pending.splice(0).forEach(record); });
  window.addEventListener("error", function (event) { record("error: " + event.message); });
  window.addEventListener("unhandledrejection", function (event) { record("rejection: " + event.reason); });
  document.addEventListener("securitypolicyviolation", function (event) {
    record("blocked by the content security policy: " + event.blockedURI);
  });
  var consoleError = console.error;
  console.error = function () {
    record("console.error: " + Array.prototype.join.call(arguments, " "));
    consoleError.apply(console, arguments);
  };
})();
"""

RENDER = """
(async function () {
  var charts = document.querySelectorAll("div.chart[data-spec]");
  for (var index = 0; index < charts.length; index++) {
    var container = charts[index];
    try {
      var spec = JSON.parse(document.getElementById(container.dataset.spec).textContent);
      await vegaEmbed(container, spec, {renderer: "svg", actions: false});
      container.dataset.rendered = "true";
    } catch (error) {
      container.dataset.rendered = "error";
      window.reportError("chart " + container.dataset.chartName + ": " + error);
    }
  }
  document.body.dataset.pageHeight = String(document.documentElement.scrollHeight);
  document.body.dataset.reportState = "done";
})();
"""


@cache
def javascript_bundle() -> str:
    """Vega, Vega-Lite and vega-embed as one script (vl-convert bundles them; a few seconds)."""
    import vl_convert

    snippet = "window.vegaEmbed = vegaEmbed; window.vegaLite = vegaLite; window.vega = vega;"
    bundle = vl_convert.javascript_bundle(snippet, vl_version=VEGA_LITE_VERSION)
    return bundle.replace("</script", "<\\/script").replace("<!--", "<\\!--")


def script_json(value: object) -> str:
    """JSON safe inside a script element: no "<" at all (so no "</script" nor "<!--")."""
    return json.dumps(value, separators=(",", ":"), allow_nan=False).replace("<", "\\u003c")


def format_cell(value: Cell, format_spec: str | None) -> tuple[str, bool]:
    """A cell's text, and whether it is a number (aligned right)."""
    if value is None:
        return "\u2013", False  # an en dash
    if isinstance(value, bool):
        return ("yes" if value else "no"), False
    if isinstance(value, int | float | Decimal):
        if format_spec:
            return format(value, format_spec), True
        return (f"{value:,}" if isinstance(value, int) else f"{value:,.2f}"), True
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="minutes"), False
    if isinstance(value, date):
        return value.isoformat(), False
    return str(value), False


def render_table(table: Table) -> str:
    head = "".join(f"<th>{html.escape(header)}</th>" for header in table.headers)
    formats = [table.formats.get(header) for header in table.headers]
    body = []
    for row in table.rows:
        cells = []
        for value, format_spec in zip(row, formats, strict=True):
            text, number = format_cell(value, format_spec)
            cells.append(f'<td class="number">{html.escape(text)}</td>' if number else f"<td>{html.escape(text)}</td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def render_chart(chart: Chart, number: int) -> str:
    spec = {key: value for key, value in chart.spec.items() if key != "$schema"}  # a URL, not needed
    spec_id = f"chart-spec-{number}"
    name = html.escape(chart.name, quote=True)
    return (
        f'<div class="chart" id="chart-{number}" data-chart-name="{name}" data-spec="{spec_id}"></div>'
        f'<script type="application/json" id="{spec_id}">{script_json(spec)}</script>'
    )


def anchor(number: int) -> str:
    return f"section-{number}"


def render_section(section: Section, number: int, charts_before: int) -> tuple[str, int]:
    """A section's HTML and how many charts it holds."""
    parts = [f'<section id="{anchor(number)}"><h2>{html.escape(section.title)}</h2>']
    if section.intro:
        parts.append(f'<p class="intro">{html.escape(section.intro)}</p>')
    charts = 0
    blocks = []
    for block in section.blocks:
        if isinstance(block, Chart):
            charts += 1
            blocks.append(render_chart(block, charts_before + charts))
        elif isinstance(block, Table):
            blocks.append(render_table(block))
        else:
            blocks.append(f'<p class="note">{html.escape(block.text)}</p>')
    parts.append(f'<div class="blocks">{"".join(blocks)}</div></section>')
    return "".join(parts), charts


def page(title: str, sections: Sequence[Section], facts: Sequence[tuple[str, str]] = ()) -> str:
    """The whole HTML document: title, facts, a table of contents, then the sections."""
    rendered, charts = [], 0
    for number, section in enumerate(sections, start=1):
        text, count = render_section(section, number, charts)
        rendered.append(text)
        charts += count
    facts_html = "".join(
        f"<div><dt>{html.escape(label)}</dt><dd>{html.escape(value)}</dd></div>" for label, value in facts
    )
    contents = "".join(
        f'<a href="#{anchor(number)}">{html.escape(section.title)}</a>' for number, section in enumerate(sections, 1)
    )
    return (
        "<!doctype html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CONTENT_SECURITY_POLICY}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{STYLE}</style>"
        f"<script>{ERROR_HOOK}</script></head>\n"
        f'<body data-charts="{charts}" data-report-state="loading">'
        f'<header><h1>{html.escape(title)}</h1><dl class="facts">{facts_html}</dl></header>'
        f'<nav>{contents}</nav><ol id="report-errors"></ol>'
        f"<main>{''.join(rendered)}</main>\n"
        f"<script>{javascript_bundle()}</script>\n"
        f"<script>{RENDER}</script>"
        "</body></html>\n"
    )
