"""Shared fixtures. Builders live in dbt_runner.py so test modules can import them too."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dbt_runner import PARSE_CACHE_VARIABLE, SAMPLE_RAW, build_warehouse


@pytest.fixture(scope="session", autouse=True)
def dbt_parse_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One folder of dbt parse states for the whole run, shared by the xdist workers (their
    base temporary folders are siblings), so the project is parsed once per set of vars."""
    base = tmp_path_factory.getbasetemp()
    cache = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "dbt_parse_cache"
    cache.mkdir(parents=True, exist_ok=True)
    os.environ[PARSE_CACHE_VARIABLE] = str(cache)
    return cache


@pytest.fixture(scope="session")
def sample_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled sample built once per test session with a complete ``dbt build`` (every
    unit and data test passes; the audit records the build as passed)."""
    if not (SAMPLE_RAW / "orders.parquet").exists():
        pytest.fail(f"the bundled sample is missing at {SAMPLE_RAW}; run `make sample`")
    return build_warehouse(SAMPLE_RAW, tmp_path_factory.mktemp("sample_warehouse"), unit_tests=True)
