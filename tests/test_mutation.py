"""Mutation testing (tools/mutation.py): which survivors count as equivalent, and the committed record."""

import json

import pytest

from tools.mutation import (IN_ANNOTATION, REPO, TARGETS, Survivor, _changed_lines, annotation_spans, changed_modules,
                            load_equivalents, reason, unmatched)
from tools.mutation import record as record_of

SOURCE = '''from __future__ import annotations


def f(a: int | None, *rest: str | bytes, b: float | None = None) -> list[int] | None:
    local: dict | None = None
    return [a or 1]
'''


def survivor_at(line: int, column: int, removed: str = "", operator: str = "ReplaceBinaryOperator_BitOr_Add",
                added: str = "") -> Survivor:
    return Survivor("m.py", operator, line, column, removed, added)


def test_a_mutant_inside_a_functions_annotation_is_equivalent_and_one_in_its_body_is_not():
    spans = annotation_spans(SOURCE)
    line = SOURCE.splitlines()[3]
    for column in (line.index("| None,"), line.index("| bytes"), line.index("| None ="), line.index("| None:")):
        assert reason(survivor_at(4, column), [], spans) == IN_ANNOTATION
    assert reason(survivor_at(5, SOURCE.splitlines()[4].index("|")), [], spans) == IN_ANNOTATION
    assert reason(survivor_at(6, SOURCE.splitlines()[5].index("or")), [], spans) is None
    assert reason(survivor_at(4, line.index("= None")), [], spans) is None  # a default value is evaluated


def test_annotations_are_not_equivalent_where_python_evaluates_them():
    assert annotation_spans(SOURCE.replace("from __future__ import annotations\n", "")) == []


def test_an_equivalent_is_matched_by_module_line_and_operator_pattern():
    entries = [{"module": "m.py", "operator": "ReplaceComparisonOperator_Is_.*", "removed": "if x is int:",
                "why": "classes"},
               {"module": "m.py", "operator": "NumberReplacer", "removed_pattern": r"y = \d+", "added": "y = 2",
                "why": "two"}]
    assert reason(survivor_at(1, 0, "if x is int:", "ReplaceComparisonOperator_Is_Eq"), entries) == "classes"
    assert reason(survivor_at(1, 0, "if x is str:", "ReplaceComparisonOperator_Is_Eq"), entries) is None
    assert reason(survivor_at(1, 0, "if x is int:", "ReplaceComparisonOperator_Eq_Is"), entries) is None
    assert reason(Survivor("n.py", "ReplaceComparisonOperator_Is_Eq", 1, 0, "if x is int:", ""), entries) is None
    assert reason(survivor_at(1, 0, "y = 1", "NumberReplacer", "y = 2"), entries) == "two"
    assert reason(survivor_at(1, 0, "y = 1", "NumberReplacer", "y = 0"), entries) is None
    entries[1] = {key: value for key, value in entries[1].items() if key != "added"} | {"added_pattern": r"y = -?\d"}
    assert reason(survivor_at(1, 0, "y = 1", "NumberReplacer", "y = -2"), entries) == "two"
    assert reason(survivor_at(1, 0, "y = 1", "NumberReplacer", "y = 20"), entries) is None


def test_an_equivalent_that_names_no_survivor_is_reported():
    entries = [{"module": "m.py", "operator": "NumberReplacer", "removed": "y = 1", "why": "used"},
               {"module": "m.py", "operator": "NumberReplacer", "removed": "z = 1", "why": "stale"}]
    survivors = [survivor_at(1, 0, "y = 1", "NumberReplacer", "y = 2")]
    assert unmatched(entries, survivors) == [entries[1]]
    assert unmatched(entries, []) == entries


def test_a_target_is_measured_again_when_its_code_or_tests_changed_or_it_has_no_entry():
    from betavae.canonical import md5
    module, tests = next(iter(TARGETS.items()))
    current = {path: md5(REPO / path) for path in (module, *tests)}
    entries = {m: {"tests": t, "files": {path: md5(REPO / path) for path in (m, *t)}} for m, t in TARGETS.items()}
    assert changed_modules(entries) == []
    entries[module]["files"] = dict(current, **{module: "0" * 32})
    assert changed_modules(entries) == [module]
    entries[module] = {"tests": tests[:0], "files": current}
    assert changed_modules(entries) == [module]
    del entries[module]
    assert changed_modules(entries) == [module]


def test_the_mutated_line_is_read_from_cosmic_rays_diff():
    diff = "--- mutation diff ---\n--- a/m.py\n+++ b/m.py\n@@ -3,1 +3,1 @@\n-    x = a + b\n+    x = a - b\n"
    assert _changed_lines(diff) == ("x = a + b", "x = a - b")


def test_every_target_and_its_tests_exist():
    for module, tests in TARGETS.items():
        assert (REPO / module).is_file()
        assert tests and all((REPO / test).is_file() for test in tests)


def test_a_record_lists_the_targets_it_has_no_entry_for_and_checks_only_its_modules_equivalents():
    module = next(iter(TARGETS))
    entry = {"module": module, "mutants": 2, "killed": 2, "survived": 0, "incompetent": 0, "survivors": []}
    made = record_of({module: entry}, [])
    assert made["not_measured"] == list(TARGETS)[1:]
    assert (made["mutants"], made["killed"], made["unexplained"]) == (2, 2, 0)
    named = [e for e in load_equivalents() if e["module"] == module]
    assert made["unmatched_equivalents"] == named  # no survivor names them, and nothing else is checked
    assert record_of({}, [])["not_measured"] == list(TARGETS)


def test_a_record_keeps_only_the_runs_that_made_its_entries():
    module = next(iter(TARGETS))
    entry = {"module": module, "commit": "b" * 40, "mutants": 0, "killed": 0, "survived": 0, "incompetent": 0,
             "survivors": []}
    runs = [{"commit": "a" * 40, "modules": [module]}, {"commit": "b" * 40, "modules": [module]}]
    assert record_of({module: entry}, runs)["runs"] == runs[1:]  # the first run's entry was measured again


@pytest.fixture(scope="module")
def record():
    return json.loads((REPO / "metrics" / "mutation.json").read_text())


def test_the_committed_record_names_each_target_it_has_not_measured_and_leaves_no_survivor_unexplained(record):
    measured = [module for module in TARGETS if module in record["modules"]]
    assert sorted(record["modules"]) == sorted(measured)
    assert record["not_measured"] == [module for module in TARGETS if module not in measured]
    assert record["unexplained"] == 0
    assert all(survivor["why"] for result in record["modules"].values() for survivor in result["survivors"])
    for result in record["modules"].values():
        assert result["mutants"] == result["killed"] + result["survived"] + result["incompetent"]
        assert result["survived"] == len(result["survivors"])


def test_each_recorded_reason_is_the_one_the_equivalents_give_today(record):
    equivalents = load_equivalents()
    for module, result in record["modules"].items():
        for s in result["survivors"]:
            if s["why"] != IN_ANNOTATION:
                survivor = Survivor(module, s["operator"], s["line"], 0, s["removed"], s["added"])
                assert reason(survivor, equivalents) == s["why"], (module, s)


def test_the_docs_list_the_survivors_kept_knowingly_and_the_command_line_every_one(tmp_path, monkeypatch, capsys):
    import tools.mutation as mutation

    def survivor(line, why, in_annotation=False):
        return {"line": line, "operator": "ReplaceBinaryOperator_Add_Sub", "why": why, "in_annotation": in_annotation,
                "removed": "a + b", "added": "a - b"}

    survivors = [survivor(3, "b is zero here."), survivor(5, "Not equivalent, and no test pins it: rounding."),
                 survivor(7, IN_ANNOTATION, in_annotation=True), survivor(9, None)]
    path = tmp_path / "mutation.json"
    path.write_text(json.dumps({"modules": {"betavae/m.py": {"survivors": survivors}}}))
    monkeypatch.setattr(mutation, "RECORD", path)
    page = mutation.mutation_survivors().splitlines()
    assert page[0].startswith("3 survivors lie outside type annotations: 1 equivalent, each with the reason")
    assert page[0].endswith("1 unexplained, and 1 kept knowingly, as below:")
    assert page[4:] == ["| `m.py` | 5 | 1: Add→Sub | Not equivalent, and no test pins it: rounding. |"]
    assert mutation.main(["--survivors"]) == 0
    assert capsys.readouterr().out.splitlines()[2:] == ["| `m.py` | 3 | 1: Add→Sub | b is zero here. |",
                                                        "| `m.py` | 5 | 1: Add→Sub | Not equivalent, and no test pins it: "
                                                        "rounding. |", "| `m.py` | 9 | 1: Add→Sub | **UNEXPLAINED** |"]
