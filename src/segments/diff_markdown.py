"""The Markdown of ``segments diff``: what changed, then what it does to the segments.

Written for a pull-request comment: the first line is a marker the CI workflow finds to
update its own earlier comment, then a one-line summary, then the sections (sizes, moves,
cut-offs, customers who moved, the drift verdict). Counts are exact; shares in points.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from segments.diff_compare import MATRIX_FAMILIES, NONE, Comparison, Mover

if TYPE_CHECKING:
    from segments.diff import Changes

MARKER = "<!-- segments-diff -->"


def table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(value) for value in row) + " |" for row in rows]
    return [*lines, ""]


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value).replace("|", "\\|")


def points(after: float, before: float) -> str:
    return f"{(after - before) * 100:+.2f} pt"


def render(base: str, commit: str, comparison: Comparison, changes: Changes, thresholds: Mapping[str, Any]) -> str:
    lines = [
        MARKER,
        "## Segment diff",
        "",
        f"Against `{base}` (`{commit[:12]}`), as of {comparison.as_of_date}: "
        f"**{comparison.moved_customers:,} of {comparison.customers:,} customers "
        f"({comparison.moved_share:.2%}) change segment** in at least one family; "
        f"drift gate on the change: **{comparison.drift_status}**.",
        "",
    ]
    lines += changed_section(changes)
    lines += sizes_section(comparison)
    lines += moves_section(comparison)
    lines += cutoffs_section(comparison)
    lines += movers_section(comparison, changes)
    lines += drift_section(comparison, thresholds)
    return "\n".join(lines).rstrip() + "\n"


def changed_section(changes: Changes) -> list[str]:
    lines = ["### What changed", ""]
    if changes.models:
        lines.append("- models whose SQL changed: " + ", ".join(f"`{name}`" for name in changes.models))
    if changes.seeds:
        lines.append("- seeds that changed: " + ", ".join(f"`{name}`" for name in changes.seeds))
    for name, change in changes.vars.items():
        readers = ", ".join(f"`{model}`" for model in change["read_by"]) or "no model"
        lines.append(f"- var `{name}`: {change['base']!r} → {change['new']!r} (read by {readers})")
    if changes.python_changed:
        lines.append("- Python code under `src/segments/predictive` changed (the dbt Python models were rebuilt)")
    if len(lines) == 2:
        lines.append(
            "- no model file, seed, var or Python model code" + (": a macro, hook or config" if changes.rebuilt else "")
        )
    if changes.rebuilt:
        names = ", ".join(f"`{name}`" for name in changes.rebuilt)
        lines += ["", f"The base rebuilt {names} and what depends on them; the rest is shared.", ""]
    else:
        lines += ["", "The base rebuilt nothing: both versions build the same tables.", ""]
    return lines


def sizes_section(comparison: Comparison) -> list[str]:
    changed = comparison.changed_sizes()
    lines = ["### Segment sizes", ""]
    if not changed:
        return [*lines, "No segment changed size.", ""]
    rows = [
        (
            size.segment_family,
            size.segment_name,
            size.base_customers,
            size.new_customers,
            f"{size.new_customers - size.base_customers:+,}",
            f"{size.base_share:.2%}",
            f"{size.new_share:.2%}",
            points(size.new_share, size.base_share),
        )
        for size in changed
    ]
    header = ("family", "segment", "before", "after", "change", "share before", "share after", "share change")
    unchanged = len(comparison.sizes) - len(changed)
    return [*lines, *table(header, rows), f"{unchanged} other segments kept their size.", ""]


def moves_section(comparison: Comparison) -> list[str]:
    lines = ["### Who moved", ""]
    for family in MATRIX_FAMILIES:
        moves = comparison.moves(family)
        if not moves:
            lines += [f"{family}: nobody moved.", ""]
            continue
        lines += [f"{family} (from → to, customers; {NONE}: not in the family on that side):", ""]
        lines += table(("from", "to", "customers"), [(m.from_segment, m.to_segment, m.customers) for m in moves])
    in_out = comparison.entered_or_left()
    if in_out:
        lines += ["Behavioural and predictive segments (customers in and out):", ""]
        rows = [(row.segment_family, row.segment_name, row.entered, row.left, row.stayed) for row in in_out]
        lines += table(("family", "segment", "entered", "left", "stayed"), rows)
    else:
        lines += ["Behavioural and predictive segments: nobody entered or left.", ""]
    return lines


def cutoffs_section(comparison: Comparison) -> list[str]:
    lines = ["### RFM cut-offs", ""]
    if not comparison.cutoffs:
        return [*lines, "No RFM cut-off changed.", ""]
    rows = [
        (c.measure, c.score, f"{cell(c.base_min)} to {cell(c.base_max)}", f"{cell(c.new_min)} to {cell(c.new_max)}")
        for c in comparison.cutoffs
    ]
    return [*lines, *table(("measure", "score", "before", "after"), rows)]


CORE_FEATURES = ("r_score", "f_score", "m_score", "recency_days", "frequency", "monetary")
WINDOW_SUFFIX = re.compile(r"_\d+d$")


def relevant(name: str, before: Any, after: Any, changed_vars: Sequence[str]) -> bool:
    """Whether the Markdown shows a feature of a customer who moved: the scores and the core
    measures, whatever changed, and the features a changed var is named after (a var
    ``high_spender_min_avg_order_value`` shows ``avg_order_value`` and its windows); the JSON
    has every feature."""
    if name in CORE_FEATURES or before != after:
        return True
    stem = WINDOW_SUFFIX.sub("", name)
    return any(stem in var for var in changed_vars)


def shown_features(mover: Mover, changed_vars: Sequence[str], show: Callable[[Any], str] = cell) -> list[str]:
    """The relevant features of a customer who moved, as "name value" or "name before → after"."""
    return [
        f"{name} {show(before)}" if before == after else f"{name} {show(before)} → {show(after)}"
        for name, (before, after) in mover.features.items()
        if (before is not None or after is not None) and relevant(name, before, after, changed_vars)
    ]


def movers_section(comparison: Comparison, changes: Changes) -> list[str]:
    if not comparison.movers:
        return []
    lines = [
        "### Customers who moved (a sample)",
        "",
        "Keys are the warehouse's salted hashes; values are before → after where they differ.",
        "",
    ]
    rows = []
    for mover in comparison.movers:
        shown = shown_features(mover, list(changes.vars))
        rows.append((f"`{mover.customer_key[:12]}`", "; ".join(mover.moves), ", ".join(shown)))
    return [*lines, *table(("customer", "moved", "features"), rows)]


def drift_section(comparison: Comparison, thresholds: Mapping[str, Any]) -> list[str]:
    lines = [
        "### Drift gate",
        "",
        f"PSI of the new shares against the base's (warn above {thresholds['drift_psi_warn']}, "
        f"fail above {thresholds['drift_psi_fail']}): **{comparison.drift_status}**.",
        "",
    ]
    flagged = [verdict for verdict in comparison.drift if verdict.status != "ok"]
    if flagged:
        rows = [(v.segment_family, v.segment_name or "(family)", f"{v.psi:.4f}", v.status) for v in flagged]
        lines += table(("family", "segment", "PSI", "status"), rows)
    return lines
