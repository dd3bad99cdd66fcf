"""params.yaml -> typed, frozen dataclasses; the one place where params are read and checked.

Every key is required and every unknown key is rejected, so a typo can never silently fall back
to a default. Errors name the key, the value and what is allowed.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import math
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import yaml

from betavae.cli import path_parser
from betavae.errors import ParamsError


def _rule(*, low: float | None = None, high: float | None = None, above: float | None = None,
          choices: tuple[str, ...] | None = None) -> Any:
    """A required dataclass field with its allowed range or choices as metadata."""
    return field(metadata={"low": low, "high": high, "above": above, "choices": choices})


@dataclass(frozen=True)
class ModelConfig:
    """Architecture of the beta-VAE; saved inside every checkpoint."""

    latent_dim: int = _rule(low=1, high=1024)
    channels: tuple[int, ...] = _rule(low=1, high=1024)  # encoder conv widths, one per 4x4 stride-2 conv
    hidden_dim: int = _rule(low=1, high=65536)

    def __post_init__(self) -> None:
        if len(self.channels) != 3:
            raise ParamsError(f"model.channels must list 3 conv widths, got {list(self.channels)}")


@dataclass(frozen=True)
class DataParams:
    """What the train and evaluate stages see of the images."""

    binarize: bool = _rule()  # dynamic binarization: training draws a fresh Bernoulli sample of every image
    binarize_seed: int = _rule(low=0, high=2**63 - 1)  # the one fixed binarization of validation and test


@dataclass(frozen=True)
class TrainParams:
    beta: float = _rule(low=0.0, high=1.0e6)
    kl_warmup_epochs: int = _rule(low=0, high=100000)
    epochs: int = _rule(low=1, high=100000)
    batch_size: int = _rule(low=1, high=1000000)
    lr: float = _rule(above=0.0, high=10.0)
    lr_warmup_steps: int = _rule(low=0, high=10000000)
    lr_schedule: str = _rule(choices=("constant", "cosine"))
    loss: str = _rule(choices=("bce", "continuous_bernoulli", "mse"))
    val_size: int = _rule(low=1, high=1000000)
    seed: int = _rule(low=0, high=2**63 - 1)

    def __post_init__(self) -> None:
        if self.kl_warmup_epochs > self.epochs:
            raise ParamsError(f"train.kl_warmup_epochs must be at most train.epochs ({self.epochs}), "
                              f"so that training reaches the full beta; got {self.kl_warmup_epochs}")


@dataclass(frozen=True)
class ComputeParams:
    threads: int = _rule(low=1, high=1024)
    device: str = _rule(choices=("auto", "cpu", "cuda"))
    precision: str = _rule(choices=("auto", "fp32", "bf16"))


@dataclass(frozen=True)
class ClassifierParams:
    epochs: int = _rule(low=1, high=1000)
    batch_size: int = _rule(low=1, high=1000000)
    lr: float = _rule(above=0.0, high=10.0)
    seed: int = _rule(low=0, high=2**63 - 1)


@dataclass(frozen=True)
class EvaluateParams:
    batch_size: int = _rule(low=1, high=1000000)
    seed: int = _rule(low=0, high=2**63 - 1)
    iwae_samples: int = _rule(low=1, high=100000)
    knn_neighbours: int = _rule(low=1, high=1000)
    prior_samples: int = _rule(low=2, high=1000000)


@dataclass(frozen=True)
class SampleParams:
    count: int = _rule(low=1, high=1024)
    seed: int = _rule(low=0, high=2**63 - 1)


@dataclass(frozen=True)
class InterpolateParams:
    pairs: int = _rule(low=1, high=45)  # 45 = number of pairs of distinct classes
    steps: int = _rule(low=2, high=100)
    method: str = _rule(choices=("linear", "slerp"))


@dataclass(frozen=True)
class VisualizeParams:
    reconstructions_per_class: int = _rule(low=1, high=20)
    traversal_images: int = _rule(low=1, high=10)
    traversal_steps: int = _rule(low=2, high=25)
    traversal_range: float = _rule(above=0.0, high=10.0)  # z_d walks from -range to +range


@dataclass(frozen=True)
class Params:
    data: DataParams
    model: ModelConfig
    train: TrainParams
    compute: ComputeParams
    classifier: ClassifierParams
    evaluate: EvaluateParams
    sample: SampleParams
    interpolate: InterpolateParams
    visualize: VisualizeParams


def load_params(path: str | Path = "params.yaml") -> Params:
    """Read and validate params.yaml."""
    path = Path(path)
    if not path.is_file():
        raise ParamsError(f"params file not found: {path}")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise ParamsError(f"{path} is not valid YAML: {error}") from None
    return parse_params(raw)


def parse_params(raw: Any) -> Params:
    """Validate a params mapping (as read from YAML) into Params."""
    return _parse_dataclass(Params, raw, prefix="")


def parse_model_config(raw: Any) -> ModelConfig:
    """Validate a model config, e.g. the one stored in a checkpoint."""
    return _parse_dataclass(ModelConfig, raw, prefix="model.")


def _parse_dataclass(cls: type, raw: Any, prefix: str) -> Any:
    where = prefix.rstrip(".") or "params.yaml"
    if not isinstance(raw, dict):
        raise ParamsError(f"{where} must be a mapping of keys to values, got {raw!r}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    for key in raw:
        if key not in fields:
            raise ParamsError(f"unknown key {prefix}{key}{_did_you_mean(str(key), fields)}; "
                              f"allowed keys in {where}: {', '.join(fields)}")
    missing = [name for name in fields if name not in raw]
    if missing:
        raise ParamsError(f"missing key {prefix}{missing[0]} in {where}")
    values = {}
    for name, spec in fields.items():
        key = prefix + name
        if dataclasses.is_dataclass(hints[name]):
            values[name] = _parse_dataclass(hints[name], raw[name], prefix=key + ".")
        else:
            values[name] = _parse_value(key, raw[name], hints[name], spec.metadata)
    return cls(**values)


def _did_you_mean(key: str, allowed: Any) -> str:
    close = difflib.get_close_matches(key, list(allowed), n=1)
    return f" (did you mean {close[0]}?)" if close else ""


def _parse_value(key: str, value: Any, kind: Any, rule: Any) -> Any:
    if typing.get_origin(kind) is tuple:
        if not isinstance(value, (list, tuple)) or not value:
            raise ParamsError(f"{key} must be a non-empty list of integers, got {value!r}")
        return tuple(_parse_value(f"{key}[{i}]", item, int, rule) for i, item in enumerate(value))
    if kind is bool:
        if not isinstance(value, bool):
            raise ParamsError(f"{key} must be true or false, got {value!r}")
    elif kind is int:
        # bool is an int in Python; `epochs: true` is a mistake, not 1.
        if isinstance(value, bool) or not isinstance(value, int):
            raise ParamsError(f"{key} must be an integer, got {value!r}")
    elif kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            hint = " (write 1.0e-3, not 1e-3: YAML reads the latter as text)" if isinstance(value, str) else ""
            raise ParamsError(f"{key} must be a number, got {value!r}{hint}")
        value = float(value)  # `dvc exp run -S train.beta=16` writes an int
        if not math.isfinite(value):
            raise ParamsError(f"{key} must be finite, got {value!r}")
    elif kind is str:
        if not isinstance(value, str):
            raise ParamsError(f"{key} must be text, got {value!r}")
    _check_rule(key, value, rule)
    return value


def _check_rule(key: str, value: Any, rule: Any) -> None:
    if rule.get("choices") is not None and value not in rule["choices"]:
        allowed = ", ".join(rule["choices"])
        raise ParamsError(f"{key} must be one of {allowed}, got {value!r}"
                          f"{_did_you_mean(str(value), rule['choices'])}")
    if rule.get("low") is not None and value < rule["low"]:
        raise ParamsError(f"{key} must be >= {rule['low']}, got {value!r}")
    if rule.get("above") is not None and value <= rule["above"]:
        raise ParamsError(f"{key} must be > {rule['above']}, got {value!r}")
    if rule.get("high") is not None and value > rule["high"]:
        raise ParamsError(f"{key} must be <= {rule['high']}, got {value!r}")


def parse_stage_args(argv: Sequence[str] | None, description: str,
                     paths: Sequence[str]) -> tuple[argparse.Namespace, Params]:
    """A stage's positional paths as dvc.yaml passes them, plus --params; the params are validated here."""
    parser = path_parser(description, paths)
    parser.add_argument("--params", default="params.yaml", help="params file (default: params.yaml)")
    args = parser.parse_args(argv)
    return args, load_params(args.params)
