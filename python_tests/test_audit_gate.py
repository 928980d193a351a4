"""The audit gate: check and publish vouch only for the build the warehouse records, and a
publish can never damage the warehouse or leave BI unreadable."""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from dbt_runner import BIN, PROJECT_ROOT, SAMPLE_RAW, dbt_environment, run_dbt, run_segments

PERSONAL_DATA_MARTS = {
    "restricted_customer_profiles",
    "restricted_customer_contacts",
    "customer_identifiers",
    "identity_exclusions",
}


def good_copy(sample_warehouse: Path, tmp_path: Path) -> Path:
    """A copy of the sample warehouse, whose latest recorded build passed."""
    database = tmp_path / "warehouse.duckdb"
    shutil.copy(sample_warehouse, database)
    return database


def check(database: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return run_segments(["check", "--database", str(database), "--context-dir", str(tmp_path / "context")])


def publish(database: Path, published: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return run_segments(["publish", "--database", str(database), "--published", str(published), *extra])


def assert_one_line_error(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def raw_tables(database: Path) -> set[str]:
    with duckdb.connect(str(database), read_only=True) as connection:
        return {
            row[0]
            for row in connection.execute("select table_name from duckdb_tables() where schema_name = 'raw'").fetchall()
        }


# --- 1. the audit vouches for the build that made this warehouse, and only that one ----------


@pytest.mark.slow
def test_a_build_killed_part_way_passes_neither_check_nor_publish(sample_warehouse: Path, tmp_path: Path) -> None:
    database = good_copy(sample_warehouse, tmp_path)
    assert run_segments(["load", "--from", str(SAMPLE_RAW), "--database", str(database)]).returncode == 0
    log = tmp_path / "build.log"
    with log.open("w") as output:
        build = subprocess.Popen(
            [str(BIN / "dbt"), "build"],
            cwd=PROJECT_ROOT,
            stdout=output,
            stderr=subprocess.STDOUT,
            env=dbt_environment(database, tmp_path),
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 300
        while "START sql" not in log.read_text() and build.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert build.poll() is None, log.read_text()[-3000:]
        time.sleep(1)
        os.killpg(build.pid, signal.SIGKILL)  # kill -9, part-way through the models
    finally:
        build.wait()
    # the previous build's run_results.json still says every node passed
    assert json.loads((sample_warehouse.parent / "target" / "run_results.json").read_text())["results"]
    checked = check(database, tmp_path)
    assert_one_line_error(checked, "never finished")
    published = tmp_path / "published.duckdb"
    assert_one_line_error(publish(database, published), "refusing to publish", "never finished")
    assert not published.exists()


@pytest.mark.slow
def test_a_failed_build_then_docs_generate_passes_neither_check_nor_publish(
    sample_warehouse: Path, tmp_path: Path
) -> None:
    database = good_copy(sample_warehouse, tmp_path)
    failed = run_dbt(
        ["build", "--fail-fast"], database, tmp_path, {"identity_max_iterations": 1}, check=False, artefacts=True
    )
    assert failed.returncode != 0
    run_dbt(["docs", "generate"], database, tmp_path)
    # docs generate rewrote run_results.json with nothing but successes
    results = json.loads((tmp_path / "target" / "run_results.json").read_text())["results"]
    assert {result["status"] for result in results} <= {"success"}
    assert_one_line_error(check(database, tmp_path), "is not vouched for")
    published = tmp_path / "published.duckdb"
    assert_one_line_error(publish(database, published), "refusing to publish")
    assert not published.exists()


@pytest.mark.slow
def test_docs_generate_after_a_good_build_and_check_does_not_stop_publish(
    sample_warehouse: Path, tmp_path: Path
) -> None:
    database = good_copy(sample_warehouse, tmp_path)
    checked = check(database, tmp_path)
    assert checked.returncode == 0, checked.stderr
    before = database.stat().st_mtime_ns
    run_dbt(["docs", "generate"], database, tmp_path)
    assert database.stat().st_mtime_ns != before  # docs generate touches the warehouse file
    published = tmp_path / "published.duckdb"
    result = publish(database, published)
    assert result.returncode == 0, result.stderr
    with duckdb.connect(str(published), read_only=True) as connection:
        assert connection.execute("select count(*) from marts.customer_segments").fetchall()[0][0] > 0


@pytest.mark.slow
def test_a_load_after_a_good_build_stops_check_and_publish_until_rebuilt(
    sample_warehouse: Path, tmp_path: Path
) -> None:
    database = good_copy(sample_warehouse, tmp_path)
    assert check(database, tmp_path).returncode == 0
    loaded = run_segments(["load", "--from", str(SAMPLE_RAW), "--database", str(database)])
    assert loaded.returncode == 0, loaded.stderr
    published = tmp_path / "published.duckdb"
    assert_one_line_error(publish(database, published), "raw data changed")
    # checking again without a build does not vouch for the new raw data either
    assert_one_line_error(check(database, tmp_path), "raw data changed")
    assert_one_line_error(publish(database, published), "raw data changed")
    assert not published.exists()


@pytest.mark.slow
def test_a_partial_build_does_not_vouch_for_the_warehouse(sample_warehouse: Path, tmp_path: Path) -> None:
    database = good_copy(sample_warehouse, tmp_path)
    run_dbt(["build", "--select", "segment_catalog"], database, tmp_path)
    assert_one_line_error(check(database, tmp_path), "partial", "--select")
    with duckdb.connect(str(database), read_only=True) as connection:
        status = connection.execute(
            "select status from audit.dbt_builds order by build_number desc limit 1"
        ).fetchall()[0][0]
    assert status == "partial"


def latest_status(database: Path) -> str:
    with duckdb.connect(str(database), read_only=True) as connection:
        return str(
            connection.execute("select status from audit.dbt_builds order by build_number desc limit 1").fetchall()[0][
                0
            ]
        )


@pytest.mark.slow
def test_an_as_of_rebuild_vouches_only_on_top_of_a_passed_build_of_the_same_raw_data(
    sample_warehouse: Path, tmp_path: Path
) -> None:
    """segments backfill's selection passes after a passed build, not after a partial one or a load."""
    database = good_copy(sample_warehouse, tmp_path)
    rebuild = ["build", "--selector", "as_of_rebuild"]
    run_dbt(rebuild, database, tmp_path / "first", {"as_of_date": "2026-05-31"})
    assert latest_status(database) == "passed"
    assert check(database, tmp_path).returncode == 0
    # a chain of rebuilds (a backfill of several dates) keeps vouching
    run_dbt(rebuild, database, tmp_path / "second", {"as_of_date": "2026-04-30"})
    assert latest_status(database) == "passed"
    # after a partial build, a rebuild does not vouch: what the partial build changed was not tested
    run_dbt(["build", "--select", "segment_catalog"], database, tmp_path / "partial")
    run_dbt(rebuild, database, tmp_path / "third", {"as_of_date": "2026-05-31"})
    assert latest_status(database) == "partial"
    assert_one_line_error(check(database, tmp_path), "partial")


@pytest.mark.slow
def test_publish_requires_a_passing_check_of_the_recorded_build(sample_warehouse: Path, tmp_path: Path) -> None:
    database = good_copy(sample_warehouse, tmp_path)
    published = tmp_path / "published.duckdb"
    assert_one_line_error(publish(database, published), "no audit stamp")
    # a stamp that names another build does not count
    stamp = database.with_name(database.name + ".audit.json")
    stamp.write_text(json.dumps({"build_invocation_id": "another", "raw_identity": None, "passed": True}))
    assert_one_line_error(publish(database, published), "has not audited dbt build")
    assert check(database, tmp_path).returncode == 0
    recorded = json.loads(stamp.read_text())
    with duckdb.connect(str(database), read_only=True) as connection:
        invocation_id = connection.execute(
            "select invocation_id from audit.dbt_builds order by build_number desc limit 1"
        ).fetchall()[0][0]
    assert recorded["build_invocation_id"] == invocation_id and recorded["passed"] is True
    # a check whose critical expectations failed
    stamp.write_text(json.dumps({**recorded, "passed": False, "critical_expectation_failures": 2}))
    assert_one_line_error(publish(database, published), "2 critical expectation(s) failed")
    assert not published.exists()
    assert publish(database, published, "--force").returncode == 0


# --- 2. publishing never damages the warehouse nor leaves BI unreadable -----------------------


@pytest.mark.slow
def test_publish_refuses_every_other_name_of_the_warehouse(sample_warehouse: Path, tmp_path: Path) -> None:
    database = good_copy(sample_warehouse, tmp_path)
    tables = raw_tables(database)
    (tmp_path / "x").mkdir()
    symlink = tmp_path / "symlink.duckdb"
    symlink.symlink_to(database)
    hard_link = tmp_path / "hardlink.duckdb"
    os.link(database, hard_link)
    for alias in (database, symlink, hard_link, tmp_path / "x" / ".." / "warehouse.duckdb"):
        result = subprocess.run(
            [str(BIN / "segments"), "publish", "--force", "--database", str(database)],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, "SEGMENTS_PUBLISHED_PATH": str(alias)},
        )
        assert_one_line_error(result, "is the warehouse")
    assert raw_tables(database) == tables and tables


@pytest.mark.slow
def test_a_stale_wal_of_the_published_file_never_breaks_the_new_publication(
    sample_warehouse: Path, tmp_path: Path
) -> None:
    database = good_copy(sample_warehouse, tmp_path)
    published = tmp_path / "published.duckdb"
    assert publish(database, published, "--force").returncode == 0
    # a client writes to the published file and is killed before it checkpoints
    writer = subprocess.run(
        [
            sys.executable,
            "-c",
            (
                "import duckdb, os, sys\n"
                "connection = duckdb.connect(sys.argv[1])\n"
                "connection.execute(\"set checkpoint_threshold = '10GB'\")\n"
                "connection.execute('create table main.scribble as select range as n from range(1000)')\n"
                "os._exit(9)\n"
            ),
            str(published),
        ],
        check=False,
    )
    assert writer.returncode == 9
    assert published.with_name("published.duckdb.wal").exists()
    result = publish(database, published, "--force")
    assert result.returncode == 0, result.stderr
    with duckdb.connect(str(published), read_only=True) as connection:
        assert connection.execute("select count(*) from marts.customer_segments").fetchall()[0][0] > 0


# Linux inotify (ctypes): what happened to each name in a folder, in order
IN_MODIFY, IN_CLOSE_WRITE, IN_MOVED_FROM, IN_MOVED_TO = 0x2, 0x8, 0x40, 0x80
IN_CREATE, IN_DELETE, IN_Q_OVERFLOW = 0x100, 0x200, 0x4000
WATCHED = IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO | IN_CREATE | IN_DELETE
EVENT_HEADER = struct.Struct("iIII")  # struct inotify_event: wd, mask, cookie, len (then the name)


def folder_events(
    folder: Path, action: Callable[[], subprocess.CompletedProcess[str]]
) -> tuple[subprocess.CompletedProcess[str], list[tuple[str, int]]]:
    """What action returned, and (name, mask) of every change in folder while it ran, in order."""
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    descriptor = libc.inotify_init1(os.O_NONBLOCK)
    assert descriptor >= 0, os.strerror(ctypes.get_errno())
    try:
        assert libc.inotify_add_watch(descriptor, os.fsencode(folder), WATCHED) >= 0, os.strerror(ctypes.get_errno())
        result = action()
        buffer = b""
        while True:
            try:
                chunk = os.read(descriptor, 1 << 16)
            except BlockingIOError:
                break
            buffer += chunk
    finally:
        os.close(descriptor)
    events, offset = [], 0
    while offset < len(buffer):
        _, mask, _, length = EVENT_HEADER.unpack_from(buffer, offset)
        start = offset + EVENT_HEADER.size
        events.append((buffer[start : start + length].rstrip(b"\0").decode(), mask))
        offset = start + length
    return result, events


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="inotify is Linux's")
def test_publish_changes_the_published_file_only_by_renaming_a_complete_one_over_it(
    sample_warehouse: Path, tmp_path: Path
) -> None:
    # what makes a publication atomic for BI: the published name is never created, written,
    # truncated or removed in place, only replaced by a rename of a finished file (a reader
    # polling the file, as in test_quality.py, would rarely catch a write of a few ms)
    database = good_copy(sample_warehouse, tmp_path)
    folder = tmp_path / "bi"
    folder.mkdir()
    published = folder / "published.duckdb"
    for publication in ("first", "over the last one"):
        result, events = folder_events(folder, lambda: publish(database, published, "--force"))
        assert result.returncode == 0, result.stderr
        assert not any(mask & IN_Q_OVERFLOW for _, mask in events), "inotify dropped events"
        on_published = [mask for name, mask in events if name == published.name]
        assert on_published == [IN_MOVED_TO], (publication, events)
        renamed_from = [name for name, mask in events if mask & IN_MOVED_FROM]
        assert len(renamed_from) == 1 and renamed_from[0] != published.name, (publication, events)


@pytest.mark.slow
def test_publish_removes_temporary_files_of_killed_publishes(sample_warehouse: Path, tmp_path: Path) -> None:
    database = good_copy(sample_warehouse, tmp_path)
    published = tmp_path / "published.duckdb"
    dead_pid = subprocess.Popen([sys.executable, "-c", "pass"])  # a process id nobody uses now
    dead_pid.wait()
    stale = [
        tmp_path / f".published.duckdb.{dead_pid.pid}.tmp",
        tmp_path / f".published.duckdb.{dead_pid.pid}.0123abcd.tmp",
        tmp_path / f".published.duckdb.{dead_pid.pid}.0123abcd.tmp.wal",
    ]
    for path in stale:
        path.write_bytes(b"left by a killed publish")
    unrelated = tmp_path / ".other.duckdb.1.tmp"
    unrelated.write_bytes(b"not ours")
    assert publish(database, published, "--force").returncode == 0
    assert not any(path.exists() for path in stale)
    assert unrelated.exists()
    assert sorted(path.name for path in tmp_path.iterdir() if path.name.startswith(".published")) == []


@pytest.mark.slow
def test_publish_failures_are_one_line_errors(sample_warehouse: Path, tmp_path: Path) -> None:
    database = good_copy(sample_warehouse, tmp_path)
    assert_one_line_error(publish(database, tmp_path / "missing" / "published.duckdb", "--force"), "does not exist")
    (tmp_path / "folder.duckdb").mkdir()
    assert_one_line_error(publish(database, tmp_path / "folder.duckdb", "--force"), "is a directory")
    with duckdb.connect(str(database)):  # another process would hold the write lock like this
        assert_one_line_error(publish(database, tmp_path / "published.duckdb", "--force"), "cannot open the warehouse")
        assert_one_line_error(check(database, tmp_path), "cannot open the warehouse")
    assert not (tmp_path / "published.duckdb").exists()


def full_disk(*args: object, **kwargs: object) -> None:
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


@pytest.mark.slow
def test_a_full_disk_fails_publish_and_check_with_one_line_and_leaves_no_temporary_file(
    sample_warehouse: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from segments import audit, cli, gx_checks
    from segments import publish as publish_module

    database = good_copy(sample_warehouse, tmp_path)
    published = tmp_path / "published.duckdb"
    monkeypatch.setattr(publish_module.os, "replace", full_disk)
    assert cli.main(["publish", "--force", "--database", str(database), "--published", str(published)]) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and "No space left on device" in error[0], error
    assert not published.exists()
    assert [path.name for path in tmp_path.iterdir() if path.name.endswith((".tmp", ".tmp.wal"))] == []
    monkeypatch.undo()

    # GX writes its Data Docs, check writes its stamp: both on a full disk
    monkeypatch.setattr(gx_checks, "run_checks", full_disk)
    assert cli.main(["check", "--database", str(database), "--context-dir", str(tmp_path / "context")]) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and "No space left on device" in error[0], error
    monkeypatch.setattr(gx_checks, "run_checks", lambda *args, **kwargs: gx_checks.CheckReport())
    monkeypatch.setattr(audit.os, "replace", full_disk)
    assert cli.main(["check", "--database", str(database), "--context-dir", str(tmp_path / "context")]) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and "No space left on device" in error[0], error


# --- what reaches BI: an allow-list declared in dbt, with its descriptions ----------------------


def flagged_models(target: Path) -> dict[str, dict]:
    manifest = json.loads((target / "manifest.json").read_text())
    return {
        node["name"]: node
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["config"].get("meta", {}).get("publish") is True
    }


@pytest.mark.slow
def test_only_models_marked_publish_reach_bi_with_their_comments(sample_warehouse: Path, tmp_path: Path) -> None:
    database = good_copy(sample_warehouse, tmp_path)
    with duckdb.connect(str(database)) as connection:  # a new mart that nobody marked publish
        connection.execute("create table marts.new_mart_with_emails as select 'a@example.com' as email")
    published = tmp_path / "published.duckdb"
    result = publish(database, published, "--force")
    assert result.returncode == 0, result.stderr
    flagged = flagged_models(sample_warehouse.parent / "target")
    assert PERSONAL_DATA_MARTS.isdisjoint(flagged) and "customer_segments" in flagged
    with duckdb.connect(str(published), read_only=True) as connection:
        tables = {
            (schema, name)
            for schema, name in connection.execute("select schema_name, table_name from duckdb_tables()").fetchall()
        }
        comments = dict(
            connection.execute(
                "select column_name, comment from duckdb_columns() "
                "where schema_name = 'marts' and table_name = 'customer_segments'"
            ).fetchall()
        )
        table_comment = connection.execute(
            "select comment from duckdb_tables() where table_name = 'customer_segments'"
        ).fetchall()[0][0]
    assert tables == {("marts", name) for name in flagged} | {("marts", "publication")}
    described = flagged["customer_segments"]["columns"]["customer_key"]["description"]
    assert described and comments["customer_key"] == described
    assert table_comment == flagged["customer_segments"]["description"]


# --- the command line stays light -------------------------------------------------------------


def test_help_and_a_mistyped_command_import_no_heavy_dependency() -> None:
    probe = (
        "import sys\n"
        "from segments.cli import main\n"
        "for argv in (['--help'], ['no-such-command']):\n"
        "    try:\n"
        "        main(argv)\n"
        "    except SystemExit:\n"
        "        pass\n"
        "heavy = ('duckdb', 'numpy', 'pandas', 'great_expectations')\n"
        "print(sorted(name for name in heavy if name in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=False)
    assert result.stdout.strip().splitlines()[-1] == "[]", result.stdout + result.stderr
    assert "invalid choice: 'no-such-command'" in result.stderr


def test_an_unexpected_database_error_is_one_line_unless_debugging(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from segments import cli
    from segments import publish as publish_module

    def locked(*args: object) -> int:
        raise duckdb.IOException('IO Error: Could not set lock on file\n"x.duckdb": Conflicting lock')

    monkeypatch.setattr(publish_module, "run", locked)
    monkeypatch.delenv("SEGMENTS_DEBUG", raising=False)
    assert cli.main(["publish", "--database", str(tmp_path / "x.duckdb")]) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert error == [
        'segments publish: error: IO Error: Could not set lock on file "x.duckdb": '
        "Conflicting lock (SEGMENTS_DEBUG=1 shows the traceback)"
    ]
    monkeypatch.setenv("SEGMENTS_DEBUG", "1")
    with pytest.raises(duckdb.IOException):
        cli.main(["publish", "--database", str(tmp_path / "x.duckdb")])
    monkeypatch.setattr(publish_module, "run", lambda args: 1 // 0)  # a real bug stays a traceback
    monkeypatch.delenv("SEGMENTS_DEBUG")
    with pytest.raises(ZeroDivisionError):
        cli.main(["publish", "--database", str(tmp_path / "x.duckdb")])
