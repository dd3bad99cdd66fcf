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
from cosmic_ray.work_db import WorkDB, use_db
from cosmic_ray.work_item import TestOutcome, WorkerOutcome

from betavae.canonical import md5
from betavae.machine import cpu_family, cpu_vendor_and_model, instruction_set
from tools.pytest_forkserver import NO_ANSWER

REPO = Path(__file__).resolve().parent.parent
RECORD = REPO / "metrics" / "mutation.json"
EQUIVALENTS = REPO / "tools" / "mutation_equivalents.yaml"
WORKDIR = REPO / ".mutation"

# Each module that decides a result, and the fast tests that state its behaviour (its own file first: with
# -x a mutant's run stops at the first failing test). Longest first, so that the workers finish together.
TARGETS = {
    "studies/analysis/udr.py": ["tests/test_udr.py"],
    "studies/analysis/student_t.py": ["tests/test_student_t.py"],
    "betavae/objective.py": ["tests/test_objective.py", "tests/test_training.py", "tests/test_evaluation.py"],
    "betavae/sources.py": ["tests/test_sources.py"],
    "betavae/params.py": ["tests/test_params.py"],
    "studies/analysis/reproducibility.py": ["tests/test_reproducibility.py", "tests/test_calibration.py",
                                            "tests/test_diff.py"],
    "betavae/idx.py": ["tests/test_idx.py", "tests/test_data.py"],
    "betavae/canonical.py": ["tests/test_canonical.py"],
    "betavae/activity.py": ["tests/test_activity.py"],
}
# Only the exit status matters to a mutant's run: plain asserts and no plugin the tests do not use start faster
PYTEST_ARGS = ["-x", "-q", "-m", "not slow", "-p", "no:cacheprovider", "-p", "no:hydra_pytest", "-p", "no:xdist",
               "--assert=plain"]
# A mutant whose tests run this many times longer than the unmutated ones (or 10 s, if longer) loops forever
# (a bisection that never closes): it counts as killed
TIMEOUT_FACTOR, MIN_TIMEOUT_S = 5, 10.0


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
    """How long the unmutated tests take; they must pass, or every mutant would look killed."""
    started = time.monotonic()
    result = subprocess.run(command, cwd=tree, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"the unmutated tests fail ({' '.join(command[5:])}):\n{result.stdout[-2000:]}")
    return time.monotonic() - started


def session_path(module: str) -> Path:
    return WORKDIR / "sessions" / (module.replace("/", ".") + ".sqlite")


def meta_path(module: str) -> Path:
    """Where a module's run keeps its time, the commit it ran at and the files it measured."""
    return WORKDIR / "sessions" / (module.replace("/", ".") + ".json")


def file_hashes(module: str, tree: Path) -> dict[str, str]:
    return {path: md5(tree / path) for path in (module, *TARGETS[module])}


def mutate_module(module: str, tree: Path, socket_path: Path) -> float:
    """Every mutant of one module, tested in tree; the seconds it took."""
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
    return time.monotonic() - started


def module_results(module: str) -> dict[str, Any]:
    """Counts of one module's session, and its survivors."""
    counts = {"mutants": 0, "killed": 0, "survived": 0, "incompetent": 0}
    survivors, broken = [], []
    with use_db(str(session_path(module)), WorkDB.Mode.open) as db:
        for item, result in db.completed_work_items:
            counts["mutants"] += 1
            if NO_ANSWER in (result.output or "") or result.worker_outcome != WorkerOutcome.NORMAL:
                broken.append(item.job_id)
            elif result.test_outcome == TestOutcome.SURVIVED:
                counts["survived"] += 1
                mutation = item.mutations[0]
                removed, added = _changed_lines(result.diff)
                survivors.append(Survivor(module, mutation.operator_name.split("/")[-1], *mutation.start_pos,
                                          removed, added))
            elif result.test_outcome == TestOutcome.INCOMPETENT:
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


def reason(survivor: Survivor, equivalents: list[dict[str, str]],
           annotations: list[tuple[tuple[int, int], tuple[int, int]]] = ()) -> str | None:
    """Why a survivor is equivalent: it lies in a function's annotation, or the first entry of equivalents with
    its module, its unmutated line (`removed`, or a `removed_pattern` that matches it), an operator its
    `operator` pattern matches (one entry can cover every replacement of an operator) and, when the entry
    gives one, the mutated line (`added`, or `added_pattern`)."""
    if any(start <= (survivor.line, survivor.column) < end for start, end in annotations):
        return IN_ANNOTATION
    for entry in equivalents:
        same_line = (entry["removed"] == survivor.removed if "removed" in entry
                     else re.fullmatch(entry["removed_pattern"], survivor.removed))
        same_mutation = (entry.get("added", survivor.added) == survivor.added
                         and re.fullmatch(entry.get("added_pattern", ".*"), survivor.added))
        if (entry["module"] == survivor.module and same_line and same_mutation
                and re.fullmatch(entry["operator"], survivor.operator)):
            return entry["why"]
    return None


def explained(survivors: list[Survivor], equivalents: list[dict[str, str]], source: str) -> list[dict]:
    """Each survivor of a module (whose unmutated text is source) as a record entry, with its reason or None."""
    annotations = annotation_spans(source)
    entries = []
    for s in sorted(survivors, key=lambda s: (s.line, s.column, s.operator)):
        why = reason(s, equivalents, annotations)
        entries.append({"operator": s.operator, "line": s.line, "removed": s.removed, "added": s.added, "why": why,
                        "in_annotation": why == IN_ANNOTATION})
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
                    seconds[module] = mutate_module(module, tree, socket_path)
                except BaseException as error:  # noqa: BLE001 - reported after the other worker stops
                    errors.append(error)
                    return
                meta_path(module).write_text(json.dumps(dict(state, seconds=round(seconds[module], 1),
                                                             files=file_hashes(module, tree))) + "\n")
                print(f"{module}: done in {seconds[module]:.0f} s", flush=True)

        threads = [threading.Thread(target=work, args=(index,)) for index in range(workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            raise errors[0]
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


def record(results: dict[str, Any], run_info: dict[str, Any]) -> dict[str, Any]:
    """The record of every module's session: counts, survivors with their reasons, and how it was run."""
    equivalents = load_equivalents()
    for module, result in results.items():
        if file_hashes(module, WORKDIR / "tree0")[module] != result["files"][module]:
            raise RuntimeError(f"{module} changed since its session: mutate it again (--modules {module})")
    modules = {module: dict(result, survivors=explained(result["survivors"], equivalents,
                                                        (WORKDIR / "tree0" / module).read_text()))
               for module, result in results.items()}
    totals = {key: sum(result[key] for result in modules.values())
              for key in ("mutants", "killed", "survived", "incompetent")}
    unexplained = sum(1 for result in modules.values() for s in result["survivors"] if s["why"] is None)
    return {"tool": f"cosmic-ray {version('cosmic-ray')}", "commit": run_info["commit"],
            "uncommitted_changes": run_info["uncommitted_changes"], "machine": run_info["machine"],
            "workers": run_info["workers"], "wall_seconds": round(run_info["wall_seconds"], 1),
            "pytest_args": PYTEST_ARGS, **totals, "unexplained": unexplained, "modules": modules}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--modules", nargs="+", choices=sorted(TARGETS), default=list(TARGETS),
                        help="mutate only these again; the record keeps the others' last sessions")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="copies tested at once")
    parser.add_argument("--report", action="store_true",
                        help="run nothing: the record again from the last sessions (after a reason was added "
                             "to tools/mutation_equivalents.yaml)")
    args = parser.parse_args(argv)
    run_path = WORKDIR / "sessions" / "run.json"
    if not args.report:
        state = run_state()  # before the copies are made
        wall = run(args.modules, args.workers, state)
        if set(args.modules) == set(TARGETS):
            run_path.write_text(json.dumps(dict(state, wall_seconds=wall, workers=args.workers)) + "\n")
    if not run_path.exists():
        print("no full run yet: `python -m tools.mutation` mutates every module before a record is written")
        return 1
    run_info = json.loads(run_path.read_text())
    results = {module: dict(module_results(module), **json.loads(meta_path(module).read_text()))
               for module in TARGETS}
    summary = record(results, run_info)
    for module, result in summary["modules"].items():
        print(f"{module}: {result['mutants']} mutants, {result['killed']} killed, {result['survived']} survived, "
              f"{result['incompetent']} incompetent")
        for s in result["survivors"]:
            print(f"  {'equivalent' if s['why'] else 'UNEXPLAINED'} line {s['line']} {s['operator']}: "
                  f"{s['removed']!r} -> {s['added']!r}")
    print(f"{summary['mutants']} mutants in {run_info['wall_seconds'] / 60:.1f} min on {run_info['workers']} workers; "
          f"{summary['survived']} survived, {summary['unexplained']} of them unexplained")
    RECORD.write_text(json.dumps(summary, indent=2) + "\n")
    print(f"wrote {RECORD.relative_to(REPO)}")
    return 1 if summary["unexplained"] else 0


# --- Its tables in the docs -------------------------------------------------------------------------------


def _md5(path: str) -> str | None:
    return md5(REPO / path) if (REPO / path).is_file() else None


def mutation_summary() -> str:
    """Per module: its tests, mutants, killed, survived (each equivalent, or not), incompetent, and the run."""
    record = json.loads(RECORD.read_text())
    lines = ["| module | mutants | killed | survived: equivalent "
             "| survived: unexplained | incompetent | minutes |", "|---|---:|---:|---:|---:|---:|---:|"]
    for module, result in record["modules"].items():
        unexplained = sum(1 for survivor in result["survivors"] if survivor["why"] is None)
        lines.append(f"| `{module}` | {result['mutants']} | {result['killed']} | "
                     f"{result['survived'] - unexplained} | {unexplained} | {result['incompetent']} | "
                     f"{result['seconds'] / 60:.1f} |")
    lines.append(f"| **all** | **{record['mutants']}** | **{record['killed']}** | "
                 f"**{record['survived'] - record['unexplained']}** | **{record['unexplained']}** | "
                 f"**{record['incompetent']}** | |")
    machine = record["machine"]
    files = {path: md5 for result in record["modules"].values() for path, md5 in result["files"].items()}
    changed = [path for path, md5 in files.items() if _md5(path) != md5]
    rerun = [f"`{module}` at `{result['commit'][:7]}`" for module, result in record["modules"].items()
             if result["commit"] != record["commit"]]
    lines += ["", f"{record['tool']} at commit `{record['commit'][:7]}`"
              + (" with uncommitted changes" if record["uncommitted_changes"] else "")
              + f", on {machine['cpu_model']} ({machine['cpu_family']}, {machine['instruction_set']}), "
              f"{record['workers']} modules at once on {machine['cores']} cores: "
              f"{record['wall_seconds'] / 60:.1f} min in all"
              + (f"; mutated again since: {', '.join(rerun)}" if rerun else "") + ". "
              + (f"**Changed since**: {', '.join(f'`{path}`' for path in changed)}; `make mutation` "
                 "measures them again." if changed else "Every module and test file is as it was measured.")]
    return "\n".join(lines)


def _operator(name: str) -> str:
    """ReplaceBinaryOperator_Add_Sub -> Add→Sub; other cosmic-ray operators keep their names."""
    match = re.fullmatch(r"Replace\w*?Operator_([A-Za-z]+)_([A-Za-z]+)", name)
    return f"{match.group(1)}→{match.group(2)}" if match else name


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def mutation_survivors() -> str:
    """The surviving mutants outside type annotations, grouped by module, line and reason: what changed, and why
    nothing notices. Those in annotations are counted in the summary and listed in the record."""
    record = json.loads(RECORD.read_text())
    lines = ["| module | line | mutants | why it changes nothing |", "|---|---:|---|---|"]
    for module, result in record["modules"].items():
        groups: dict[tuple, list[tuple[int, str]]] = {}
        for survivor in result["survivors"]:
            if survivor["in_annotation"]:
                continue
            why = _cell(survivor["why"] or "**UNEXPLAINED**")
            groups.setdefault(why, []).append((survivor["line"], _operator(survivor["operator"])))
        for why, mutants in groups.items():
            at = ", ".join(str(line) for line in sorted({line for line, _ in mutants}))
            kinds = ", ".join(sorted({operator for _, operator in mutants}))
            lines.append(f"| `{Path(module).name}` | {at} | {len(mutants)}: {kinds} | {why} |")
    return "\n".join(lines)


TABLES = {"mutation-summary": mutation_summary, "mutation-survivors": mutation_survivors}


if __name__ == "__main__":
    sys.exit(main())
