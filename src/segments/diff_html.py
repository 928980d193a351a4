"""The HTML of ``segments diff --html``: the same result as the Markdown, in the style of
``segments report`` (segments.report_html: one self-contained page that opens offline).

Charts: the size of every segment that changed, before and after; a from-to heatmap per
matrix family (RFM, lifecycle) of the customers who moved; customers in and out of the other
families' segments. Tables carry the exact figures, the cut-offs, the sample of customers who
moved and the drift verdict.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from segments.diff_compare import MATRIX_FAMILIES, Comparison
from segments.diff_markdown import shown_features
from segments.report_html import Block, Cell, Chart, Note, Section, Table, page

if TYPE_CHECKING:
    from segments.diff import Changes


def render(base: str, commit: str, comparison: Comparison, changes: Changes, thresholds: Mapping[str, Any]) -> str:
    facts = [
        ("Against", f"{base} ({commit[:12]})"),
        ("As of", comparison.as_of_date.isoformat()),
        ("Customers who change segment", f"{comparison.moved_customers:,} of {comparison.customers:,}"),
        ("Share", f"{comparison.moved_share:.2%}"),
        ("Drift gate on the change", comparison.drift_status),
    ]
    sections = [
        changed_section(changes),
        sizes_section(comparison),
        moves_section(comparison),
        cutoffs_section(comparison),
        movers_section(comparison, changes),
        drift_section(comparison, thresholds),
    ]
    return page("Segment diff", sections, facts)


def changed_section(changes: Changes) -> Section:
    rows: list[list[Cell]] = [["model", name, "SQL changed, added or removed"] for name in changes.models]
    rows += [["seed", name, "file changed"] for name in changes.seeds]
    rows += [
        ["var", name, f"{change['base']!r} → {change['new']!r}; read by {', '.join(change['read_by']) or 'no model'}"]
        for name, change in changes.vars.items()
    ]
    if changes.python_changed:
        rows.append(["Python", "src/segments/predictive", "changed: the dbt Python models were rebuilt"])
    blocks: list[Block] = [Table(["kind", "name", "change"], rows)] if rows else [Note("Nothing a build reads.")]
    rebuilt = ", ".join(changes.rebuilt) or "nothing"
    blocks.append(Note(f"The base rebuilt {rebuilt} and what depends on them; the rest is shared."))
    return Section("What changed", blocks)


def sizes_section(comparison: Comparison) -> Section:
    changed = comparison.changed_sizes()
    if not changed:
        return Section("Segment sizes", [Note("No segment changed size.")])
    values = [
        {"segment": f"{size.segment_family}: {size.segment_name}", "version": version, "customers": customers}
        for size in changed
        for version, customers in (("before", size.base_customers), ("after", size.new_customers))
    ]
    spec: dict[str, Any] = {
        "title": "Customers per segment that changed size, before and after",
        "data": {"values": values},
        "mark": "bar",
        "encoding": {
            "y": {"field": "segment", "type": "nominal", "title": None},
            "yOffset": {"field": "version", "sort": ["before", "after"]},
            "x": {"field": "customers", "type": "quantitative", "title": "Customers"},
            "color": {"field": "version", "type": "nominal", "sort": ["before", "after"], "title": None},
        },
        "width": 560,
    }
    rows: list[list[Cell]] = [
        [
            s.segment_family,
            s.segment_name,
            s.base_customers,
            s.new_customers,
            s.new_customers - s.base_customers,
            s.base_share,
            s.new_share,
        ]
        for s in changed
    ]
    headers = ["family", "segment", "before", "after", "change", "share before", "share after"]
    table = Table(headers, rows, {"share before": ".2%", "share after": ".2%", "change": "+,"})
    return Section("Segment sizes", [Chart("sizes", spec), table])


def moves_section(comparison: Comparison) -> Section:
    blocks: list[Block] = []
    for family in MATRIX_FAMILIES:
        moves = comparison.moves(family)
        if not moves:
            blocks.append(Note(f"{family}: nobody moved."))
            continue
        spec: dict[str, Any] = {
            "title": f"{family}: customers moving from each segment to another",
            "data": {"values": [{"from": m.from_segment, "to": m.to_segment, "customers": m.customers} for m in moves]},
            "encoding": {
                "y": {"field": "from", "type": "nominal", "title": "From (base)"},
                "x": {"field": "to", "type": "nominal", "title": "To (working tree)"},
            },
            "layer": [
                {
                    "mark": "rect",
                    "encoding": {"color": {"field": "customers", "type": "quantitative", "title": "Customers"}},
                },
                {"mark": {"type": "text"}, "encoding": {"text": {"field": "customers", "type": "quantitative"}}},
            ],
        }
        blocks.append(Chart(f"moves-{family}", spec))
    in_out = comparison.entered_or_left()
    if in_out:
        values = [
            {"segment": f"{row.segment_family}: {row.segment_name}", "direction": direction, "customers": customers}
            for row in in_out
            for direction, customers in (("entered", row.entered), ("left", -row.left))
        ]
        spec = {
            "title": "Customers entering (right) and leaving (left) each other segment",
            "data": {"values": values},
            "mark": "bar",
            "encoding": {
                "y": {"field": "segment", "type": "nominal", "title": None},
                "x": {"field": "customers", "type": "quantitative", "title": "Customers"},
                "color": {"field": "direction", "type": "nominal", "title": None},
            },
            "width": 560,
        }
        rows: list[list[Cell]] = [
            [row.segment_family, row.segment_name, row.entered, row.left, row.stayed] for row in in_out
        ]
        blocks += [Chart("in-out", spec), Table(["family", "segment", "entered", "left", "stayed"], rows)]
    else:
        blocks.append(Note("Behavioural and predictive segments: nobody entered or left."))
    return Section("Who moved", blocks)


def cutoffs_section(comparison: Comparison) -> Section:
    if not comparison.cutoffs:
        return Section("RFM cut-offs", [Note("No RFM cut-off changed.")])
    rows: list[list[Cell]] = [
        [c.measure, c.score, c.base_min, c.base_max, c.new_min, c.new_max] for c in comparison.cutoffs
    ]
    headers = ["measure", "score", "min before", "max before", "min after", "max after"]
    return Section("RFM cut-offs", [Table(headers, rows)])


def movers_section(comparison: Comparison, changes: Changes) -> Section:
    if not comparison.movers:
        return Section("Customers who moved", [Note("Nobody moved.")])
    rows: list[list[Cell]] = []
    for mover in comparison.movers:
        shown = shown_features(mover, list(changes.vars), str)
        rows.append([mover.customer_key[:12], "; ".join(mover.moves), ", ".join(shown)])
    intro = (
        "A sample (keys are the warehouse's salted hashes): the scores, the core measures, what changed "
        "and the features a changed var is named after; the JSON output has every feature."
    )
    return Section("Customers who moved", [Table(["customer", "moved", "features"], rows)], intro)


def drift_section(comparison: Comparison, thresholds: Mapping[str, Any]) -> Section:
    intro = (
        f"PSI of the new shares against the base's: warn above {thresholds['drift_psi_warn']}, "
        f"fail above {thresholds['drift_psi_fail']}. Verdict: {comparison.drift_status}."
    )
    rows: list[list[Cell]] = [
        [v.segment_family, v.segment_name or "(family)", v.psi, v.status] for v in comparison.drift
    ]
    return Section("Drift gate", [Table(["family", "segment", "PSI", "status"], rows, {"PSI": ".4f"})], intro)
