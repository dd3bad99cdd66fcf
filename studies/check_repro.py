"""Re-run the whole pipeline and check that it reproduces the committed results.

    python -m studies.check_repro                       # picks the mode from the platform record
    python -m studies.check_repro --mode statistical    # compare within the seed spread whatever the platform
    python -m studies.check_repro --no-rerun            # compare the results already in the workspace

Every stage really runs (`dvc repro --force`: neither the run cache nor existing outputs are reused).
The committed metrics/platform.json says what machine made the committed results:
- same platform class (CPU vendor, model, family and instruction set, kernels, GPU, torch, device,
  precision, threads):
  exact. Every tracked file must come back byte-identical.
- another platform class: statistical. The committed run and the re-run are tested as two draws of the
  seed spread (metrics/seed_spread.json): a t test per metric, family-wise at 1% over all of them
  (studies.analysis.reproducibility; the reasons and the measured false alarms in docs/reproducibility.md). A
  re-run whose training collapsed fails as such. The spread must have been measured on the committed code
  and params of train and evaluate. Results files (metrics/, plots/, dvc.lock) may change; code and params
  may not.
Either way `dvc status` must be clean afterwards. Prints the mode and why, then one row per metric.

--no-rerun compares a run you made yourself (e.g. `dvc exp run -S compute.threads=1`, a stand-in for
another CPU) with the commit: the mode comes from the workspace's metrics/platform.json, and only the
metrics are compared, since such a run changes params on purpose.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import yaml

from betavae.machine import platform_differences, platform_record
from betavae.params import load_params
from studies.analysis.calibration import committed_seed
from studies.analysis.experiments import PLATFORM, metrics_paths, stage_inputs
from studies.analysis.provenance import input_differences
from studies.analysis.reproducibility import comparable, compare_exactly, format_table, judge, seed_spread
from studies.records import PARAMS, REPO, SEED_SPREAD, relative

SPREAD = relative(SEED_SPREAD)
RESULTS = ("metrics/", "plots/", "dvc.lock")
MODES = ("exact", "statistical")


def run(*command: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=REPO, check=check, capture_output=True, text=True)


def committed_json(path: str) -> dict | None:
    shown = run("git", "show", f"HEAD:{path}", check=False)
    return json.loads(shown.stdout) if shown.returncode == 0 else None


def choose_mode(requested: str, committed: dict | None, current: dict) -> tuple[str, str]:
    """(mode, why) from the committed platform record and this machine's."""
    if requested not in ("auto", *MODES):
        raise ValueError(f"--mode must be auto, exact or statistical, got {requested!r}")
    if requested != "auto":
        return requested, f"asked for with --mode {requested}"
    if committed is None:
        return "statistical", f"the commit has no {PLATFORM} to say which platform made its results"
    differences = platform_differences(committed, current)
    if not differences:
        return "exact", "this machine is of the committed results' platform class: " + _describe(current)
    return "statistical", ("this machine is of another platform class than the committed results ("
                           + "; ".join(differences) + ")")


def _describe(record: dict) -> str:
    return ", ".join(f"{key} {value}" for key, value in record.items())


def metric_rows(mode: str) -> tuple[list, str | None]:
    """One Comparison per metric, the committed files (HEAD) against the re-run's (workspace), and in the
    statistical mode a failure that stands for all of them (a collapse), if any."""
    if mode not in MODES:
        raise ValueError(f"the mode is exact or statistical, got {mode!r}")
    paths = metrics_paths(REPO)
    committed_files = {path: committed_json(path) or {} for path in paths}
    new = comparable({path: json.loads((REPO / path).read_text()) if (REPO / path).is_file() else {}
                      for path in paths})
    if mode == "exact":
        return compare_exactly(comparable(committed_files), new), None
    spread_file = checked_spread()
    own = committed_seed(spread_file["seeds"], committed_files)  # the committed run, if it is a spread seed
    spread = seed_spread(spread_file["seeds"], leave_out=(own,) if own else ())
    print(f"Seed spread: {len(spread.seeds)} healthy seeds of {SPREAD}"
          + (f" (seed {own}, the committed run itself, left out)" if own else "")
          + (f"; collapsed, setting nothing: {', '.join(spread.collapsed)}" if spread.collapsed else "") + ".")
    verdict = judge(comparable(committed_files), new, spread)
    return verdict.rows, verdict.reason if verdict.collapsed else None


def checked_spread() -> dict:
    """metrics/seed_spread.json, if it was measured on the committed code and params of train and evaluate."""
    if not (REPO / SPREAD).is_file():
        sys.exit(f"error: {SPREAD} is missing, and the statistical mode needs it: run studies/seed_spread.py")
    spread = json.loads((REPO / SPREAD).read_text())
    committed = stage_inputs(yaml.safe_load(run("git", "show", "HEAD:dvc.lock").stdout))
    differences = input_differences(spread.get("inputs", {}), committed)
    if differences:
        sys.exit(f"error: {SPREAD} was measured on other inputs of train and evaluate than the committed results "
                 f"({'; '.join(differences)}): run studies/seed_spread.py on this commit and commit its record")
    return spread


def changed_files(ignore_results: bool) -> list[str]:
    lines = run("git", "status", "--porcelain", "--untracked-files=no").stdout.splitlines()
    paths = [line[3:] for line in lines]
    return [p for p in paths if not (ignore_results and p.startswith(RESULTS))]


def bits_match_but_the_platform_record() -> bool:
    """Whether every results file is the committed one to the bit, but metrics/platform.json (it names the
    machine) and that file's hash in dvc.lock."""
    changed = [path for path in changed_files(ignore_results=False) if path.startswith(RESULTS)]
    if any(path not in (PLATFORM, "dvc.lock") for path in changed):
        return False
    committed = yaml.safe_load(run("git", "show", "HEAD:dvc.lock").stdout)
    current = yaml.safe_load((REPO / "dvc.lock").read_text())
    return _without_platform_hash(committed) == _without_platform_hash(current)


def _without_platform_hash(lock: dict) -> dict:
    """dvc.lock with the hash and size of metrics/platform.json left out, wherever it is listed."""
    def strip(entries: list) -> list:
        return [{key: value for key, value in entry.items() if key not in ("md5", "size", "hash")}
                if entry.get("path") == PLATFORM else entry for entry in entries]
    return {name: {kind: strip(value) if kind in ("deps", "outs") else value for kind, value in stage.items()}
            for name, stage in lock.get("stages", {}).items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mode", choices=("auto", *MODES), default="auto")
    parser.add_argument("--no-rerun", action="store_true", help="compare the workspace's results as they are")
    args = parser.parse_args()

    if args.no_rerun:
        current = json.loads((REPO / PLATFORM).read_text())
    else:
        current = platform_record(load_params(PARAMS).compute)
    mode, why = choose_mode(args.mode, committed_json(PLATFORM), current)
    print(f"Mode: {mode}, because {why}.", flush=True)
    if not args.no_rerun:
        print("dvc repro --force: every stage runs", flush=True)
        subprocess.run(["dvc", "repro", "--force"], cwd=REPO, check=True)

    rows, failure = metric_rows(mode)
    print(f"\nCommitted metrics (HEAD) against the workspace's, {mode} mode:\n{format_table(rows)}\n")
    problems = [failure] if failure else [f"metric {row.metric}: {row.new!r} against committed {row.committed!r}"
                                          for row in rows if not row.passed]
    if not args.no_rerun and run("dvc", "status", "-q", check=False).returncode != 0:
        problems.append("dvc status is not clean after the re-run:\n" + run("dvc", "status").stdout)
    for path in changed_files(ignore_results=mode == "statistical"):
        if not (args.no_rerun and not path.startswith(RESULTS)):  # a hand-made run changes params on purpose
            problems.append(f"{path} differs from the committed file")
    same_bits = mode == "statistical" and bits_match_but_the_platform_record()
    return _verdict(problems, mode, same_bits, another_class=args.mode == "auto")


def _verdict(problems: list[str], mode: str, same_bits: bool = False, another_class: bool = False) -> int:
    if problems:
        print(f"NOT REPRODUCED ({mode}):\n- " + "\n- ".join(problems), file=sys.stderr)
        return 1
    if mode == "exact":
        print("Reproduced exactly: dvc status is clean, every tracked file matches the commit.")
    elif same_bits:
        print(f"Reproduced to the bit{' on another platform class' if another_class else ''}: every metric is "
              f"within its tolerance, and every results file matches the commit but {PLATFORM}, which names the "
              "machine (and its hash in dvc.lock).")
    else:
        print("Reproduced within the seed spread: every metric is within its tolerance. The "
              "workspace's results files (metrics/, plots/, dvc.lock) differ from the committed ones in their "
              "bits, as they must on another platform: `git checkout -- metrics plots dvc.lock` and "
              "`dvc checkout` put the committed ones back.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
