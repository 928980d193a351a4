"""Shared fixtures. Builders live in dbt_runner.py so test modules can import them too."""

from __future__ import annotations

from pathlib import Path

import pytest

from dbt_runner import SAMPLE_RAW, build_warehouse


@pytest.fixture(scope="session")
def sample_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled sample built once per test session with ``dbt build`` (all dbt tests pass)."""
    if not (SAMPLE_RAW / "orders.parquet").exists():
        pytest.fail(f"the bundled sample is missing at {SAMPLE_RAW}; run `make sample`")
    return build_warehouse(SAMPLE_RAW, tmp_path_factory.mktemp("sample_warehouse"))
