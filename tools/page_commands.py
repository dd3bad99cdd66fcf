"""Every command, make target, flag and file that README.md and docs/ show must exist today.

Read in code spans and code blocks: `python -m MODULE --flag ...` (the module importable from the repository,
each flag written in its source or in the stages' shared argument code), `python path.py`, `make TARGET
VAR=...` (a target of the Makefile, a variable it reads), and repository paths (betavae/..., metrics/...,
params.yaml, ...; DVC's declared outputs and the files of the Makefile's rules count: `make repro` makes them). In the prose too: Markdown links
to files of the repository, and bare file names of the kinds a reader would look for (`requirements.txt`).
`python -m tools.docs --check` fails on what this finds.
"""

from __future__ import annotations

import importlib.util
import re
import shlex
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
# Modules of the standard library and of the tools we run, not of this repository
OTHER_MODULES = {"pip", "venv", "pytest", "http", "json", "dvc", "cosmic_ray"}
TOP_LEVEL_DIRS = ("betavae/", "stages/", "studies/", "tools/", "benchmarks/", "tests/", "metrics/", "plots/",
                  "docs/", "data/", "models/", ".github/", ".ci/", ".dvc/")
TOP_LEVEL_FILES = ("dvc.yaml", "dvc.lock", "params.yaml", "Makefile", "pyproject.toml", "constraints.txt",
                   ".gitlab-ci.yml", ".dvcignore", "requirements.txt", "requirements-dev.txt", "setup.py",
                   "setup.cfg")
SHARED_FLAG_SOURCES = ("betavae/cli.py", "betavae/params.py")  # the stages' arguments (--params)
CODE_SPAN = re.compile(r"`([^`\n]+)`")
FENCE = re.compile(r"^```")
COMMAND_END = re.compile(r"\s(?:#|;|\||&&|>)")


def code_lines(text: str) -> list[tuple[int, str, bool]]:
    """(line number, code, whether it is a code block line) for every code span and code-block line."""
    found, in_block = [], False
    for number, line in enumerate(text.splitlines(), 1):
        if FENCE.match(line.strip()):
            in_block = not in_block
            continue
        if in_block:
            found.append((number, line, True))
        else:
            found += [(number, span, False) for span in CODE_SPAN.findall(line)]
    return found


def _declared_outputs() -> set[str]:
    """What `dvc repro` and `make setup` make: the stages' outputs, and the files the Makefile's rules write."""
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    made = re.findall(r"^([\w./-]+\.\w+):", (REPO / "Makefile").read_text(), re.M)
    return {next(iter(entry)) if isinstance(entry, dict) else entry
            for stage in stages.values() for kind in ("outs", "metrics", "plots") for entry in stage.get(kind, [])
            } | set(made)


def path_exists(path: str, outputs: set[str]) -> bool:
    path = path.rstrip("/.,:;)")
    if any(mark in path for mark in ("*", "<", "NAME", "...", "{", "$")):
        return True  # a pattern or placeholder, not a file
    return (REPO / path).exists() or any(path == out or path.startswith(out + "/") for out in outputs)


def module_problems(module: str, arguments: list[str]) -> list[str]:
    if module.split(".")[0] in OTHER_MODULES or any(part.isupper() for part in module.split(".")):
        return []
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.origin:
        return [f"python -m {module}: no such module"]
    source = Path(spec.origin).read_text() + "".join((REPO / path).read_text() for path in SHARED_FLAG_SOURCES)
    return [f"python -m {module} {flag}: the module takes no such flag" for flag in
            (argument.split("=")[0] for argument in arguments if argument.startswith("--"))
            if f'"{flag}"' not in source and f"'{flag}'" not in source]


def make_problems(arguments: list[str], makefile: str) -> list[str]:
    problems = []
    for argument in arguments:
        if "=" in argument:
            variable = argument.split("=")[0]
            if not re.search(rf"\$\({re.escape(variable)}\)", makefile):
                problems.append(f"make {argument}: the Makefile reads no variable {variable}")
        elif re.fullmatch(r"[\w-]+", argument) and not re.search(rf"^{re.escape(argument)}:", makefile, re.M):
            problems.append(f"make {argument}: no such target")
    return problems


def _words(command: str) -> list[str]:
    try:
        return shlex.split(command)
    except ValueError:  # an unclosed quote in prose-like code
        return command.split()


def command_problems(code: str, makefile: str, outputs: set[str]) -> list[str]:
    """What does not exist in one line of code: its commands, targets, flags and paths."""
    problems = []
    command = _words(COMMAND_END.split(" " + code)[0])
    for start, word in enumerate(command):
        rest = command[start + 1:]
        if word in ("python", "python3") and rest[:1] == ["-m"] and len(rest) > 1:
            problems += module_problems(rest[1], rest[2:])
        elif word in ("python", "python3") and rest and rest[0].endswith(".py") and not path_exists(rest[0], outputs):
            problems.append(f"python {rest[0]}: no such file")
        elif word == "make" and (start == 0 or command[start - 1] in ("&&", ";")):
            problems += make_problems(rest, makefile)
    for token in re.findall(r"[\w./-]+", code):
        if (token.startswith(TOP_LEVEL_DIRS) or token in TOP_LEVEL_FILES) and not path_exists(token, outputs):
            problems.append(f"{token}: no such file")
    return problems


def prose_problems(line: str, outputs: set[str]) -> list[str]:
    """Links to repository files, and bare names of the repository's kinds of top-level file, in prose."""
    problems = [f"link {target}: no such file" for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", line)
                if not target.startswith(("http", "mailto")) and not path_exists(target.lstrip("./"), outputs)
                and not (REPO / "docs" / target).exists()]
    prose = CODE_SPAN.sub("", line)
    problems += [f"{name}: no such file" for name in re.findall(r"\b[\w-]+\.(?:txt|toml|cfg)\b", prose)
                 if name in TOP_LEVEL_FILES and not (REPO / name).exists()]
    return problems


def page_problems(page: Path) -> list[str]:
    makefile, outputs = (REPO / "Makefile").read_text(), _declared_outputs()
    text = page.read_text()
    name = page.relative_to(REPO).as_posix() if page.is_relative_to(REPO) else page.name
    problems = [f"{name}:{number}: {problem}" for number, code, _ in code_lines(text)
                for problem in command_problems(code, makefile, outputs)]
    in_block = False
    for number, line in enumerate(text.splitlines(), 1):
        if FENCE.match(line.strip()):
            in_block = not in_block
        elif not in_block:
            problems += [f"{name}:{number}: {problem}" for problem in prose_problems(line, outputs)]
    return problems


def problems(pages: list[Path] = PAGES) -> list[str]:
    return [problem for page in pages for problem in page_problems(page)]
