"""The dbt project's names and selectors: cheap checks on a parsed project (no warehouse)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dbt_runner import run_dbt

LAYERS = ("staging", "identity", "features", "segments", "quality")


@pytest.fixture(scope="module")
def work_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One target directory for the module, so every dbt call after the first parses partially."""
    return tmp_path_factory.mktemp("project")


def list_models(arguments: list[str], work_dir: Path) -> list[str]:
    result = run_dbt(["ls", "-q", "--resource-type", "model", "--output", "name", *arguments],
                     work_dir / "unused.duckdb", work_dir)
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


def test_as_of_rebuild_is_int_as_of_date_and_everything_downstream(work_dir: Path) -> None:
    rebuilt = list_models(["--selector", "as_of_rebuild"], work_dir)
    assert rebuilt == list_models(["--select", "int_as_of_date+"], work_dir)
    assert {"int_as_of_date", "customer_segments", "segment_drift"} <= set(rebuilt)
    assert "customers" not in rebuilt
