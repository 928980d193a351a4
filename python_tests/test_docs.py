"""The README's contract table is generated from segments.contract and must not drift."""

from dbt_runner import PROJECT_ROOT
from segments.contract import render_markdown_table


def test_readme_shows_the_contract_as_the_code_defines_it() -> None:
    readme = (PROJECT_ROOT / "README.md").read_text()
    start = readme.index("<!-- contract-table:start -->") + len("<!-- contract-table:start -->")
    end = readme.index("<!-- contract-table:end -->")
    assert readme[start:end].strip() == render_markdown_table()
