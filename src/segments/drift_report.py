"""The drift report: which segments moved on the latest as-of date (``segments check``
prints it after the suites, ``--drift-only`` and ``segments backfill`` when a build fails)."""

from __future__ import annotations

from pathlib import Path

import duckdb


def moved_segments(database: Path) -> list[tuple[str, str, str, float | None, float | None]]:
    """Segments that moved (is_moved) in a family whose drift status is not ok, on the latest
    as-of date: (family, segment, status, share change in points, gating PSI). Empty when
    segment_drift does not exist yet."""
    with duckdb.connect(str(database), read_only=True) as connection:
        try:
            return connection.execute("""
                select segment_family, segment_name, drift_status, share_change_points,
                    greatest(psi, baseline_psi)
                from marts.segment_drift
                where drift_status != 'ok' and is_moved
                    and as_of_date = (select max(as_of_date) from marts.segment_drift)
                order by drift_status, segment_family, abs(share_change_points) desc, segment_name
            """).fetchall()
        except (duckdb.CatalogException, duckdb.BinderException):  # not built, or built before is_moved
            return []


def print_moved_segments(database: Path) -> None:
    for family, name, status, points, psi in moved_segments(database):
        points_text = "n/a" if points is None else f"{points:+.1f} points"
        print(f"  drift {status}: {family} segment '{name}' moved {points_text} (PSI {psi or 0:.3f})")
