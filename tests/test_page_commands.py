"""tools/page_commands.py: a page that shows a command, flag, make target or file that does not exist fails."""

from tools.page_commands import page_problems, problems


def test_the_committed_pages_show_nothing_that_does_not_exist():
    assert problems() == []


def check(tmp_path, text):
    """What the checker finds in a page of this text, read against the repository."""
    path = tmp_path / "page.md"
    path.write_text(text)
    return [problem.split(": ", 1)[1] for problem in page_problems(path)]


def test_modules_scripts_flags_targets_and_files_that_exist_pass(tmp_path):
    text = ("Run `python -m studies.seed_group --seeds 0 1 -S train.beta=5.5` or `make group S=train.beta=5.5`.\n"
            "```bash\nmake diff A=committed B=beta-5.5   # a comment: --not-a-flag\n"
            "python -m stages.train data/fashion_mnist models/model.pt --params params.yaml\n```\n"
            "See `metrics/eval.json`, `betavae/model.py`, `metrics/groups/NAME.json` and [the README](../README.md).\n")
    assert check(tmp_path, text) == []


def test_a_missing_module_script_flag_target_variable_or_file_is_named(tmp_path):
    text = ("`python -m studies.no_such_study`\n"
            "`python scripts/beta_sweep.py --betas 1`\n"
            "`python -m studies.seed_group --no-such-flag`\n"
            "```\nmake no-such-target\nmake diff NOPE=1\n```\n"
            "`metrics/no_such.json` and [a page](no_such_page.md); dvc-s3 is in requirements.txt.\n")
    assert check(tmp_path, text) == [
        "python -m studies.no_such_study: no such module",
        "python scripts/beta_sweep.py: no such file",
        "python -m studies.seed_group --no-such-flag: the module takes no such flag",
        "make no-such-target: no such target",
        "make NOPE=1: the Makefile reads no variable NOPE",
        "metrics/no_such.json: no such file",
        "link no_such_page.md: no such file",
        "requirements.txt: no such file",
    ]


def test_outputs_that_dvc_repro_makes_count_as_files(tmp_path):
    assert check(tmp_path, "`models/model.pt`, `data/fashion_mnist/FashionMNIST/raw`\n") == []
