"""Mutation testing of the modules that decide results: which one-token change would the fast tests miss?

`make mutation` runs cosmic-ray over each module in TARGETS: every mutant (an operator, a number, a comparison,
a condition changed) is written into a copy of the repository and that module's fast tests run against it
(through tools/pytest_forkserver, which keeps torch imported between runs). A mutant the tests pass is a
survivor: either a test is missing or the change cannot alter behaviour (an equivalent mutant). Each
equivalent survivor's reason is in tools/mutation_equivalents.yaml; a survivor without one fails the run.
The record, metrics/mutation.json, gives per module the mutants, killed and survived with why, the time and
the machine; docs/mutation.md shows it (python -m tools.docs).
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import queue
import re
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import yaml
from cosmic_ray.mutating import mutate_and_test
from cosmic_ray.work_db import WorkDB, use_db
from cosmic_ray.work_item import TestOutcome, WorkerOutcome

from betavae.canonical import md5
from betavae.io import write_json
from betavae.machine import cpu_family, cpu_vendor_and_model, instruction_set
from tools.pytest_forkserver import NO_ANSWER

REPO = Path(__file__).resolve().parent.parent
RECORD = REPO / "metrics" / "mutation.json"
EQUIVALENTS = REPO / "tools" / "mutation_equivalents.yaml"
WORKDIR = REPO / ".mutation"

# Each module whose code makes a number in metrics/ or a figure's content, and the fast tests that state its
# behaviour (its own file first: with -x a mutant's run stops at the first failing test). Longest first, so that
# the workers finish together.
TARGETS = {
    "betavae/training.py": ["tests/test_training.py"],
    "studies/analysis/udr.py": ["tests/test_udr.py"],
    "betavae/objective.py": ["tests/test_objective.py", "tests/test_training.py", "tests/test_evaluation.py"],
    "betavae/evaluation.py": ["tests/test_evaluation.py"],
    "studies/analysis/comparison.py": ["tests/test_comparison.py", "tests/test_group_errors.py"],
    "studies/analysis/groups.py": ["tests/test_groups.py", "tests/test_comparison.py"],
    "betavae/model.py": ["tests/test_model.py"],
    "betavae/sources.py": ["tests/test_sources.py"],
    "betavae/params.py": ["tests/test_params.py"],
    "studies/analysis/reproducibility.py": ["tests/test_reproducibility.py", "tests/test_calibration.py",
                                            "tests/test_diff.py"],
    "studies/analysis/sweep.py": ["tests/test_sweep.py"],
    "studies/analysis/calibration.py": ["tests/test_calibration.py", "tests/test_check_proof.py"],
    "studies/check_repro.py": ["tests/test_check_repro_rules.py"],
    "studies/diff.py": ["tests/test_diff.py"],
    "betavae/classifier.py": ["tests/test_classifier.py"],
    "betavae/latent.py": ["tests/test_latent.py"],
    "betavae/compute.py": ["tests/test_compute.py"],
    "betavae/data.py": ["tests/test_data.py"],
    "betavae/probes.py": ["tests/test_probes.py"],
    "betavae/batches.py": ["tests/test_batches.py"],
    "studies/analysis/provenance.py": ["tests/test_provenance.py"],
    "betavae/idx.py": ["tests/test_idx.py", "tests/test_data.py"],
    "betavae/canonical.py": ["tests/test_canonical.py"],
    "betavae/activity.py": ["tests/test_activity.py"],
}
# Only the exit status matters to a mutant's run: plain asserts and no plugin the tests do not use start faster
PYTEST_ARGS = ["-x", "-q", "-m", "not slow", "-p", "no:cacheprovider", "-p", "no:hydra_pytest", "-p", "no:xdist",
               "--assert=plain"]
# A mutant whose tests run this many times longer than the unmutated ones (or 10 s, if longer) may loop forever
# (a bisection that never closes). It is run again alone, once every module is done, with RETRY_FACTOR times
# that limit: killed if it fails or times out again (a timeout), a survivor if its tests then pass.
TIMEOUT_FACTOR, MIN_TIMEOUT_S, RETRY_FACTOR = 5, 10.0, 4
BASELINE_RUNS = 3  # the unmutated tests' time is the longest of these, timed while the other worker mutates


@dataclass(frozen=True)
class Survivor:
    module: str
    operator: str
    line: int
    column: int
    removed: str
    added: str


def _changed_lines(diff: str) -> tuple[str, str]:
    """The mutated line before and after, from a unified diff of one mutation."""
    lines = diff.splitlines()
    removed = [line[1:].strip() for line in lines if line.startswith("-") and not line.startswith("---")]
    added = [line[1:].strip() for line in lines if line.startswith("+") and not line.startswith("+++")]
    return " / ".join(removed), " / ".join(added)


def copy_checkout(destination: Path) -> None:
    """The working tree's files that git tracks or would track, copied afresh (mutants never touch REPO)."""
    shutil.rmtree(destination, ignore_errors=True)
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                            check=True, capture_output=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = REPO / name
        if source.is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)


FORKSERVER = Path(__file__).with_name("pytest_forkserver.py")


def fast_tests_command(tests: list[str], socket_path: Path) -> list[str]:
    """The fast tests of a module, run by the fork server in the current directory."""
    return [sys.executable, "-m", "tools.pytest_forkserver", str(socket_path), "--", *PYTEST_ARGS, *tests]


def cosmic_ray_config(module: str, command: list[str], timeout: float) -> str:
    quoted = " ".join(f"'{arg}'" if " " in arg else arg for arg in command)
    return "\n".join([
        "[cosmic-ray]",
        f'module-path = "{module}"',
        f"timeout = {timeout:.0f}",
        "excluded-modules = []",
        f'test-command = "{quoted}"',
        "[cosmic-ray.distributor]",
        'name = "local"',
        ""])


def baseline_seconds(command: list[str], tree: Path) -> float:
    """How long the unmutated tests take, the longest of BASELINE_RUNS runs (under the load the mutants run
    under: the other worker is busy); they must pass, or every mutant would look killed."""
    times = []
    for _ in range(BASELINE_RUNS):
        started = time.monotonic()
        result = subprocess.run(command, cwd=tree, capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"the unmutated tests fail ({' '.join(command[5:])}):\n{result.stdout[-2000:]}")
        times.append(time.monotonic() - started)
    return max(times)


def session_path(module: str) -> Path:
    return WORKDIR / "sessions" / (module.replace("/", ".") + ".sqlite")


def meta_path(module: str) -> Path:
    """Where a module's run keeps its time, the commit it ran at and the files it measured."""
    return WORKDIR / "sessions" / (module.replace("/", ".") + ".json")


def file_hashes(module: str, tree: Path) -> dict[str, str]:
    return {path: md5(tree / path) for path in (module, *TARGETS[module])}


def mutate_module(module: str, tree: Path, socket_path: Path) -> tuple[float, float]:
    """Every mutant of one module, tested in tree; the seconds it took and the limit each mutant had."""
    command = fast_tests_command(TARGETS[module], socket_path)
    started = time.monotonic()
    timeout = max(MIN_TIMEOUT_S, TIMEOUT_FACTOR * baseline_seconds(command, tree))
    config = WORKDIR / "sessions" / (module.replace("/", ".") + ".toml")
    config.write_text(cosmic_ray_config(module, command, timeout))
    session = session_path(module)
    session.unlink(missing_ok=True)
    cosmic_ray = [str(Path(sys.executable).parent / "cosmic-ray"), "--verbosity", "ERROR"]
    subprocess.run([*cosmic_ray, "init", str(config), str(session)], cwd=tree, check=True)
    subprocess.run([*cosmic_ray, "exec", str(config), str(session)], cwd=tree, check=True)
    return time.monotonic() - started, timeout


def timed_out(result: Any) -> bool:
    return result.test_outcome == TestOutcome.KILLED and (result.output or "").strip() == "timeout"


def retry_timeouts(module: str, tree: Path, socket_path: Path, timeout: float) -> dict[str, dict[str, Any]]:
    """Each mutant that timed out, run again alone with RETRY_FACTOR times the limit: {job id: its outcome}."""
    with use_db(str(session_path(module)), WorkDB.Mode.open) as db:
        items = [item for item, result in db.completed_work_items if timed_out(result)]
    outcomes = {}
    here = os.getcwd()
    os.chdir(tree)  # cosmic-ray mutates the module path relative to the working directory; no thread runs now
    try:
        for item in items:
            result = mutate_and_test(item.mutations, fast_tests_command(TARGETS[module], socket_path),
                                     RETRY_FACTOR * timeout)
            outcomes[item.job_id] = {"timeout": timed_out(result), "survived": result.test_outcome ==
                                     TestOutcome.SURVIVED, "diff": result.diff}
    finally:
        os.chdir(here)
    return outcomes


def module_results(module: str, retried: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Counts of one module's session, its timeouts (first, and after the retry alone) and its survivors."""
    counts = {"mutants": 0, "killed": 0, "survived": 0, "incompetent": 0, "timeouts": 0, "timeouts_retried": 0}
    survivors, broken = [], []
    with use_db(str(session_path(module)), WorkDB.Mode.open) as db:
        for item, result in db.completed_work_items:
            counts["mutants"] += 1
            mutation = item.mutations[0]
            if NO_ANSWER in (result.output or "") or result.worker_outcome != WorkerOutcome.NORMAL:
                broken.append(item.job_id)
                continue
            diff = result.diff
            outcome = result.test_outcome
            if timed_out(result):
                counts["timeouts"] += 1
                again = retried.get(item.job_id)
                if again is None:
                    broken.append(item.job_id)
                    continue
                counts["timeouts_retried"] += again["timeout"]
                outcome, diff = (TestOutcome.SURVIVED, again["diff"]) if again["survived"] else (outcome, diff)
            if outcome == TestOutcome.SURVIVED:
                counts["survived"] += 1
                removed, added = _changed_lines(diff)
                survivors.append(Survivor(module, mutation.operator_name.split("/")[-1], *mutation.start_pos,
                                          removed, added))
            elif outcome == TestOutcome.INCOMPETENT:
                counts["incompetent"] += 1
            else:
                counts["killed"] += 1
        pending = sum(1 for _ in db.pending_work_items)
    if broken or pending:
        raise RuntimeError(f"{module}: {len(broken)} mutants without a test result and {pending} not run; "
                           f"see {session_path(module)} (cr-report)")
    return {"tests": TARGETS[module], **counts, "survivors": survivors}


def load_equivalents(path: Path = EQUIVALENTS) -> list[dict[str, str]]:
    return yaml.safe_load(path.read_text()) or []


IN_ANNOTATION = ("in a function's type annotation, which Python never evaluates under `from __future__ import "
                 "annotations`; nothing reads a function's annotations (typing.get_type_hints is called on the "
                 "params dataclasses only)")


def annotation_spans(source: str) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """(start, end) of every annotation of a function's arguments, return or locals, where the module postpones
    the evaluation of annotations; none where it does not."""
    tree = ast.parse(source)
    postponed = any(isinstance(node, ast.ImportFrom) and node.module == "__future__"
                    and any(alias.name == "annotations" for alias in node.names) for node in tree.body)
    if not postponed:
        return []
    annotations = []
    for function in ast.walk(tree):
        if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
            arguments = function.args
            annotations += [argument.annotation for argument in (*arguments.posonlyargs, *arguments.args,
                                                                  *arguments.kwonlyargs, arguments.vararg,
                                                                  arguments.kwarg) if argument and argument.annotation]
            annotations += [function.returns] if function.returns else []
            annotations += [node.annotation for node in ast.walk(function) if isinstance(node, ast.AnnAssign)]
    return [((a.lineno, a.col_offset), (a.end_lineno, a.end_col_offset)) for a in annotations]


def matches(entry: dict[str, str], survivor: Survivor) -> bool:
    """Whether an entry of the equivalents names this survivor: its module, its unmutated line (`removed`, or a
    `removed_pattern` that matches it), an operator its `operator` pattern matches (one entry can cover every
    replacement of an operator) and, when the entry gives one, the mutated line (`added`, or `added_pattern`)."""
    same_line = (entry["removed"] == survivor.removed if "removed" in entry
                 else re.fullmatch(entry["removed_pattern"], survivor.removed))
    same_mutation = (entry.get("added", survivor.added) == survivor.added
                     and re.fullmatch(entry.get("added_pattern", ".*"), survivor.added))
    return bool(entry["module"] == survivor.module and same_line and same_mutation
                and re.fullmatch(entry["operator"], survivor.operator))


def reason(survivor: Survivor, equivalents: list[dict[str, str]],
           annotations: list[tuple[tuple[int, int], tuple[int, int]]] = ()) -> str | None:
    """Why a survivor is equivalent: it lies in a function's annotation, or the first entry of equivalents that
    matches it."""
    if any(start <= (survivor.line, survivor.column) < end for start, end in annotations):
        return IN_ANNOTATION
    return next((entry["why"] for entry in equivalents if matches(entry, survivor)), None)


def unmatched(equivalents: list[dict[str, str]], survivors: list[Survivor]) -> list[dict[str, str]]:
    """The entries of the equivalents that name no survivor: each would silently excuse a future mutant."""
    return [entry for entry in equivalents if not any(matches(entry, survivor) for survivor in survivors)]


def explained(survivors: list[Survivor], equivalents: list[dict[str, str]], source: str) -> list[dict]:
    """Each survivor of a module (whose unmutated text is source) as a record entry, with its reason or None."""
    annotations = annotation_spans(source)
    entries = []
    for s in sorted(survivors, key=lambda s: (s.line, s.column, s.operator)):
        why = reason(s, equivalents, annotations)
        entries.append({"operator": s.operator, "line": s.line, "column": s.column, "removed": s.removed,
                        "added": s.added, "why": why, "in_annotation": why == IN_ANNOTATION})
    return entries


def run(modules: list[str], workers: int, state: dict[str, Any]) -> float:
    """Mutate the modules on `workers` copies of the checkout at once (state: the checkout's commit); the
    sessions and each module's time, commit and files go to WORKDIR/sessions; returns the wall time."""
    (WORKDIR / "sessions").mkdir(parents=True, exist_ok=True)
    socket_path = WORKDIR / "forkserver.sock"
    socket_path.unlink(missing_ok=True)
    # by its path: `python -m` needs the repository on the import path, and the server must not have it there
    server = subprocess.Popen([sys.executable, str(FORKSERVER), str(socket_path), "--serve"], cwd=WORKDIR)
    try:
        while not socket_path.exists():
            if server.poll() is not None:
                raise RuntimeError("tools.pytest_forkserver did not start")
            time.sleep(0.1)
        todo: queue.Queue[str] = queue.Queue()
        for module in modules:
            todo.put(module)
        seconds: dict[str, float] = {}
        limits: dict[str, float] = {}
        errors: list[BaseException] = []
        started = time.monotonic()

        def work(index: int) -> None:
            tree = WORKDIR / f"tree{index}"
            copy_checkout(tree)
            while not errors:
                try:
                    module = todo.get_nowait()
                except queue.Empty:
                    return
                print(f"mutating {module} ...", flush=True)
                try:
                    seconds[module], limits[module] = mutate_module(module, tree, socket_path)
                except BaseException as error:  # noqa: BLE001 - reported after the other worker stops
                    errors.append(error)
                    return
                meta_path(module).write_text(json.dumps(dict(state, seconds=round(seconds[module], 1),
                                                             timeout_s=round(limits[module], 1),
                                                             files=file_hashes(module, tree))) + "\n")
                print(f"{module}: done in {seconds[module]:.0f} s", flush=True)

        threads = [threading.Thread(target=work, args=(index,)) for index in range(workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            raise errors[0]
        for module in modules:  # alone now: a slow but correct mutant gets the whole machine
            retried = retry_timeouts(module, WORKDIR / "tree0", socket_path, limits[module])
            meta = json.loads(meta_path(module).read_text())
            meta_path(module).write_text(json.dumps(dict(meta, retried=retried)) + "\n")
            if retried:
                print(f"{module}: {len(retried)} timed-out mutants run again alone, "
                      f"{sum(r['timeout'] for r in retried.values())} timed out again", flush=True)
        wall = time.monotonic() - started
    finally:
        server.kill()
        socket_path.unlink(missing_ok=True)
    return wall


def machine() -> dict[str, Any]:
    vendor, model = cpu_vendor_and_model()
    return {"cpu_vendor": vendor, "cpu_model": model, "cpu_family": cpu_family(),
            "instruction_set": instruction_set(), "cores": os.cpu_count()}


def run_state() -> dict[str, Any]:
    """The commit the copies are made from, whether the working tree differs from it, and the machine."""
    git = ["git", "-C", str(REPO)]
    commit = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    changed = subprocess.run([*git, "status", "--porcelain"], capture_output=True, text=True).stdout.strip()
    return {"commit": commit, "uncommitted_changes": bool(changed), "machine": machine()}


COUNTS = ("mutants", "killed", "survived", "incompetent", "timeouts", "timeouts_retried")


def survivors_of(entries: dict[str, Any]) -> list[Survivor]:
    return [Survivor(module, s["operator"], s["line"], s.get("column", 0), s["removed"], s["added"])
            for module, result in entries.items() for s in result["survivors"] if not s["in_annotation"]]


def record(entries: dict[str, Any], runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The record of the targets measured on today's code and tests: their counts and survivors (each with
    today's reason), when and where each was mutated; the totals; the equivalents of those modules that name no
    survivor; the targets not measured yet; and the runs that made its entries."""
    equivalents = [entry for entry in load_equivalents() if entry["module"] in entries]
    for result in entries.values():
        for survivor in result["survivors"]:
            if not survivor["in_annotation"]:
                survivor["why"] = reason(Survivor(result["module"], survivor["operator"], survivor["line"],
                                                  survivor.get("column", 0), survivor["removed"], survivor["added"]),
                                         equivalents)
    totals = {key: sum(result.get(key, 0) for result in entries.values()) for key in COUNTS}
    unexplained = sum(1 for result in entries.values() for s in result["survivors"] if s["why"] is None)
    return {"tool": f"cosmic-ray {version('cosmic-ray')}", "pytest_args": PYTEST_ARGS, **totals,
            "unexplained": unexplained, "unmatched_equivalents": unmatched(equivalents, survivors_of(entries)),
            "not_measured": [module for module in TARGETS if module not in entries],
            "runs": [run for run in runs if any(entry.get("commit") == run["commit"] for entry in entries.values())],
            "modules": entries}


def session_entry(module: str) -> dict[str, Any]:
    """A module's record entry from its last session here: counts, survivors with reasons, its run's details."""
    meta = json.loads(meta_path(module).read_text())
    result = module_results(module, meta.get("retried", {}))
    tree = WORKDIR / "tree0"
    if file_hashes(module, tree)[module] != meta["files"][module]:
        raise RuntimeError(f"{module} changed since its session: mutate it again (--modules {module})")
    survivors = explained(result.pop("survivors"), load_equivalents(), (tree / module).read_text())
    return {"module": module, **result, "survivors": survivors,
            **{key: value for key, value in meta.items() if key != "retried"}}


def changed_modules(entries: dict[str, Any]) -> list[str]:
    """The targets whose code or tests differ from what their record entry measured, or that have none."""
    return [module for module, tests in TARGETS.items()
            if module not in entries or entries[module].get("tests") != tests
            or any(_md5(path) != md5_ for path, md5_ in entries[module]["files"].items())]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--modules", nargs="+", choices=sorted(TARGETS),
                        help="mutate only these again; the record keeps the others' entries (default: every one)")
    parser.add_argument("--changed", action="store_true",
                        help="mutate only the targets whose code or tests changed since the record measured them")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="copies tested at once")
    parser.add_argument("--survivors", action="store_true",
                        help="run nothing: print every survivor outside type annotations with its reason")
    parser.add_argument("--report", action="store_true",
                        help="run nothing: the record again from the last sessions here and the record's other "
                             "entries (after a reason was added to tools/mutation_equivalents.yaml)")
    args = parser.parse_args(argv)
    old = json.loads(RECORD.read_text()) if RECORD.is_file() else {"modules": {}, "runs": []}
    if args.survivors:
        print("\n".join(survivor_rows(old)))
        return 0
    entries = {module: dict(entry, module=module) for module, entry in old["modules"].items() if module in TARGETS}
    modules = changed_modules(entries) if args.changed else (args.modules or list(TARGETS))
    runs = _runs(old) if old["modules"] else []
    if not args.report and modules:
        state = run_state()  # before the copies are made
        wall = run(modules, args.workers, state)
        runs.append(dict(state, modules=modules, workers=args.workers, wall_seconds=round(wall, 1)))
    fresh = [module for module in TARGETS if meta_path(module).is_file() and session_path(module).is_file()
             and (module in modules or module not in entries)]
    entries.update({module: session_entry(module) for module in fresh})
    for module in changed_modules(entries):  # measured on other code or tests: no longer a measurement of these
        entries.pop(module, None)
    summary = record({module: entries[module] for module in TARGETS if module in entries}, runs)
    for module, result in summary["modules"].items():
        print(f"{module}: {result['mutants']} mutants, {result['killed']} killed ({result.get('timeouts', 0)} timed "
              f"out, {result.get('timeouts_retried', 0)} again alone), {result['survived']} survived, "
              f"{result['incompetent']} incompetent")
        for s in result["survivors"]:
            if not s["why"]:
                print(f"  UNEXPLAINED line {s['line']} {s['operator']}: {s['removed']!r} -> {s['added']!r}")
    for entry in summary["unmatched_equivalents"]:
        print(f"  an equivalent names no survivor: {entry['module']} {entry['operator']} {entry.get('removed')!r}")
    if modules and not args.report:
        print(f"{len(modules)} modules in {runs[-1]['wall_seconds'] / 60:.1f} min on {args.workers} workers")
    print(f"{summary['mutants']} mutants; {summary['survived']} survived, {summary['unexplained']} of them "
          f"unexplained; {len(summary['unmatched_equivalents'])} equivalents name no survivor")
    write_json(RECORD, summary)
    print(f"wrote {RECORD.relative_to(REPO)}")
    if summary["not_measured"]:
        print(f"not measured on today's code and tests: {', '.join(summary['not_measured'])}; "
              f"`python -m tools.mutation --changed` measures them")
    return 1 if summary["unexplained"] or summary["unmatched_equivalents"] or summary["not_measured"] else 0


# --- Its tables in the docs -------------------------------------------------------------------------------


def _md5(path: str) -> str | None:
    return md5(REPO / path) if (REPO / path).is_file() else None


def _runs(record: dict[str, Any]) -> list[dict[str, Any]]:
    """The runs that made the record's entries (a record of one full run keeps it at its top level)."""
    if "runs" in record:
        return record["runs"]
    return [{key: record[key] for key in ("commit", "machine", "workers", "wall_seconds", "uncommitted_changes")}
            | {"modules": list(record["modules"])}]


def mutation_summary() -> str:
    """Per module: mutants, killed, timeouts, survivors (equivalent, or not), incompetent; the runs; and what
    changed since it was measured."""
    record = json.loads(RECORD.read_text())
    lines = ["| module | mutants | killed | of them timed out (again, alone) | survived: equivalent "
             "| survived: unexplained | incompetent | minutes |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for module, result in record["modules"].items():
        unexplained = sum(1 for survivor in result["survivors"] if survivor["why"] is None)
        timeouts = (f"{result['timeouts']} ({result['timeouts_retried']})" if "timeouts" in result
                    else "not counted")
        lines.append(f"| `{module}` | {result['mutants']} | {result['killed']} | {timeouts} | "
                     f"{result['survived'] - unexplained} | {unexplained} | {result['incompetent']} | "
                     f"{result['seconds'] / 60:.1f} |")
    lines.append(f"| **all** | **{record['mutants']}** | **{record['killed']}** | "
                 f"**{record.get('timeouts', '—')}** | **{record['survived'] - record['unexplained']}** | "
                 f"**{record['unexplained']}** | **{record['incompetent']}** | |")
    by_machine: dict[str, list[str]] = {}
    for run in _runs(record):
        machine_ = run["machine"]
        where = (f"{machine_['cpu_model']} ({machine_['cpu_family']}, {machine_['instruction_set']}), "
                 f"{run['workers']} at once on {machine_['cores']} cores")
        by_machine.setdefault(where, []).append(
            f"`{run['commit'][:7]}`{' with uncommitted changes' if run.get('uncommitted_changes') else ''} "
            f"{len(run['modules'])} module{'s' * (len(run['modules']) != 1)} in {run['wall_seconds'] / 60:.1f} min")
    runs = [f"on {where}: {', '.join(made)}" for where, made in by_machine.items()]
    changed = [module for module, result in record["modules"].items()
               if any(_md5(path) != md5_ for path, md5_ in result["files"].items())]
    unmatched_ = record.get("unmatched_equivalents", [])
    not_measured = [module for module in record.get("not_measured", []) if module in TARGETS]
    lines += ["", f"{record['tool']}. Runs behind the entries, " + "; ".join(runs) + ". "
              + (f"**Not in the record yet** (not measured on today's code and tests, or survivors still to explain; "
                 f"{len(not_measured)} of {len(TARGETS)} targets): "
                 f"{', '.join(f'`{m}`' for m in not_measured)}. " if not_measured else "")
              + (f"**Changed since measured**: {', '.join(f'`{m}`' for m in changed)}; `make mutation CHANGED=1` "
                 "measures them again." if changed else "Every module and test file is as it was measured.")
              + (f" **{len(unmatched_)} equivalents name no survivor.**" if unmatched_ else "")]
    return "\n".join(lines)


def _operator(name: str) -> str:
    """ReplaceBinaryOperator_Add_Sub -> Add→Sub; other cosmic-ray operators keep their names."""
    match = re.fullmatch(r"Replace\w*?Operator_([A-Za-z]+)_([A-Za-z]+)", name)
    return f"{match.group(1)}→{match.group(2)}" if match else name


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


NOT_EQUIVALENT = "Not equivalent"  # how a reason starts when a survivor is kept knowingly, not as harmless


def _kept(survivor: dict[str, Any]) -> bool:
    return (survivor["why"] or "").startswith(NOT_EQUIVALENT)


def survivor_rows(record: dict[str, Any], kept_only: bool = False) -> list[str]:
    """The surviving mutants outside type annotations, grouped by module, line and reason: what changed, and why
    nothing notices (kept_only: those that could change behaviour and are kept knowingly)."""
    lines = ["| module | line | mutants | why it survives |", "|---|---:|---|---|"]
    for module, result in record["modules"].items():
        groups: dict[str, list[tuple[int, str]]] = {}
        for survivor in result["survivors"]:
            if survivor["in_annotation"] or (kept_only and not _kept(survivor)):
                continue
            why = _cell(survivor["why"] or "**UNEXPLAINED**")
            groups.setdefault(why, []).append((survivor["line"], _operator(survivor["operator"])))
        for why, mutants in groups.items():
            at = ", ".join(str(line) for line in sorted({line for line, _ in mutants}))
            kinds = ", ".join(sorted({operator for _, operator in mutants}))
            lines.append(f"| `{Path(module).name}` | {at} | {len(mutants)}: {kinds} | {why} |")
    return lines


def mutation_survivors() -> str:
    """For the docs: the survivors kept knowingly, and how many are equivalent, whose reasons
    `python -m tools.mutation --survivors` prints (the record holds them too)."""
    record = json.loads(RECORD.read_text())
    outside = [s for result in record["modules"].values() for s in result["survivors"] if not s["in_annotation"]]
    kept = [s for s in outside if _kept(s)]
    unexplained = sum(1 for s in outside if s["why"] is None)
    return "\n".join([f"{len(outside)} survivors lie outside type annotations: {len(outside) - len(kept) - unexplained} "
                      f"equivalent, each with the reason no input can tell it apart (`python -m tools.mutation "
                      f"--survivors` lists them), {unexplained} unexplained, and {len(kept)} kept knowingly, "
                      "as below:", "", *survivor_rows(record, kept_only=True)])


TABLES = {"mutation-summary": mutation_summary, "mutation-survivors": mutation_survivors}


if __name__ == "__main__":
    sys.exit(main())
