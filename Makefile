# Quick start: `make repro` (set up, run the pipeline), `make test` (set up, run the tests).
VENV := .venv
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export DVC_NO_ANALYTICS := 1

.PHONY: setup repro test check-repro
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

# Re-run every stage and fail unless the committed results come back (see scripts/check_repro.py).
check-repro: setup
	python scripts/check_repro.py
