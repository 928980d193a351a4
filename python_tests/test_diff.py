"""`segments diff --base REF`: a change on a copy of the project, diffed against its commit.

The expected movements are computed here from the feature marts with the rule's own words
(docs/segments.md), never read from the diff's own tables: a threshold var moves exactly the
customers whose values lie between the old and the new threshold; a row of the segment map
moves exactly the customers of that score combination.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import duckdb
import pytest

from dbt_runner import PROJECT_ROOT, run_segments
from test_report import ARTIFACTS, assert_every_chart_rendered, assert_offline, open_in_chromium

pytestmark = pytest.mark.slow


def project_copy(folder: Path) -> Path:
    """The project's committed files in a new git repository of one commit."""
    folder.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(PROJECT_ROOT), "archive", "HEAD"], capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive.stdout, check=True)
    for command in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "base"]):
        subprocess.run(
            ["git", "-c", "user.email=test@example.com", "-c", "user.name=test", *command],
            cwd=folder,
            check=True,
            capture_output=True,
        )
    return folder


def replace_once(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1, f"{old!r} is not in {path} exactly once"
    path.write_text(text.replace(old, new))


def diff(project: Path, work: Path, *extra: str) -> tuple[subprocess.CompletedProcess[str], dict]:
    out = work.parent / f"{work.name}.json"
    result = run_segments(
        ["diff", "--base", "HEAD", "--project-dir", str(project), "--work-dir", str(work), "--json", str(out), *extra]
    )
    assert result.returncode in (0, 1), result.stdout[-2000:] + result.stderr[-2000:]
    return result, json.loads(out.read_text())


def test_a_threshold_var_moves_the_customers_between_the_old_and_the_new_threshold(tmp_path: Path) -> None:
    project = project_copy(tmp_path / "project")
    replace_once(
        project / "dbt_project.yml", "high_spender_min_avg_order_value: 100", "high_spender_min_avg_order_value: 150"
    )
    page = tmp_path / "diff.html"
    result, document = diff(project, tmp_path / "work", "--fail-above", "0.01", "--html", str(page))

    # high spender: spend over the last 90 days above the threshold times the orders (unrounded)
    with duckdb.connect(str(tmp_path / "work" / "new" / "warehouse.duckdb"), read_only=True) as connection:
        rows = connection.execute("select customer_key, frequency_90d, monetary_90d from marts.customer_rfm").fetchall()
    leaving = {key for key, orders, spend in rows if orders > 0 and 100 * orders < spend <= 150 * orders}
    staying = {key for key, orders, spend in rows if orders > 0 and spend > 150 * orders}
    assert leaving, "the sample has customers between the two thresholds"

    in_out = {(row["segment_family"], row["segment_name"]): row for row in document["in_out"]}
    high = in_out["behavioural", "high_spenders"]
    assert (high["entered"], high["left"], high["stayed"]) == (0, len(leaving), len(staying))
    moved_elsewhere = [
        row for key, row in in_out.items() if key != ("behavioural", "high_spenders") and row["entered"] + row["left"]
    ]
    assert moved_elsewhere == []
    for family in ("rfm", "lifecycle"):  # the RFM and lifecycle rules do not read the var
        assert all(m["from_segment"] == m["to_segment"] for m in document["matrix"] if m["segment_family"] == family)
    assert document["moved_customers"] == len(leaving)
    # and by key: who was a high spender in the base and is not in the working tree's build
    members = {}
    for side in ("base", "new"):
        with duckdb.connect(str(tmp_path / "work" / side / "warehouse.duckdb"), read_only=True) as connection:
            members[side] = {
                key
                for (key,) in connection.execute(
                    "select customer_key from marts.segment_memberships where segment_name = 'high_spenders'"
                ).fetchall()
            }
    assert members["base"] - members["new"] == leaving and members["new"] <= members["base"]
    assert {mover["customer_key"] for mover in document["movers"]} <= leaving
    sizes = {(s["segment_family"], s["segment_name"]): s for s in document["sizes"]}
    assert sizes["behavioural", "high_spenders"]["base_customers"] - sizes["behavioural", "high_spenders"][
        "new_customers"
    ] == len(leaving)

    change = document["changes"]["vars"]["high_spender_min_avg_order_value"]
    assert (change["base"], change["new"]) == (100, 150) and "customer_segments" in change["read_by"]
    assert document["changes"]["models"] == [] and document["changes"]["seeds"] == []
    # only what reads the var was rebuilt: staging, identity and the feature marts were shared
    assert "customer_segments" in document["changes"]["rebuilt"]
    assert not {"customer_rfm", "customers", "stg_shop__orders"} & set(document["changes"]["rebuilt"])

    markdown = result.stdout
    assert markdown.startswith("<!-- segments-diff -->")
    assert f"| behavioural | high_spenders | 0 | {len(leaving)} | {len(staying)} |" in markdown
    expected_share = len(leaving) / document["customers"]
    assert result.returncode == (1 if expected_share > 0.01 else 0)
    if result.returncode == 1:
        assert "more than --fail-above" in result.stderr

    # the same result as a page in the style of segments report, drawn in headless Chromium
    browser = open_in_chromium(page, tmp_path, ARTIFACTS / "diff.png")
    assert_every_chart_rendered(browser)
    assert_offline(page.read_text(), browser.dom)
    assert f"{len(leaving):,} of {document['customers']:,}" in page.read_text()


def test_a_row_of_the_segment_map_moves_that_score_combination(tmp_path: Path) -> None:
    project = project_copy(tmp_path / "project")
    # r_score 5 with an F/M average of 4 to 5: champions in the map, now potential loyalists
    replace_once(project / "seeds" / "rfm_segment_map.csv", "5,4.0,5.0,champions", "5,4.0,5.0,potential_loyalists")
    result, document = diff(project, tmp_path / "work")
    assert result.returncode == 0

    with duckdb.connect(str(tmp_path / "work" / "base" / "warehouse.duckdb"), read_only=True) as connection:
        rows = connection.execute("select r_score, fm_score from marts.customer_segments").fetchall()
    affected = sum(1 for r_score, fm_score in rows if r_score == 5 and fm_score is not None and 4.0 <= fm_score <= 5.0)
    assert affected

    moves = [m for m in document["matrix"] if m["segment_family"] == "rfm" and m["from_segment"] != m["to_segment"]]
    assert moves == [
        {
            "segment_family": "rfm",
            "from_segment": "champions",
            "to_segment": "potential_loyalists",
            "customers": affected,
        }
    ]
    assert document["changes"]["seeds"] == ["rfm_segment_map"] and document["changes"]["vars"] == {}
    assert "| champions | potential_loyalists |" in result.stdout


def test_an_unknown_base_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = run_segments(["diff", "--base", "no-such-ref-anywhere", "--work-dir", str(tmp_path / "work")])
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "no-such-ref-anywhere" in lines[0], result.stderr


# --- the parts that need no build ---------------------------------------------------------------


def model_node(code: str, config: dict | None = None, macros: list[str] | None = None) -> dict:
    return {
        "resource_type": "model",
        "compiled_code": code,
        "checksum": {"checksum": "same file"},
        "relation_name": '"warehouse"."marts"."m"',
        "config": {"materialized": "table", **(config or {})},
        "depends_on": {"macros": macros or []},
    }


def test_a_node_is_rebuilt_for_its_sql_config_or_any_macro_it_calls_not_for_its_docs() -> None:
    from segments.diff import node_fingerprint

    macros = {"macro.p.outer": {"macro_sql": "{{ inner() }}", "depends_on": {"macros": ["macro.p.inner"]}}}
    inner_v1 = {**macros, "macro.p.inner": {"macro_sql": "delete from x", "depends_on": {"macros": []}}}
    inner_v2 = {**macros, "macro.p.inner": {"macro_sql": "delete from y", "depends_on": {"macros": []}}}
    node = model_node("select 1", {"post_hook": ["{{ outer() }}"]}, ["macro.p.outer"])
    same = node_fingerprint(node, inner_v1)
    assert node_fingerprint(node, inner_v2) != same  # a macro two calls away changed
    assert node_fingerprint({**node, "compiled_code": "select 2"}, inner_v1) != same
    assert node_fingerprint(model_node("select 1", {"post_hook": []}, ["macro.p.outer"]), inner_v1) != same
    assert node_fingerprint({**node, "relation_name": '"warehouse"."other"."m"'}, inner_v1) != same
    documented = model_node("select 1", {"post_hook": ["{{ outer() }}"], "tags": ["x"], "meta": {"a": 1}})
    documented["depends_on"] = node["depends_on"]
    assert node_fingerprint(documented, inner_v1) == same  # tags and meta change no row


def test_the_drift_verdict_measures_families_as_the_drift_model_does() -> None:
    import math

    from segments.diff_compare import SizeChange, drift_verdicts

    thresholds = {
        "drift_psi_warn": 0.1,
        "drift_psi_fail": 0.25,
        "drift_share_floor": 0.0001,
        "drift_partition_families": ["rfm", "cluster"],
        "drift_warn_only_families": ["cluster"],
    }
    sizes = [
        SizeChange("rfm", "a", 50, 10, 0.5, 0.1),
        SizeChange("rfm", "b", 50, 90, 0.5, 0.9),
        SizeChange("cluster", "x", 50, 10, 0.5, 0.1),
        SizeChange("cluster", "y", 50, 90, 0.5, 0.9),
        SizeChange("behavioural", "h", 10, 12, 0.1, 0.12),
    ]
    verdicts = {(v.segment_family, v.segment_name): v for v in drift_verdicts(sizes, thresholds)}
    partition_psi = (0.1 - 0.5) * math.log(0.1 / 0.5) + (0.9 - 0.5) * math.log(0.9 / 0.5)
    assert verdicts["rfm", None].psi == pytest.approx(partition_psi) and partition_psi > 0.25
    assert verdicts["rfm", None].status == "fail"
    assert verdicts["cluster", None].status == "warn"  # re-discovered segments warn, never fail
    two_bin = (0.12 - 0.1) * math.log(0.12 / 0.1) + (0.88 - 0.9) * math.log(0.88 / 0.9)
    assert verdicts["behavioural", "h"].psi == pytest.approx(two_bin)
    assert verdicts["behavioural", "h"].status == "ok"


def test_a_work_dir_holding_the_project_or_other_files_is_refused(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    for work_dir in (tmp_path, PROJECT_ROOT, PROJECT_ROOT.parent):
        result = run_segments(["diff", "--base", "HEAD", "--work-dir", str(work_dir)])
        assert result.returncode == 2, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1 and "--work-dir" in result.stderr
    assert (tmp_path / "keep.txt").read_text() == "mine"
