# Quick start: `make repro` (set up, run the pipeline), `make test` (set up, run the tests).
VENV := .venv
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export DVC_NO_ANALYTICS := 1

.PHONY: setup repro test check-repro sweep docs
setup: $(VENV)/.installed

$(VENV)/.installed: requirements.txt constraints.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements.txt -c constraints.txt
	touch $@

repro: setup
	dvc repro
	dvc status -q

test: setup
	pytest

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
