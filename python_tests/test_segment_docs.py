"""docs/segments.md shows the behavioural rules as macros/segments/segment_definitions.sql
defines them (the macro behavioural_segments(), which also feeds segment_catalog).

The table between the segment-rules markers is generated: after changing the macro, run
``.venv/bin/python python_tests/test_segment_docs.py`` to rewrite it.
"""

from __future__ import annotations

import re
from typing import Any

import jinja2

from dbt_runner import PROJECT_ROOT

MACROS = PROJECT_ROOT / "macros" / "segments" / "segment_definitions.sql"
DOC = PROJECT_ROOT / "docs" / "segments.md"
START, END = "<!-- segment-rules:start -->", "<!-- segment-rules:end -->"


def behavioural_segments() -> list[dict[str, Any]]:
    """The value the dbt macro returns, rendered with plain Jinja (it holds literals only)."""
    returned: list[Any] = []
    environment = jinja2.Environment(extensions=["jinja2.ext.do"])
    environment.globals["return"] = lambda value: returned.append(value) or ""
    environment.from_string(MACROS.read_text() + "{{ behavioural_segments() }}").render()
    return returned[0]


def render_rules_table() -> str:
    rows = [
        "| segment | label | what it means | flag in `customer_segments` | rule | vars |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for segment in behavioural_segments():
        variables = ", ".join(f"`{name}`" for name in segment["vars"])
        rows.append(
            f"| `{segment['name']}` | {segment['label']} | {segment['description']} | `{segment['flag']}` "
            f"| {segment['rule']} | {variables} |"
        )
    return "\n".join(rows)


def test_segments_doc_shows_the_rules_as_the_macro_defines_them() -> None:
    text = DOC.read_text()
    start = text.index(START) + len(START)
    end = text.index(END)
    assert text[start:end].strip() == render_rules_table(), (
        "docs/segments.md is out of date: run .venv/bin/python python_tests/test_segment_docs.py"
    )


def test_every_segment_has_a_snake_case_name_a_label_and_its_own_description() -> None:
    segments = behavioural_segments()
    assert all(re.fullmatch(r"[a-z][a-z_]*", segment["name"]) for segment in segments)
    assert all(segment["label"] and segment["description"] for segment in segments)
    # a description of its own, not a generic sentence shared by the family
    assert len({segment["description"] for segment in segments}) == len(segments)


def test_every_rule_names_the_vars_it_reads() -> None:
    # a rule's words mention each of its vars by name, so the words and the vars agree
    for segment in behavioural_segments():
        assert segment["flag"].startswith("is_")
        missing = [
            name for name in segment["vars"] if name not in segment["rule"] and name != "engagement_half_life_days"
        ]
        assert missing == [], segment["name"]


if __name__ == "__main__":
    text = DOC.read_text()
    start = text.index(START) + len(START)
    DOC.write_text(text[:start] + "\n" + render_rules_table() + "\n" + text[text.index(END) :])
