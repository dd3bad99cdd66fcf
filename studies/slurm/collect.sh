#!/bin/bash
#SBATCH --job-name=beta-sweep-collect
#SBATCH --cpus-per-task=2
# The β sweep's collector, once every slice task has succeeded (--dependency=afterok): the GitHub Actions
# collect job's command, in a clone of its own. Writes metrics/beta_sweep.json and plots/beta_sweep.png
# there. `python -m studies.slurm_sweep` submits it with the variables below.
set -euo pipefail
: "${SWEEP_ORIGIN:?}" "${SWEEP_COMMIT:?}" "${SWEEP_WORKDIR:?}" "${SWEEP_PYTHON:?}" "${BETAS:?}" "${SEEDS:?}"
clone="$SWEEP_WORKDIR/collect"
[ -d "$clone/.git" ] || git clone -q "$SWEEP_ORIGIN" "$clone"
cd "$clone"
git checkout -q "$SWEEP_COMMIT"
PATH="$(dirname "$SWEEP_PYTHON"):$PATH"
[ -d data/fashion_mnist ] || dvc repro download  # UDR encodes the test images with every slice's models
read -ra betas <<< "$BETAS"
read -ra seeds <<< "$SEEDS"
python -m studies.beta_sweep --betas "${betas[@]}" --seeds "${seeds[@]}" --collect --pull origin
