"""train: fit the beta-VAE on the training split; save the model with its config, a per-epoch log, and the
platform record (what decides the run's bits: processor, instruction set, torch, device, precision, threads)."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from betavae import resume
from betavae.cli import run_stage
from betavae.compute import configure
from betavae.data import load_images
from betavae.errors import Interrupted
from betavae.io import write_json
from betavae.machine import platform_record
from betavae.model import save_checkpoint
from betavae.params import parse_stage_args
from betavae.training import train


def main(argv: Sequence[str] | None = None) -> None:
    args, params = parse_stage_args(argv, __doc__, ["data_dir", "model", "log_csv", "platform_json", "resume_dir"])
    compute = configure(params.compute)
    images, _ = load_images(args.data_dir, "train")
    try:
        model = train(images, params.model, params.train, args.log_csv, compute, resume_dir=args.resume_dir,
                      code=resume.code_files(Path(__file__)), data=params.data)
    except KeyboardInterrupt:
        raise Interrupted(f"finished epochs are kept in {args.resume_dir}; run `dvc repro` to resume") from None
    save_checkpoint(model, args.model)
    write_json(args.platform_json, platform_record(params.compute))
    resume.clear(args.resume_dir)


if __name__ == "__main__":
    run_stage(main)
