"""segments export, the holdout groups and segment_lift, on one small generated data set
with a planted campaign effect, built for two consecutive as-of dates (one full build and
one as-of rebuild for the whole module) and audited once. Every expectation is recomputed here from the restricted
or raw data (hashlib, the raw files), not read back from the code under test."""

from __future__ import annotations

import hashlib
import json
import math
import re
import shutil
import subprocess
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from dbt_runner import run_dbt, run_segments
from segments.audit import audit_stamp_path, latest_build, write_audit_stamp

FIRST_DAY, SECOND_DAY = date(2026, 4, 15), date(2026, 4, 16)
PLANTED_FAMILY, PLANTED_SEGMENT, UPLIFT = "lifecycle", "active", 0.4
HOLDOUT_SHARE, MIN_AUDIENCE, SALT = 0.5, 30, "segments-holdout-v1"
BUILD_VARS = {"activation_holdout_share": HOLDOUT_SHARE, "activation_min_audience_size": MIN_AUDIENCE}
Z_95 = 1.959963984540054  # two-sided 95% normal quantile


@dataclass(frozen=True)
class Built:
    raw: Path
    database: Path
    work_dir: Path


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def read(database: Path, sql: str) -> pd.DataFrame:
    with duckdb.connect(str(database), read_only=True) as connection:
        return connection.execute(sql).df()


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """3,000 people over 400 days, UPLIFT planted for lifecycle/active from FIRST_DAY; built
    for FIRST_DAY, then rebuilt for SECOND_DAY (as_of_rebuild, as segments backfill does),
    then stamped."""
    work_dir = tmp_path_factory.mktemp("activation")
    raw = work_dir / "raw"
    generated = run_segments(
        [
            "generate",
            "--customers",
            "3000",
            "--days",
            "400",
            "--out",
            str(raw),
            "--plant-lift",
            f"{PLANTED_FAMILY}/{PLANTED_SEGMENT}:{FIRST_DAY}:{UPLIFT}",
            "--plant-holdout-share",
            str(HOLDOUT_SHARE),
        ]
    )
    assert generated.returncode == 0, generated.stderr
    database = work_dir / "warehouse.duckdb"
    loaded = run_segments(["load", "--from", str(raw), "--database", str(database)])
    assert loaded.returncode == 0, loaded.stderr
    run_dbt(["build"], database, work_dir, {"as_of_date": FIRST_DAY.isoformat(), **BUILD_VARS})
    # what segments backfill runs for one more date: it vouches on top of the passed build
    selector = ["build", "--selector", "as_of_rebuild"]
    run_dbt(selector, database, work_dir, {"as_of_date": SECOND_DAY.isoformat(), **BUILD_VARS})
    # the stamp segments check writes when every critical expectation passed (the suites
    # themselves are test_quality's business): the export's gate is what is tested here
    with duckdb.connect(str(database), read_only=True) as connection:
        build = latest_build(connection)
    assert build is not None and build.status == "passed"
    write_audit_stamp(database, build, critical_failures=0)
    return Built(raw, database, work_dir)


@pytest.fixture(scope="module")
def exports(built: Built, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("exports")
    for day in (FIRST_DAY, SECOND_DAY):
        result = run_segments(
            ["export", "--database", str(built.database), "--out", str(out), "--as-of-date", str(day)]
        )
        assert result.returncode == 0, result.stderr
    return out


def manifest(out: Path, day: date, family: str) -> dict[str, object]:
    loaded: dict[str, object] = json.loads((out / day.isoformat() / family / "manifest.json").read_text())
    return loaded


def segments_of(out: Path, day: date, family: str) -> list[dict[str, object]]:
    return list(manifest(out, day, family)["segments"])  # type: ignore[call-overload]


def keys(path: Path) -> set[tuple[str | None, str | None]]:
    frame = pd.read_parquet(path)
    assert list(frame.columns) == ["email_sha256", "phone_sha256"]
    return {
        (None if pd.isna(email) else email, None if pd.isna(phone) else phone)
        for email, phone in frame.itertuples(index=False)
    }


def exported_files(out: Path, day: date, kind: str = "audience") -> dict[tuple[str, str], Path]:
    files = {}
    for family_folder in sorted((out / day.isoformat()).iterdir()):
        for segment in segments_of(out, day, family_folder.name):
            entries = segment["files"]
            assert isinstance(entries, dict)
            if f"{kind}.parquet" in entries:
                files[(family_folder.name, str(segment["segment_name"]))] = (
                    family_folder / entries[f"{kind}.parquet"]["path"]
                )
    return files


def restricted_audiences(built: Built, day: date) -> pd.DataFrame:
    """Every marketable member of the date with its raw contact data (restricted models)."""
    return read(
        built.database,
        "select audiences.*, contacts.email, contacts.phone_e164, contacts.anchor_customer_id "
        "from intermediate.int_activation__segment_audiences as audiences "
        "inner join intermediate.int_activation__customer_contacts as contacts using (customer_key) "
        f"where audiences.as_of_date = '{day}'",
    )


def expected_keys(members: pd.DataFrame) -> set[tuple[str | None, str | None]]:
    return {
        (None if email is None else sha256(email), None if phone is None else sha256(phone))
        for email, phone in zip(
            members["email"].astype(object).where(members["email"].notna(), None),
            members["phone_e164"].astype(object).where(members["phone_e164"].notna(), None),
            strict=True,
        )
    }


# --- match keys -------------------------------------------------------------------------------


def test_audiences_are_sha256_of_the_restricted_contacts(built: Built, exports: Path) -> None:
    members = restricted_audiences(built, SECOND_DAY)
    files = exported_files(exports, SECOND_DAY)
    assert len(files) >= 3
    for (family, segment_name), path in files.items():
        exported = members[
            (members.segment_family == family) & (members.segment_name == segment_name) & members.is_exported
        ]
        assert keys(path) == expected_keys(exported), (family, segment_name)


def test_contacts_are_the_normalised_raw_values_and_no_raw_value_is_exported(built: Built, exports: Path) -> None:
    raw = pd.read_parquet(built.raw / "customers.parquet")
    raw_emails = {str(email).strip().lower() for email in raw["email"].dropna()}
    raw_phones = {"+" + "".join(ch for ch in str(phone) if ch.isdigit()) for phone in raw["phone"].dropna()}
    contacts = read(built.database, "select email, phone_e164 from intermediate.int_activation__customer_contacts")
    assert set(contacts["email"].dropna()) <= raw_emails
    assert set(contacts["phone_e164"].dropna()) <= raw_phones
    assert contacts["phone_e164"].notna().sum() > 100
    # every line of every file is the header or two hexadecimal SHA-256 values (or empty)
    key_line = re.compile(r"([0-9a-f]{64})?,([0-9a-f]{64})?")
    csv_files = list((exports / SECOND_DAY.isoformat()).rglob("*.csv"))
    assert len(csv_files) > 10
    for path in csv_files:
        header, *lines = path.read_text().splitlines()
        assert header == "email_sha256,phone_sha256"
        assert all(key_line.fullmatch(line) for line in lines), path


# --- deltas and manifests ---------------------------------------------------------------------


def test_previous_plus_entered_minus_exited_is_current(exports: Path) -> None:
    first, second = exported_files(exports, FIRST_DAY), exported_files(exports, SECOND_DAY)
    entered, exited = exported_files(exports, SECOND_DAY, "entered"), exported_files(exports, SECOND_DAY, "exited")
    assert manifest(exports, SECOND_DAY, "rfm")["previous_export_as_of_date"] == FIRST_DAY.isoformat()
    changed = 0
    for segment, path in second.items():
        previous = keys(first[segment]) if segment in first else set()
        current, added, removed = keys(path), keys(entered[segment]), keys(exited[segment])
        assert (previous | added) - removed == current, segment
        assert not added & previous and removed <= previous
        changed += len(added) + len(removed)
    assert changed > 0  # a day later, someone moved
    # the first export has nothing before it: everyone entered
    for segment, path in first.items():
        assert keys(exported_files(exports, FIRST_DAY, "entered")[segment]) == keys(path)


def test_manifest_lists_rows_and_sha256_of_every_file(exports: Path) -> None:
    for family_folder in (exports / SECOND_DAY.isoformat()).iterdir():
        document = manifest(exports, SECOND_DAY, family_folder.name)
        assert document["as_of_date"] == SECOND_DAY.isoformat()
        assert document["vars"]["activation_holdout_share"] == HOLDOUT_SHARE  # type: ignore[index]
        listed = set()
        for segment in segments_of(exports, SECOND_DAY, family_folder.name):
            for entry in segment["files"].values():  # type: ignore[attr-defined]
                path = family_folder / entry["path"]
                listed.add(path.name)
                assert hashlib.sha256(path.read_bytes()).hexdigest() == entry["sha256"]
                rows = len(pd.read_parquet(path)) if path.suffix == ".parquet" else len(pd.read_csv(path))
                assert rows == entry["rows"]
        assert listed == {path.name for path in family_folder.iterdir()} - {"manifest.json"}


def test_small_segments_are_skipped_with_their_reason(built: Built, exports: Path) -> None:
    members = restricted_audiences(built, SECOND_DAY)
    sizes = members[~members.is_holdout].groupby(["segment_family", "segment_name"]).size()
    statuses = {}
    for family_folder in (exports / SECOND_DAY.isoformat()).iterdir():
        for segment in segments_of(exports, SECOND_DAY, family_folder.name):
            name = str(segment["segment_name"])
            size = int(sizes.get((family_folder.name, name), 0))
            assert segment["audience_customers"] == size
            statuses[(family_folder.name, name)] = segment["status"]
            if size < MIN_AUDIENCE:
                assert segment["status"] == "skipped"
                assert f"below activation_min_audience_size {MIN_AUDIENCE}" in str(segment["reason"])
                assert "audience.parquet" not in segment["files"]  # type: ignore[operator]
            else:
                assert segment["status"] == "exported" and segment["reason"] is None
    assert "skipped" in statuses.values() and "exported" in statuses.values()


# --- who is exported ----------------------------------------------------------------------------


def test_holdouts_are_stable_across_two_days_and_the_draw_is_the_documented_hash(built: Built) -> None:
    audiences = read(
        built.database,
        "select audiences.*, contacts.anchor_customer_id from intermediate.int_activation__segment_audiences "
        "as audiences inner join intermediate.int_activation__customer_contacts as contacts using (customer_key)",
    )
    draws = [
        int(sha256(f"{SALT}:{family}:{name}:{anchor}")[:13], 16) / 2**52
        for family, name, anchor in zip(
            audiences.segment_family, audiences.segment_name, audiences.anchor_customer_id, strict=True
        )
    ]
    assert list(audiences.is_holdout) == [draw < HOLDOUT_SHARE for draw in draws]
    both = audiences.pivot_table(
        index=["segment_family", "segment_name", "customer_key"], columns="as_of_date", values="is_holdout"
    ).dropna()
    assert len(both) > 1000 and (both.iloc[:, 0] == both.iloc[:, 1]).all()
    assert 0.45 < audiences.is_holdout.mean() < 0.55
    holdouts = read(built.database, "select * from marts.segment_holdouts")
    assert len(holdouts) == int(audiences.is_holdout.sum())


def test_holdout_and_unmarketable_customers_are_absent(built: Built, exports: Path) -> None:
    events = pd.read_parquet(built.raw / "email_events.parquet")
    erasures = pd.read_parquet(built.raw / "erasure_requests.parquet")
    end = pd.Timestamp(SECOND_DAY) + pd.Timedelta(days=1)
    events = events[events.occurred_at < end].assign(email=lambda frame: frame.email.str.strip().str.lower())
    unsubscribed = set(events[events.event_type == "unsubscribe"].email)
    reached = events[events.event_type.isin(["delivered", "open", "click"])].groupby("email").occurred_at.max()
    bounced = events[events.event_type == "bounce"].groupby("email").occurred_at.max()
    hard_bounced = {email for email, at in bounced.items() if not (email in reached and reached[email] > at)}
    # consent of the customer's latest CRM version over all their accounts (the accounts a
    # customer holds come from identity resolution; the versions from staging)
    accounts = read(
        built.database,
        "select keys.customer_key, crm.customer_id, crm.email, crm.is_marketing_opted_in, crm.updated_at "
        "from staging.stg_crm__customers as crm inner join intermediate.int_identity__identifier_keys as keys "
        "on keys.identifier_type = 'customer_id' and keys.identifier_value = crm.customer_id",
    ).sort_values(["updated_at", "customer_id"], ascending=[True, False])
    latest = accounts.groupby("customer_key").tail(1)
    opted_out = set(latest[latest.is_marketing_opted_in != True].email.dropna())  # noqa: E712
    erased = set(erasures.email.dropna().str.strip().str.lower())
    members = restricted_audiences(built, SECOND_DAY)
    holdout_emails = set(members[members.is_holdout].email.dropna()) - set(members[members.is_exported].email.dropna())
    exported = {email for path in exported_files(exports, SECOND_DAY).values() for email, _ in keys(path)}
    for name, emails in {
        "unsubscribed": unsubscribed,
        "hard bounced": hard_bounced,
        "opted out": opted_out,
        "erased": erased,
    }.items():
        assert len(emails) > 0, name
        assert not {sha256(email) for email in emails} & exported, name
    for family, segment in exported_files(exports, SECOND_DAY):
        held_out = members[(members.segment_family == family) & (members.segment_name == segment) & members.is_holdout]
        assert not {sha256(email) for email in held_out.email.dropna()} & {
            e for e, _ in keys(exported_files(exports, SECOND_DAY)[(family, segment)])
        }
    assert holdout_emails


# --- the gate and atomicity -------------------------------------------------------------------


def copy_warehouse(built: Built, tmp_path: Path, with_stamp: bool) -> Path:
    database = tmp_path / "warehouse.duckdb"
    shutil.copy(built.database, database)
    if with_stamp:
        shutil.copy(audit_stamp_path(built.database), audit_stamp_path(database))
    return database


def assert_refused(result: subprocess.CompletedProcess[str], fragment: str) -> None:
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "refusing to export" in lines[0] and fragment in lines[0], result.stderr


def test_export_refuses_a_warehouse_whose_audit_did_not_pass(built: Built, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    unchecked = copy_warehouse(built, tmp_path, with_stamp=False)
    assert_refused(run_segments(["export", "--database", str(unchecked), "--out", str(out)]), "no audit stamp")
    failed = copy_warehouse(built, tmp_path, with_stamp=True)
    with duckdb.connect(str(failed)) as connection:
        connection.execute(
            "update audit.dbt_builds set status = 'failed', reason = 'a test failed' "
            "where build_number = (select max(build_number) from audit.dbt_builds)"
        )
    assert_refused(run_segments(["export", "--database", str(failed), "--out", str(out)]), "failed")
    assert list(out.iterdir()) == []


def test_a_failed_export_leaves_no_partial_folder(
    built: Built, exports: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from segments import export as export_module
    from segments.errors import CommandError

    out = tmp_path / "out"
    shutil.copytree(exports, out)
    shutil.rmtree(out / FIRST_DAY.isoformat())
    before = sorted(str(path.relative_to(out)) for path in out.rglob("*"))
    old_manifest = (out / SECOND_DAY.isoformat() / "rfm" / "manifest.json").read_text()
    calls = {"count": 0}
    real_sha256 = export_module.file_sha256

    def failing_sha256(path: Path) -> str:
        calls["count"] += 1
        if calls["count"] == 5:
            raise OSError(28, "No space left on device")
        return real_sha256(path)

    monkeypatch.setattr(export_module, "file_sha256", failing_sha256)
    for day in (FIRST_DAY, SECOND_DAY):
        calls["count"] = 0
        with pytest.raises(CommandError, match="nothing was written"):
            export_module.export(built.database, out, day)
    # a new date that failed is absent; a re-export that failed left the old export whole
    assert sorted(str(path.relative_to(out)) for path in out.rglob("*")) == before
    assert (out / SECOND_DAY.isoformat() / "rfm" / "manifest.json").read_text() == old_manifest


# --- measured lift ----------------------------------------------------------------------------


def lift_row(built: Built, period: int) -> pd.Series:
    rows = read(
        built.database,
        f"select * from marts.segment_lift where as_of_date = '{FIRST_DAY}' and segment_family = '{PLANTED_FAMILY}' "
        f"and segment_name = '{PLANTED_SEGMENT}' and period_number = {period}",
    )
    assert len(rows) == 1
    return rows.iloc[0]


def test_statistics_follow_the_formulas(built: Built) -> None:
    rows = read(built.database, "select * from marts.segment_lift where chi_square is not null")
    assert len(rows) > 10
    for row in rows.itertuples():
        n1, n2, a, c = (
            row.exported_customers,
            row.holdout_customers,
            row.exported_converted_customers,
            row.holdout_converted_customers,
        )
        p1, p2 = a / n1, c / n2
        b, d = n1 - a, n2 - c
        chi_square = (n1 + n2) * (a * d - b * c) ** 2 / ((a + b) * (c + d) * (a + c) * (b + d))
        margin = Z_95 * math.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
        assert row.absolute_lift == pytest.approx(p1 - p2, abs=1e-12)
        assert row.chi_square == pytest.approx(chi_square, rel=1e-9)
        assert row.p_value == pytest.approx(math.erfc(math.sqrt(chi_square / 2)), rel=1e-6, abs=1e-12)
        assert row.lift_ci_lower == pytest.approx(p1 - p2 - margin, abs=1e-9)
        assert row.lift_ci_upper == pytest.approx(p1 - p2 + margin, abs=1e-9)


def test_the_planted_lift_is_recovered_and_none_is_found_where_none_was_planted(built: Built) -> None:
    planted = lift_row(built, 1)
    # the planted order converts those who would not have converted anyway
    expected = UPLIFT * (1 - planted.holdout_conversion_rate)
    assert planted.lift_ci_lower <= expected <= planted.lift_ci_upper
    assert planted.lift_ci_lower > 0 and planted.p_value < 0.01
    # the plant covers the 30 days after the export only: nothing in the next period
    later = lift_row(built, 2)
    assert later.lift_ci_lower <= 0 <= later.lift_ci_upper


def test_a_segment_that_lost_every_member_exits_everyone(built: Built, exports: Path, tmp_path: Path) -> None:
    from segments import export as export_module

    out = tmp_path / "out"
    shutil.copytree(exports / FIRST_DAY.isoformat(), out / FIRST_DAY.isoformat())
    folder = out / FIRST_DAY.isoformat() / "lifecycle"
    # the first export also held a segment that has nobody today
    document = manifest(out, FIRST_DAY, "lifecycle")
    segments = list(document["segments"])  # type: ignore[call-overload]
    ghost = json.loads(json.dumps(segments[0]))
    shutil.copy(folder / ghost["files"]["audience.parquet"]["path"], folder / "ghost.audience.parquet")
    ghost.update(segment_name="ghost", files={"audience.parquet": {"path": "ghost.audience.parquet"}})
    document["segments"] = [*segments, ghost]
    (folder / "manifest.json").write_text(json.dumps(document))
    export_module.export(built.database, out, SECOND_DAY)
    listed = {str(segment["segment_name"]): segment for segment in segments_of(out, SECOND_DAY, "lifecycle")}
    assert listed["ghost"]["status"] == "skipped" and "0 customers" in str(listed["ghost"]["reason"])
    exited = out / SECOND_DAY.isoformat() / "lifecycle" / "ghost.exited.parquet"
    assert keys(exited) == keys(folder / "ghost.audience.parquet") and len(keys(exited)) > 0
    assert not (out / SECOND_DAY.isoformat() / "lifecycle" / "ghost.audience.parquet").exists()


@pytest.mark.parametrize(
    ("plant", "fragment"),
    [
        ("active:2026-04-15:0.05", "is not FAMILY/SEGMENT:DATE:UPLIFT"),
        ("lifecycle/active:2026-04-15:1.5", "UPLIFT must lie in (0, 1]"),
        ("lifecycle/active:2026-13-01:0.05", "month must be in 1..12"),
    ],
)
def test_a_bad_plant_is_refused_in_one_line(tmp_path: Path, plant: str, fragment: str) -> None:
    result = run_segments(["generate", "--customers", "10", "--out", str(tmp_path / "raw"), "--plant-lift", plant])
    assert result.returncode == 2 and fragment in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "raw").exists()


def test_the_generator_draws_holdouts_as_the_warehouse_does(built: Built) -> None:
    from segments.generation.plant import holdout_draw

    rows = read(
        built.database,
        "select contacts.anchor_customer_id, audiences.segment_family, audiences.segment_name, audiences.is_holdout "
        "from intermediate.int_activation__segment_audiences as audiences "
        "inner join intermediate.int_activation__customer_contacts as contacts using (customer_key)",
    )
    assert len(rows) > 1000
    assert [
        holdout_draw(SALT, family, name, anchor) < HOLDOUT_SHARE
        for anchor, family, name in zip(rows.anchor_customer_id, rows.segment_family, rows.segment_name, strict=True)
    ] == list(rows.is_holdout)
