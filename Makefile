# Quick start: `make repro` (set up, run the pipeline), `make test` (set up, run the tests).
VENV := .venv
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export DVC_NO_ANALYTICS := 1

.PHONY: setup setup-dev repro test check-repro group sweep sweep-slurm docs diff exps mutation
setup: $(VENV)/.installed .dvc/offline_plots.html
setup-dev: $(VENV)/.installed-dev

# The library, editable, with what the pipeline, studies and tools add (the pipeline extra of pyproject.toml),
# every version pinned by constraints.txt; the tests' on top of them (the dev extra)
$(VENV)/.installed: pyproject.toml constraints.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[pipeline]"
	touch $@

# The page template of `dvc plots show`/`diff` with Vega inlined, named in .dvc/config: plots draw offline
.dvc/offline_plots.html: $(VENV)/.installed tools/offline_plots.py
	$(VENV)/bin/python -m tools.offline_plots

# The browser test of the offline plots needs Chromium, the SLURM sweep test a one-node SLURM: Debian's
# packages, installed here where apt can
$(VENV)/.installed-dev: $(VENV)/.installed .dvc/offline_plots.html
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[pipeline,dev]"
	command -v chromium >/dev/null || apt-get install -y -q --no-install-recommends chromium >/dev/null \
		|| echo "Chromium is missing (apt-get install chromium): tests/test_offline_plots.py will fail"
	command -v /usr/sbin/slurmctld >/dev/null || { apt-get update -q >/dev/null 2>&1; \
		apt-get install -y -q --no-install-recommends slurmctld slurmd slurm-client munge >/dev/null; } \
		|| echo "SLURM is missing (apt-get install slurmctld slurmd slurm-client munge): its tests will skip"
	touch $@

repro: setup
	dvc repro
	dvc status -q

# The whole suite, slow tests included, one worker per core (pytest-xdist); each test file runs on one
# worker (--dist loadfile), so a module's shared workspace is built once, the longest modules first
# (tests/conftest.py orders them; --no-loadscope-reorder keeps that order). `pytest -m "not slow"` is the
# quick check.
test: setup-dev
	pytest -n auto --dist loadfile --no-loadscope-reorder --durations=10

# Re-run every stage and fail unless the committed results come back: exactly on the platform that made
# them, within the seed spread on another (see studies/check_repro.py).
check-repro: setup
	python -m studies.check_repro

# One setting with several training seeds as DVC experiments, each recorded in metrics/groups/NAME.json as it
# finishes (studies/seed_group.py): make group S="train.beta=5.5" SEEDS="0 1 2 3 4" [WORKERS=2] [NAME=...]
S ?=
SEEDS ?= 0 1 2 3 4
WORKERS ?= 1
group: setup
	python -m studies.seed_group --seeds $(SEEDS) $(foreach s,$(S),-S $(s)) --workers $(WORKERS) $(if $(NAME),--name $(NAME))

# beta 0.5 1 2 5 10 x seeds 0 1 2 as DVC experiments, then metrics/beta_sweep.json and plots/beta_sweep.png
# (see studies/beta_sweep.py; --slice/--push/--collect/--pull share it over machines: docs/sweep.md).
sweep: setup
	python -m studies.beta_sweep

# The same sweep as a SLURM array (studies/slurm/: a task per slice, the collector after the last), run from a
# login node whose commit is pushed to origin; WORKDIR must be seen by every node
BETAS ?= 0.5 1 2 5 10
SLICES ?= 5
WORKDIR ?= $(CURDIR)/.sweep
sweep-slurm: setup
	python -m studies.slurm_sweep --betas $(BETAS) --seeds $(SEEDS) --slices $(SLICES) --workdir $(WORKDIR)

# Every metric of two runs (commits, branches, experiment names, `workspace`), and which differences exceed the
# seed noise, judged by the check's own rule: make diff A=HEAD B=<experiment>  (MD=1: a Markdown table)
A ?= HEAD
B ?= workspace
diff: setup
	python -m studies.diff $(A) $(B) $(if $(MD),--md)

# The experiments on one screen: their name, the headline metrics and the params they changed; no hashes, no
# other metrics (`dvc exp show` keeps the columns the regex does not drop, and --only-changed the params that vary)
exps: setup
	dvc exp show --only-changed \
		--drop '^(?!(Experiment|test_mse|kl_nats|active_units|linear_probe_accuracy|(data|model|train|compute|classifier|evaluate)\.)).*'

# Mutation testing of the modules that make a reported number, on demand: cosmic-ray mutates each and runs its
# fast tests; writes metrics/mutation.json and fails on a survivor with no reason or a reason that names no
# survivor (docs/mutation.md). CHANGED=1: only the modules whose code or tests changed since the record.
CHANGED ?=
mutation: setup-dev
	python -m tools.mutation $(if $(CHANGED),--changed)
	python -m tools.docs

# Refresh the tables in README.md and docs/ from the committed results.
docs: setup
	python -m tools.docs
