"""download: fetch Fashion-MNIST and write it in canonical order, with a record of its source."""

from __future__ import annotations

from typing import Sequence

from betavae.cli import parse_paths, run_stage
from betavae.sources import download_dataset
from betavae.io import write_json


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_paths(argv, __doc__, ["data_dir", "source_json"])
    record = download_dataset(args.data_dir)
    write_json(args.source_json, record)
    print(f"Fashion-MNIST from {record['source']} -> {args.data_dir}")


if __name__ == "__main__":
    run_stage(main)
