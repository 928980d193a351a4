"""``segments export``: privacy-safe activation audiences for marketing systems.

From an audited warehouse only (the gate of ``segments publish``: the latest recorded dbt
build passed on the raw data loaded now, and ``segments check`` stamped that build), it
writes, for one as-of date (default the latest in the history), one folder per segment
family under ``OUT/<as-of date>/``: per exported segment its full audience and the changes
since the previous export in OUT (the latest earlier as-of date exported there), entered
and exited, each as Parquet and CSV, and a ``manifest.json`` (rows and SHA-256 of every
file, the vars the date was built with, each segment's status and, for a skipped segment,
why).

What a row holds: the SHA-256 match keys of the customer's normalised email and E.164
phone (int_activation__match_keys), never a raw value, a name or a customer key. Who is in
it: the exported members of int_activation__segment_audiences (marketable, outside the
segment's holdout group, in a segment whose audience reaches the minimum size), so the
export writes exactly what segment_lift measures.

The date's folder appears atomically: everything is written into a hidden temporary folder
in OUT (the same filesystem) and renamed into place at the end; a failure leaves no
visible trace. Re-exporting a date moves the old folder aside before the rename and
deletes it after, so a reader sees the old export, the new one or (for that instant)
none, never a mix. Readers ignore names starting with a dot.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import re
import shutil
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from segments.errors import CommandError
from segments.warehouse import add_database_argument, resolve_database

if TYPE_CHECKING:  # imported by export() only, so ``segments --help`` stays light
    import duckdb

AUDIENCES = "warehouse.intermediate.int_activation__segment_audiences"
MATCH_KEYS = "warehouse.intermediate.int_activation__match_keys"
EXPORT_VARS = "warehouse.intermediate.int_activation__export_vars"
KINDS = ("audience", "entered", "exited")
FORMATS = ("parquet", "csv")
DATE_FOLDER = re.compile(r"\d{4}-\d{2}-\d{2}")
# hidden folders of an export under way (.tmp) or of a replaced export being deleted (.old)
TEMPORARY_NAME = re.compile(r"\.(export|\d{4}-\d{2}-\d{2})\.(?P<pid>\d+)\.[0-9a-f]{8}\.(tmp|old)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_database_argument(parser)
    parser.add_argument("--out", type=Path, required=True, help="folder that holds one folder per as-of date")
    parser.add_argument(
        "--as-of-date",
        type=date.fromisoformat,
        default=None,
        help="as-of date to export (default: the latest in the segment history)",
    )


@dataclass
class SegmentExport:
    """What the manifest says about one segment."""

    segment_name: str
    status: str
    reason: str | None
    eligible_customers: int
    holdout_customers: int
    audience_customers: int
    previous_rows: int
    files: dict[str, dict[str, Any]] = field(default_factory=dict)


def literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def slug(segment_name: str) -> str:
    """A file-name form of a segment name: lowercase, runs of other characters as '_'."""
    return re.sub(r"[^a-z0-9]+", "_", segment_name.lower()).strip("_") or "segment"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_gate(connection: duckdb.DuckDBPyConnection, database: Path) -> str:
    """The invocation id of the build that vouches for the warehouse, or a CommandError."""
    from segments.audit import stamp_refusal, vouching_build

    build, refusal = vouching_build(connection, "warehouse")
    if refusal is None and build is not None:
        refusal = stamp_refusal(database, build)
    if refusal or build is None:
        raise CommandError(f"refusing to export {database}: {refusal}")
    return build.invocation_id


def chosen_date(connection: duckdb.DuckDBPyConnection, as_of_date: date | None) -> date:
    """The as-of date to export: the one asked for (which must be built), else the latest."""
    built: set[date] = {row[0] for row in connection.execute(f"select as_of_date from {EXPORT_VARS}").fetchall()}
    if not built:
        raise CommandError("the warehouse holds no activation audiences: run dbt build")
    if as_of_date is None:
        return max(built)
    if as_of_date not in built:
        raise CommandError(
            f"as-of date {as_of_date} has no audiences (built: {min(built)} to {max(built)}): "
            f"run segments backfill for it"
        )
    return as_of_date


def previous_export(out: Path, as_of_date: date) -> Path | None:
    """The folder of the latest export in OUT before as_of_date (None for the first)."""
    earlier = [
        folder
        for folder in out.iterdir()
        if DATE_FOLDER.fullmatch(folder.name) and folder.is_dir() and folder.name < as_of_date.isoformat()
    ]
    return max(earlier, key=lambda folder: folder.name) if earlier else None


def previous_audience(previous: Path | None, family: str, segment_name: str) -> Path | None:
    """The previous export's full audience file of a segment, if it exported it."""
    if previous is None:
        return None
    manifest_path = previous / family / "manifest.json"
    if not manifest_path.exists():
        return None
    manifest = json.loads(manifest_path.read_text())
    for segment in manifest.get("segments", []):
        if segment.get("segment_name") == segment_name and "audience.parquet" in segment.get("files", {}):
            return previous / family / str(segment["files"]["audience.parquet"]["path"])
    return None


def previously_exported(previous: Path | None) -> list[tuple[str, str]]:
    """(family, segment) of every segment the previous export wrote an audience for."""
    if previous is None:
        return []
    segments = []
    for manifest_path in sorted(previous.glob("*/manifest.json")):
        manifest = json.loads(manifest_path.read_text())
        for segment in manifest.get("segments", []):
            if "audience.parquet" in segment.get("files", {}):
                segments.append((manifest_path.parent.name, str(segment["segment_name"])))
    return segments


def audience_sizes(connection: duckdb.DuckDBPyConnection, as_of_date: date) -> list[tuple[Any, ...]]:
    """(family, segment, eligible, holdout, audience, exported, min size) per segment."""
    return connection.execute(
        f"""select segment_family, segment_name, count(*), count(*) filter (where is_holdout),
            count(*) filter (where not is_holdout), bool_or(is_segment_exported), any_value(min_audience_size)
        from {AUDIENCES} where as_of_date = ? group by segment_family, segment_name
        order by segment_family, segment_name""",
        [as_of_date],
    ).fetchall()


def load_current(connection: duckdb.DuckDBPyConnection, as_of_date: date) -> None:
    """Temp table current_keys: the distinct match keys of every exported member."""
    connection.execute(
        f"""create or replace temp table current_keys as
        select distinct audiences.segment_family, audiences.segment_name,
            match_keys.email_sha256, match_keys.phone_sha256
        from {AUDIENCES} as audiences
        inner join {MATCH_KEYS} as match_keys on audiences.customer_key = match_keys.customer_key
        where audiences.as_of_date = ? and audiences.is_exported""",
        [as_of_date],
    )


def write_kind(connection: duckdb.DuckDBPyConnection, query: str, folder: Path, stem: str) -> dict[str, Any]:
    """Write one audience or delta as Parquet and CSV; return its manifest entries."""
    connection.execute(f"create or replace temp table export_rows as {query}")
    rows = int(connection.execute("select count(*) from export_rows").fetchall()[0][0])
    entries: dict[str, Any] = {}
    for file_format in FORMATS:
        path = folder / f"{stem}.{file_format}"
        options = "format parquet" if file_format == "parquet" else "format csv, header true"
        connection.execute(
            f"copy (select * from export_rows order by email_sha256, phone_sha256) to {literal(str(path))} ({options})"
        )
        entries[f"{stem.rsplit('.', 1)[1]}.{file_format}"] = {
            "path": path.name,
            "rows": rows,
            "sha256": file_sha256(path),
        }
    return entries


def export_segment(
    connection: duckdb.DuckDBPyConnection,
    folder: Path,
    family: str,
    segment: SegmentExport,
    previous_file: Path | None,
) -> None:
    """Write the segment's audience and deltas (an exited file only, for a skipped segment
    the previous export held) into folder; fill segment.files."""
    from segments.sources import file_literal  # here, not at the top: sources imports duckdb

    current = (
        "select email_sha256, phone_sha256 from current_keys "
        f"where segment_family = {literal(family)} and segment_name = {literal(segment.segment_name)}"
    )
    if segment.status != "exported":
        current += " and false"
    previous = (
        f"select email_sha256, phone_sha256 from read_parquet({file_literal(previous_file)})"
        if previous_file is not None
        else "select cast(null as varchar) as email_sha256, cast(null as varchar) as phone_sha256 where false"
    )
    segment.previous_rows = int(connection.execute(f"select count(*) from ({previous})").fetchall()[0][0])
    queries = {
        "audience": current,
        "entered": f"({current}) except ({previous})",
        "exited": f"({previous}) except ({current})",
    }
    kinds = KINDS if segment.status == "exported" else (("exited",) if segment.previous_rows else ())
    for kind in kinds:
        segment.files.update(
            write_kind(connection, f"select * from ({queries[kind]})", folder, f"{slug(segment.segment_name)}.{kind}")
        )


def write_export(
    connection: duckdb.DuckDBPyConnection,
    staging: Path,
    out: Path,
    as_of_date: date,
    invocation_id: str,
) -> dict[str, list[SegmentExport]]:
    """Write every family's folder and manifest under staging; return what was written."""
    vars_json = connection.execute(f"select vars_json from {EXPORT_VARS} where as_of_date = ?", [as_of_date]).fetchall()
    export_vars = json.loads(vars_json[0][0]) if vars_json else {}
    previous = previous_export(out, as_of_date)
    load_current(connection, as_of_date)
    families: dict[str, list[SegmentExport]] = {}
    for family, name, eligible, holdout, audience, exported, min_size in audience_sizes(connection, as_of_date):
        reason = None if exported else f"{audience} customers, below activation_min_audience_size {min_size}"
        families.setdefault(family, []).append(
            SegmentExport(name, "exported" if exported else "skipped", reason, eligible, holdout, audience, 0)
        )
    # a segment the previous export held and that has no marketable member now is listed
    # too, so that its exited file tells the destination to drop everyone
    minimum = export_vars.get("activation_min_audience_size")
    for family, name in previously_exported(previous):
        if name not in {segment.segment_name for segment in families.get(family, [])}:
            reason = f"0 customers, below activation_min_audience_size {minimum}"
            families.setdefault(family, []).append(SegmentExport(name, "skipped", reason, 0, 0, 0, 0))
    for family, segments in sorted(families.items()):
        folder = staging / family
        folder.mkdir()
        if len({slug(segment.segment_name) for segment in segments}) != len(segments):
            raise CommandError(f"two segments of family {family} share a file name")
        for segment in segments:
            previous_file = previous_audience(previous, family, segment.segment_name)
            export_segment(connection, folder, family, segment, previous_file)
        manifest = {
            "as_of_date": as_of_date.isoformat(),
            "segment_family": family,
            "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "build_invocation_id": invocation_id,
            "previous_export_as_of_date": previous.name if previous else None,
            "match_keys": {
                "email_sha256": "SHA-256 (hex) of the email, trimmed and lowercased",
                "phone_sha256": "SHA-256 (hex) of the phone in E.164 form, null when unknown",
            },
            "vars": export_vars,
            "segments": [segment.__dict__ for segment in segments],
        }
        (folder / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return families


def remove_stale_temporaries(out: Path) -> None:
    """Delete the hidden folders that killed exports left in OUT."""
    from segments.publish import process_alive

    for candidate in out.iterdir():
        match = TEMPORARY_NAME.fullmatch(candidate.name)
        if match and not process_alive(int(match["pid"])):
            shutil.rmtree(candidate, ignore_errors=True)


def publish_folder(staging: Path, target: Path) -> None:
    """Rename staging to target; a target already there is moved aside first, then deleted."""
    aside = target.with_name(f".{target.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.old")
    if target.exists():
        os.rename(target, aside)
    try:
        os.rename(staging, target)
    except OSError:
        if aside.exists():
            os.rename(aside, target)
        raise
    shutil.rmtree(aside, ignore_errors=True)


def export(database: Path, out: Path, as_of_date: date | None = None) -> tuple[Path, dict[str, list[SegmentExport]]]:
    """Export one as-of date atomically into OUT/<date>; return the folder and its segments."""
    import duckdb

    from segments.audit import one_line

    if not database.exists():
        raise CommandError(f"warehouse {database} does not exist: run make build first")
    if out.exists() and not out.is_dir():
        raise CommandError(f"the export folder {out} is not a folder")
    connection = duckdb.connect(":memory:")
    staging = out / f".export.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"
    try:
        try:
            connection.execute(f"attach {literal(str(database))} as warehouse (read_only)")
        except duckdb.Error as error:
            raise CommandError(f"cannot open the warehouse {database} read-only: {one_line(error)}") from error
        invocation_id = check_gate(connection, database)
        day = chosen_date(connection, as_of_date)
        out.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(out)
        staging.mkdir()
        families = write_export(connection, staging, out, day, invocation_id)
        connection.close()
        target = out / day.isoformat()
        publish_folder(staging, target)
    except (duckdb.Error, OSError, ValueError) as error:
        raise CommandError(f"exporting {database} to {out} failed, nothing was written: {one_line(error)}") from error
    finally:
        connection.close()
        with contextlib.suppress(OSError):
            shutil.rmtree(staging)
    return target, families


def run(args: argparse.Namespace) -> int:
    database = resolve_database(args.database)
    target, families = export(database, args.out, args.as_of_date)
    for family, segments in families.items():
        exported = [segment for segment in segments if segment.status == "exported"]
        print(
            f"{target / family}: {len(exported)} of {len(segments)} segments exported, "
            f"{sum(segment.files['audience.parquet']['rows'] for segment in exported):,} audience rows"
        )
    return 0
