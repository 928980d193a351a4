"""``segments diff --base REF``: what a change to the project does to the segments.

The working tree (``--project-dir``, default this project) and a git ref of it are built on
the same raw data and the same as-of date, each in a warehouse file of its own under
``--work-dir``, and their segment marts compared (segments.diff_compare), as Markdown for a
pull-request comment and, with ``--json``, as JSON.

1. The ref's files are extracted with ``git archive`` (the checkout is never touched).
2. The working tree's warehouse is loaded (its own ``segments load``) and built: every seed
   and model (``dbt build`` of seeds and models: the tests are what ``make test`` runs).
3. The base warehouse starts as a copy of it, so the raw tables, the customer key secret and
   every model the change does not touch are shared, never built twice. Both projects are
   compiled (as a full refresh) against their warehouse; a node is rebuilt when its
   fingerprint differs: its compiled SQL (every var and macro rendered), its seed file, its
   relation, its configuration (hooks, materialization, column types) and the SQL of every
   macro it calls; every node when the on-run hooks differ; the dbt Python models when
   their code (``src/segments/predictive``) differs. The base then builds those and
   everything downstream of them (``--full-refresh``), with its own Python code.
4. The comparison, and what changed: models whose SQL changed, vars whose values changed
   with the models that read them, seeds that changed.

Each side's dbt runs in a process of its own with that side's ``profiles``, ``src`` (on
PYTHONPATH, ahead of the installed package) and target folder. Raw data is loaded once, by
the working tree's loader: a change to the loader itself is not compared. ``--html`` writes
the same result as a page in the style of ``segments report`` (segments.diff_html). The command exits
0 whatever the diff is; ``--fail-above SHARE`` exits 1 when a larger share of the customers
moved (in any family). Failures to build or compare are one line and exit 2.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from segments.errors import CommandError

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_RAW = Path("sample_data") / "raw"
WAREHOUSE = "warehouse.duckdb"  # both sides' file name: dbt-duckdb names the catalog after it
BUILT_TYPES = ("model", "seed")
BUILT_TYPE_ARGUMENTS = tuple(argument for kind in BUILT_TYPES for argument in ("--resource-type", kind))
DRIFT_VARS = ("drift_psi_warn", "drift_psi_fail", "drift_share_floor")
DRIFT_FAMILY_VARS = ("drift_partition_families", "drift_warn_only_families")
# config keys that change no row of a node (documentation and selection only)
DESCRIPTIVE_CONFIG = frozenset({"tags", "meta", "docs", "group", "access", "persist_docs", "description"})
MARKER = ".segments-diff"  # in a work folder this command made (and may empty again)
PYTHON_MODELS_CODE = Path("src") / "segments" / "predictive"  # what the dbt Python models import


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--base", required=True, metavar="REF", help="the git ref to compare with (e.g. main)")
    parser.add_argument(
        "--from",
        dest="raw",
        type=Path,
        default=None,
        help=f"raw folder both sides are built on (default: the project's {DEFAULT_RAW})",
    )
    parser.add_argument(
        "--as-of-date",
        type=dt.date.fromisoformat,
        default=None,
        help="as-of date of both builds (default: the project's own, the latest date of the data)",
    )
    parser.add_argument(
        "--project-dir", type=Path, default=PROJECT_ROOT, help="the working tree to compare (default: this project)"
    )
    parser.add_argument(
        "--work-dir", type=Path, default=None, help="where the two warehouses go (default: PROJECT/target/diff)"
    )
    parser.add_argument("--out", type=Path, default=None, help="write the Markdown here (default: stdout)")
    parser.add_argument("--json", type=Path, default=None, help="also write the diff as JSON here")
    parser.add_argument(
        "--html", type=Path, default=None, help="also write the diff as a page in the style of segments report"
    )
    parser.add_argument(
        "--sample", type=int, default=10, help="how many customers who moved to show with their features"
    )
    parser.add_argument(
        "--fail-above",
        type=float,
        default=None,
        metavar="SHARE",
        help="exit 1 when more than this share of the customers moved (0 to 1)",
    )


@dataclass
class Side:
    """One of the two builds: its project folder, warehouse and artefacts."""

    name: str
    project: Path
    folder: Path

    @property
    def database(self) -> Path:
        return self.folder / WAREHOUSE

    def environment(self) -> dict[str, str]:
        environment = dict(os.environ)
        environment.update(
            {
                "DBT_PROFILES_DIR": str(self.project / "profiles"),
                "SEGMENTS_DUCKDB_PATH": str(self.database),
                "DBT_TARGET_PATH": str(self.folder / "target"),
                "DBT_LOG_PATH": str(self.folder / "logs"),
                "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
                "PYTHONPATH": os.pathsep.join(
                    [str(self.project / "src"), *filter(None, [os.environ.get("PYTHONPATH")])]
                ),
            }
        )
        environment.pop("SEGMENTS_PUBLISHED_PATH", None)
        return environment

    def manifest(self) -> dict[str, Any]:
        path = self.folder / "target" / "manifest.json"
        if not path.exists():
            raise CommandError(f"dbt wrote no manifest for the {self.name} ({path})")
        loaded: dict[str, Any] = json.loads(path.read_text())
        return loaded


@dataclass
class Changes:
    """What differs between the two projects, as a reviewer reads it."""

    models: list[str] = field(default_factory=list)  # SQL (or Python) changed, added or removed
    seeds: list[str] = field(default_factory=list)
    vars: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> base, new, readers
    python_changed: bool = False
    rebuilt: list[str] = field(default_factory=list)  # what the base build selected

    def to_json(self) -> dict[str, Any]:
        return {
            "models": self.models,
            "seeds": self.seeds,
            "vars": self.vars,
            "python_changed": self.python_changed,
            "rebuilt": self.rebuilt,
        }


def run(args: argparse.Namespace) -> int:
    from segments import diff_compare, diff_markdown

    if args.fail_above is not None and not 0 <= args.fail_above <= 1:
        raise CommandError(f"--fail-above must be a share between 0 and 1, not {args.fail_above}")
    if args.sample < 0:
        raise CommandError("--sample must be 0 or more")
    project = args.project_dir.resolve()
    raw = (args.raw or project / DEFAULT_RAW).resolve()
    if not raw.is_dir():
        raise CommandError(f"the raw folder {raw} does not exist")
    work = (args.work_dir or project / "target" / "diff").resolve()
    commit = resolve_ref(project, args.base)
    prepare_work_dir(work, project)
    new = Side("working tree", project, work / "new")
    base = Side(f"base {args.base}", work / "base_project", work / "base")
    extract(project, commit, base.project)
    dbt_vars = {"as_of_date": args.as_of_date.isoformat()} if args.as_of_date else {}

    progress(f"building the working tree on {raw}")
    new.folder.mkdir(parents=True)
    run_step(new, [*segments_command(), "load", "--from", str(raw), "--database", str(new.database)], "load")
    run_step(new, dbt_command("build", new, dbt_vars, *BUILT_TYPE_ARGUMENTS), "build")
    as_of = built_as_of_date(new.database)

    progress(f"building {args.base} ({commit[:12]}) where it differs")
    base.folder.mkdir(parents=True)
    shutil.copyfile(new.database, base.database)
    # --full-refresh: both builds run full (a fresh warehouse, then the base's --full-refresh)
    built = " ".join(f"resource_type:{kind}" for kind in BUILT_TYPES)
    compile_args = ["--select", built, "--indirect-selection", "empty", "--full-refresh"]
    # both compiled against the same state (the built warehouse and its copy), so that a model
    # whose SQL depends on what exists (a table from a previous build) compiles the same way
    run_steps([(side, dbt_command("compile", side, dbt_vars, *compile_args), "compile") for side in (base, new)])
    changes = find_changes(base, new)
    if changes.rebuilt:
        selection = " ".join(f"{name}+" for name in changes.rebuilt)
        build = dbt_command("build", base, dbt_vars, "--select", selection, "--full-refresh")
        run_step(base, [*build, *BUILT_TYPE_ARGUMENTS], "build")
    base_as_of = built_as_of_date(base.database)
    if base_as_of != as_of:
        raise CommandError(
            f"the base builds as of {base_as_of}, the working tree as of {as_of}: give --as-of-date to compare one date"
        )

    thresholds = drift_thresholds(new.project)
    comparison = diff_compare.compare(base.database, new.database, as_of, thresholds, args.sample)
    markdown = diff_markdown.render(args.base, commit, comparison, changes, thresholds)
    if args.out:
        write_atomically(args.out, markdown)
    else:
        print(markdown)
    if args.html:
        from segments import diff_html

        write_atomically(args.html, diff_html.render(args.base, commit, comparison, changes, thresholds))
    if args.json:
        document = {"base": args.base, "base_commit": commit, "changes": changes.to_json(), **comparison.to_json()}
        write_atomically(args.json, json.dumps(document, indent=2, sort_keys=True, default=str) + "\n")
    if args.fail_above is not None and comparison.moved_share > args.fail_above:
        print(
            f"segments diff: {comparison.moved_share:.2%} of customers moved, "
            f"more than --fail-above {args.fail_above:.2%}",
            file=sys.stderr,
        )
        return 1
    return 0


def prepare_work_dir(work: Path, project: Path) -> None:
    """An empty work folder: one this command made before is emptied, any other refused."""
    if work == project or work in project.parents:
        raise CommandError(f"--work-dir {work} holds the project {project}: choose a folder of its own")
    if work.exists() and any(work.iterdir()):
        if not (work / MARKER).exists():
            raise CommandError(f"--work-dir {work} is not empty and was not made by segments diff: choose another")
        shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)
    (work / MARKER).write_text("made by segments diff: emptied by the next run\n")


def progress(message: str) -> None:
    print(f"segments diff: {message}", file=sys.stderr, flush=True)


def git(project: Path, *arguments: str) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(["git", "-C", str(project), *arguments], capture_output=True, check=False)
    except FileNotFoundError as error:
        raise CommandError("git is not installed: segments diff reads the base from git") from error


def resolve_ref(project: Path, ref: str) -> str:
    """The commit the ref names in the project's repository."""
    if ref.startswith("-"):
        raise CommandError(f"--base {ref!r} is not a git ref")
    found = git(project, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    if found.returncode != 0:
        raise CommandError(f"--base {ref!r} names no commit in the git repository at {project}")
    return found.stdout.decode().strip()


def extract(project: Path, commit: str, destination: Path) -> None:
    """The commit's files under destination (git archive: the working tree is not touched)."""
    archive = git(project, "archive", "--format=tar", commit)
    if archive.returncode != 0:
        raise CommandError(f"git archive {commit[:12]} failed: {archive.stderr.decode().strip()}")
    destination.mkdir(parents=True)
    try:
        with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
            tar.extractall(destination, filter="data")
    except (tarfile.TarError, OSError) as error:
        raise CommandError(f"could not extract {commit[:12]} into {destination}: {error}") from error


def segments_command() -> list[str]:
    return [sys.executable, "-m", "segments.cli"]


def dbt_command(command: str, side: Side, dbt_vars: dict[str, str], *arguments: str) -> list[str]:
    vars_args = ["--vars", json.dumps(dbt_vars)] if dbt_vars else []
    return [
        str(Path(sys.executable).parent / "dbt"),
        command,
        "--project-dir",
        str(side.project),
        *vars_args,
        *arguments,
    ]


def run_step(side: Side, command: list[str], step: str) -> None:
    """Run a step of a side's build; its output goes to a log file, named in the error."""
    run_steps([(side, command, step)])


def run_steps(steps: list[tuple[Side, list[str], str]]) -> None:
    """Run the steps at once (each side's own files), then fail on the first that failed."""
    running = []
    for side, command, step in steps:
        log = side.folder / f"{step}.log"
        with log.open("w") as handle:
            process = subprocess.Popen(
                command, cwd=side.project, env=side.environment(), stdout=handle, stderr=subprocess.STDOUT
            )
        running.append((side, step, log, process))
    failures = [(side, step, log) for side, step, log, process in running if process.wait() != 0]
    for side, step, log in failures[:1]:
        raise CommandError(f"{step} of the {side.name} failed: {last_error(log)} (the whole output: {log})")


def last_error(log: Path) -> str:
    lines = [line.strip() for line in log.read_text(errors="replace").splitlines() if line.strip()]
    errors = [line for line in lines if "error" in line.lower() or "fail" in line.lower()]
    return (errors or lines or ["no output"])[-1][:300]


def built_as_of_date(database: Path) -> dt.date:
    import duckdb

    with duckdb.connect(str(database), read_only=True) as connection:
        row = connection.execute("select max(as_of_date) from marts.segment_sizes").fetchone()
    if row is None or row[0] is None:
        raise CommandError(f"{database} holds no segment sizes: the build made no segments")
    value = row[0]
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


def built_nodes(manifest: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The project's models and seeds by name."""
    project = manifest["metadata"].get("project_name")
    return {
        node["name"]: node
        for node in manifest["nodes"].values()
        if node["resource_type"] in BUILT_TYPES and node.get("package_name") == project
    }


def node_fingerprint(node: dict[str, Any], macros: dict[str, Any]) -> str:
    """What decides a node's rows: a model's compiled SQL (vars and macros rendered; the two
    warehouses have the same file name, so the same relation names) or a seed's file, its
    relation, its configuration (hooks, materialization, column types; not its docs or tags)
    and the SQL of every macro it calls, directly or through others (hooks call macros)."""
    config = {key: value for key, value in node.get("config", {}).items() if key not in DESCRIPTIVE_CONFIG}
    called = sorted(macro_closure(node.get("depends_on", {}).get("macros", []), macros))
    document = {
        "code": node.get("compiled_code") if node["resource_type"] != "seed" else None,
        "checksum": node["checksum"]["checksum"],
        "relation": node.get("relation_name"),
        "config": config,
        "macros": [macros.get(macro, {}).get("macro_sql") for macro in called],
    }
    return hashlib.sha256(json.dumps(document, sort_keys=True, default=str).encode()).hexdigest()


def macro_closure(roots: list[str], macros: dict[str, Any]) -> set[str]:
    """The macros roots name and every macro those call."""
    seen: set[str] = set()
    stack = list(roots)
    while stack:
        macro = stack.pop()
        if macro in seen:
            continue
        seen.add(macro)
        stack.extend(macros.get(macro, {}).get("depends_on", {}).get("macros", []))
    return seen


def run_hooks(manifest: dict[str, Any]) -> list[Any]:
    """The project's on-run-start and on-run-end hooks as dbt parsed them."""
    return sorted(
        (name, node.get("raw_code")) for name, node in manifest["nodes"].items() if node["resource_type"] == "operation"
    )


def tree_digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        digest.update(str(path.relative_to(folder)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def find_changes(base: Side, new: Side) -> Changes:
    base_manifest, new_manifest = base.manifest(), new.manifest()
    base_nodes, new_nodes = built_nodes(base_manifest), built_nodes(new_manifest)
    base_macros, new_macros = base_manifest.get("macros", {}), new_manifest.get("macros", {})
    changes = Changes()
    changes.python_changed = tree_digest(base.project / PYTHON_MODELS_CODE) != tree_digest(
        new.project / PYTHON_MODELS_CODE
    )
    for name in sorted(set(base_nodes) | set(new_nodes)):
        before, after = base_nodes.get(name), new_nodes.get(name)
        if before is None or after is None or before["checksum"] != after["checksum"]:
            (changes.seeds if (before or after or {}).get("resource_type") == "seed" else changes.models).append(name)
    hooks_changed = run_hooks(base_manifest) != run_hooks(new_manifest)
    for name, node in sorted(base_nodes.items()):
        other = new_nodes.get(name)
        python = node.get("language") == "python" and changes.python_changed
        if (
            hooks_changed
            or other is None
            or python
            or node_fingerprint(node, base_macros) != node_fingerprint(other, new_macros)
        ):
            changes.rebuilt.append(name)
    changes.vars = var_changes(base.project, new.project, new_nodes, new_macros)
    return changes


def project_vars(project: Path) -> dict[str, Any]:
    import yaml

    loaded = yaml.safe_load((project / "dbt_project.yml").read_text()) or {}
    values = loaded.get("vars") or {}
    return dict(values) if isinstance(values, dict) else {}


def var_changes(
    base: Path, new: Path, nodes: dict[str, dict[str, Any]], macros: dict[str, Any]
) -> dict[str, dict[str, Any]]:
    """Vars whose value differs, with the models that read them (their SQL or a macro they
    call, directly or through other macros, names the var)."""
    before, after = project_vars(base), project_vars(new)
    changed = sorted(name for name in set(before) | set(after) if before.get(name) != after.get(name))
    if not changed:
        return {}
    result: dict[str, dict[str, Any]] = {}
    for name in changed:
        pattern = re.compile(rf"\b{re.escape(name)}\b")
        reading = {uid for uid, macro in macros.items() if pattern.search(macro.get("macro_sql", ""))}
        readers = sorted(
            model
            for model, node in nodes.items()
            if node["resource_type"] == "model"
            and (
                pattern.search(node.get("raw_code", ""))
                or pattern.search(json.dumps(node.get("config", {}), default=str))
                or reads_macro(node, reading, macros)
            )
        )
        result[name] = {"base": before.get(name), "new": after.get(name), "read_by": readers}
    return result


def reads_macro(node: dict[str, Any], reading: set[str], macros: dict[str, Any]) -> bool:
    """Whether the node calls one of the macros, directly or through other macros."""
    return bool(macro_closure(node.get("depends_on", {}).get("macros", []), macros) & reading)


def drift_thresholds(project: Path) -> dict[str, Any]:
    """The drift gate's vars of the working tree: thresholds, floor and families."""
    values = project_vars(project)
    missing = [name for name in (*DRIFT_VARS, *DRIFT_FAMILY_VARS) if name not in values]
    if missing:
        raise CommandError(f"dbt_project.yml of {project} has no {', '.join(missing)}: the drift verdict needs them")
    try:
        thresholds: dict[str, Any] = {name: float(values[name]) for name in DRIFT_VARS}
    except (TypeError, ValueError) as error:
        raise CommandError(f"a drift threshold of {project / 'dbt_project.yml'} is not a number: {error}") from error
    for name in DRIFT_FAMILY_VARS:
        families = values[name]
        thresholds[name] = [str(family) for family in families] if isinstance(families, list) else []
    return thresholds


def write_atomically(path: Path, text: str) -> None:
    if not path.parent.is_dir():
        raise CommandError(f"the folder of {path} does not exist")
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    partial.write_text(text)
    os.replace(partial, path)
