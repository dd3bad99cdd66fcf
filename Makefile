# Quick start: `make repro` (set up, run the pipeline), `make test` (set up, run the tests).
VENV := .venv
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export DVC_NO_ANALYTICS := 1

.PHONY: setup setup-dev repro test check-repro sweep docs
setup: $(VENV)/.installed .dvc/offline_plots.html
setup-dev: $(VENV)/.installed-dev

# The pipeline's packages (requirements.txt); the tests' on top of them (requirements-dev.txt)
$(VENV)/.installed: requirements.txt constraints.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements.txt -c constraints.txt
	touch $@

# The page template of `dvc plots show`/`diff` with Vega inlined, named in .dvc/config: plots draw offline
.dvc/offline_plots.html: $(VENV)/.installed scripts/offline_plots.py betavae/offline_plots.py
	$(VENV)/bin/python scripts/offline_plots.py

# The browser test of the offline plots needs Chromium: Debian's package, installed here where apt can
$(VENV)/.installed-dev: $(VENV)/.installed .dvc/offline_plots.html requirements-dev.txt
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt -c constraints.txt
	command -v chromium >/dev/null || apt-get install -y -q --no-install-recommends chromium >/dev/null \
		|| echo "Chromium is missing (apt-get install chromium): tests/test_offline_plots.py will fail"
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
# them, within the seed spread on another (see scripts/check_repro.py).
check-repro: setup
	python scripts/check_repro.py

# beta 0.5 1 2 5 10 x seeds 0 1 2 as DVC experiments, then metrics/beta_sweep.json and plots/beta_sweep.png
# (see scripts/beta_sweep.py; --slice/--push/--collect/--pull share it over machines: docs/sweep.md).
sweep: setup
	python scripts/beta_sweep.py

# Refresh the tables in README.md and docs/ from the committed results.
docs: setup
	python scripts/docs.py
