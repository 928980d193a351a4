"""The dbt project as a whole: its name, selectors, unit tests under any vars, YAML and docs."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import duckdb
import pytest
import yaml

from dbt_runner import BIN, PROJECT_ROOT, RUNTIME_VARS, run_dbt

LAYERS = ("staging", "identity", "features", "segments", "quality", "activation")


@pytest.fixture(scope="module")
def work_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One target directory for the module, so every dbt call after the first parses partially."""
    return tmp_path_factory.mktemp("project")


def list_models(arguments: list[str], work_dir: Path) -> list[str]:
    result = run_dbt(
        ["ls", "-q", "--resource-type", "model", "--output", "name", *arguments], work_dir / "unused.duckdb", work_dir
    )
    return sorted(result.stdout.split())


@pytest.fixture(scope="module")
def layer_models(work_dir: Path) -> dict[str, list[str]]:
    return {layer: list_models(["--selector", layer], work_dir) for layer in LAYERS}


def test_the_model_name_selects_only_the_model(work_dir: Path) -> None:
    # the dbt project is segments_warehouse: selecting customer_segments is the one mart,
    # not the whole project
    assert list_models(["--select", "customer_segments"], work_dir) == ["customer_segments"]


def test_every_model_is_in_exactly_one_layer(work_dir: Path, layer_models: dict[str, list[str]]) -> None:
    every_model = list_models([], work_dir)
    in_layers = [model for layer in LAYERS for model in layer_models[layer]]
    assert sorted(in_layers) == every_model
    assert "int_as_of_date" in layer_models["features"] and "segment_drift" in layer_models["quality"]


def test_the_predictive_selector_is_the_predictive_folders_within_the_segments_layer(
    work_dir: Path, layer_models: dict[str, list[str]]
) -> None:
    predictive = list_models(["--selector", "predictive"], work_dir)
    in_folders = sorted(
        path.stem for path in (PROJECT_ROOT / "models").glob("*/predictive/*.*") if path.suffix in {".sql", ".py"}
    )
    assert predictive == in_folders and "customer_predictions" in predictive
    assert set(predictive) <= set(layer_models["segments"])


def test_as_of_rebuild_is_int_as_of_date_and_everything_downstream(work_dir: Path) -> None:
    rebuilt = list_models(["--selector", "as_of_rebuild"], work_dir)
    assert rebuilt == list_models(["--select", "int_as_of_date+"], work_dir)
    assert {"int_as_of_date", "customer_segments", "segment_drift"} <= set(rebuilt)
    assert "customers" not in rebuilt
    # its data tests, not its unit tests (the full build before it ran them)
    listed = run_dbt(
        ["ls", "-q", "--selector", "as_of_rebuild", "--output", "name"], work_dir / "unused.duckdb", work_dir
    )
    kinds = run_dbt(
        ["ls", "-q", "--selector", "as_of_rebuild", "--output", "json", "--output-keys", "resource_type"],
        work_dir / "unused.duckdb",
        work_dir,
    )
    resource_types = {json.loads(line)["resource_type"] for line in kinds.stdout.splitlines() if line.strip()}
    assert {"model", "seed", "test"} <= resource_types and "unit_test" not in resource_types, resource_types
    assert "segment_drift_psi_below_fail_threshold" in listed.stdout.split()


def node_definitions(target: Path) -> dict[str, object]:
    """What a parse decides for each node: its config, dependencies and raw SQL."""
    nodes = json.loads((target / "manifest.json").read_text())["nodes"]
    return {
        unique_id: (node["config"], node["depends_on"], node.get("raw_code"), node.get("unrendered_config"))
        for unique_id, node in nodes.items()
    }


def test_the_as_of_date_changes_nothing_that_dbt_parses(work_dir: Path, tmp_path: Path) -> None:
    # segments backfill parses once and builds every date on that manifest: exact only if
    # the as-of date is read in model SQL alone (rendered again at each compile), never in
    # a config, a ref or a test's arguments that dbt fixes at parse time
    run_dbt(["parse"], work_dir / "unused.duckdb", work_dir)
    run_dbt(["parse"], tmp_path / "unused.duckdb", tmp_path, {"as_of_date": "2026-03-31"})
    assert node_definitions(work_dir / "target") == node_definitions(tmp_path / "target")


def test_the_runtime_vars_change_nothing_that_dbt_parses(work_dir: Path, tmp_path: Path) -> None:
    # the suite's in-process dbt (dbt_runner.RUNTIME_VARS) reuses a manifest parsed without
    # these vars for any value of them: exact only if each is read in SQL alone
    defaults = yaml.safe_load((PROJECT_ROOT / "dbt_project.yml").read_text())["vars"]
    assert {name: value for name, value in RUNTIME_VARS.items() if defaults[name] == value} == {}
    run_dbt(["parse"], work_dir / "unused.duckdb", work_dir)
    run_dbt(["parse"], tmp_path / "unused.duckdb", tmp_path, RUNTIME_VARS)
    assert node_definitions(work_dir / "target") == node_definitions(tmp_path / "target")


# thresholds, windows of the rules (not the feature column lists) and family lists, all
# moved away from their defaults
CHANGED_VARS = {
    "as_of_date": "2026-03-31",
    "high_spender_min_avg_order_value": 150,
    "recent_buyer_window_days": 45,
    "high_value_engaged_min_orders": 2,
    "high_value_engaged_min_open_rate": 0.5,
    "premium_min_spend": 400,
    "highly_engaged_top_share": 0.5,
    "cart_abandonment_hours": 12,
    "cart_abandoner_window_days": 14,
    "disengaging_max_engagement_score": 10,
    "engagement_half_life_days": 14,
    "lifecycle_active_days": 30,
    "rfm_score_cutoffs": [0.1, 0.3, 0.5, 0.7],
    "drift_psi_fail": 0.5,
    "drift_partition_families": ["rfm"],
    "identity_max_accounts_per_email": 5,
    "order_statuses": ["completed"],
    "future_timestamp_tolerance_hours": 1,
}


def test_unit_tests_pass_whatever_vars_the_user_gives(sample_warehouse: Path, tmp_path: Path) -> None:
    # every unit test pins the vars its model reads (overrides: vars), so the README's
    # `dbt build --vars '{...}'` never fails a unit test; unit tests only read the column
    # types of their inputs, which the sample warehouse has
    database = tmp_path / "unit.duckdb"
    shutil.copy(sample_warehouse, database)
    result = run_dbt(["test", "--select", "test_type:unit"], database, tmp_path, CHANGED_VARS, artefacts=True)
    results = [
        result
        for result in json.loads((tmp_path / "target" / "run_results.json").read_text())["results"]
        if result["unique_id"].startswith("unit_test.")  # not the audit hooks
    ]
    assert len(results) >= 20 and {result["status"] for result in results} == {"pass"}, result.stdout[-3000:]


def test_every_mart_table_and_column_carries_its_description(sample_warehouse: Path) -> None:
    # persist_docs (dbt_project.yml, marts) stores each description as a DuckDB comment, so a
    # BI tool reading the warehouse sees them; a column without a description has no comment
    with duckdb.connect(str(sample_warehouse), read_only=True) as connection:
        tables = connection.execute(
            "select table_name, coalesce(comment, '') from duckdb_tables() where schema_name = 'marts'"
        ).fetchall()
        columns = connection.execute(
            "select table_name, column_name, coalesce(comment, '') from duckdb_columns() where schema_name = 'marts'"
        ).fetchall()
    assert len(tables) >= 13 and len(columns) >= 150
    assert [table for table, comment in tables if not comment.strip()] == []
    assert [f"{table}.{column}" for table, column, comment in columns if not comment.strip()] == []
    # doc blocks are rendered, not stored as Jinja
    assert not any("{{" in comment for _, _, comment in columns)


def test_yaml_has_one_style_and_no_file_over_400_lines() -> None:
    result = subprocess.run(
        [str(BIN / "yamllint"), "--strict", "models", "seeds", "dbt_project.yml", "selectors.yml", "profiles"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout
    lengths = {
        str(path.relative_to(PROJECT_ROOT)): len(path.read_text().splitlines())
        for path in (PROJECT_ROOT / "models").rglob("*.yml")
    }
    assert {path: lines for path, lines in lengths.items() if lines > 400} == {}
