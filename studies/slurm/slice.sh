#!/bin/bash
#SBATCH --job-name=beta-sweep-slice
#SBATCH --cpus-per-task=2
# One slice of the β sweep as a task of a SLURM array: the GitHub Actions slice job's command, in a clone of
# its own (experiments run in the workspace), pushed to the remotes. `python -m studies.slurm_sweep` submits
# it with the variables below; a resubmitted task goes on in its clone, where finished cells are kept and
# an interrupted training resumes.
set -euo pipefail
: "${SWEEP_ORIGIN:?}" "${SWEEP_COMMIT:?}" "${SWEEP_WORKDIR:?}" "${SWEEP_PYTHON:?}" "${BETAS:?}" "${SEEDS:?}" "${SLICES:?}"
SLICE="$SLURM_ARRAY_TASK_ID"
clone="$SWEEP_WORKDIR/slice-$SLICE"
[ -d "$clone/.git" ] || git clone -q "$SWEEP_ORIGIN" "$clone"
cd "$clone"
git checkout -q "$SWEEP_COMMIT"
PATH="$(dirname "$SWEEP_PYTHON"):$PATH"
read -ra betas <<< "$BETAS"
read -ra seeds <<< "$SEEDS"
python -m studies.beta_sweep --betas "${betas[@]}" --seeds "${seeds[@]}" --slice "$SLICE/$SLICES" --push origin
