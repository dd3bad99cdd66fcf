import copy
import dataclasses

import pytest
import yaml

from betavae.errors import ParamsError
from betavae.params import load_params, parse_params, parse_stage_args
from tests.conftest import REPO


@pytest.fixture
def raw():
    return yaml.safe_load((REPO / "params.yaml").read_text())


def test_the_repository_params_load(params):
    assert params.train.beta == 5.0 and params.model.latent_dim == 10
    assert params.model.channels == (32, 32, 64)
    assert params.data.binarize is False and params.train.loss == "bce"


def with_value(raw, dotted, value):
    changed = copy.deepcopy(raw)
    section, key = dotted.split(".")
    changed[section][key] = value
    return changed


BAD = [
    ("train.beta", -1.0, "train.beta must be >= 0"),
    ("train.beta", "big", "train.beta must be a number"),
    ("train.beta", float("nan"), "train.beta must be finite"),
    ("model.latent_dim", 0, "model.latent_dim must be >= 1"),
    ("model.latent_dim", 2.5, "model.latent_dim must be an integer"),
    ("model.channels", [32, 32], "model.channels must list 3"),
    ("model.channels", [32, 32, 64, 64], "model.channels must list 3"),
    ("model.channels", [32, 0, 64], r"model.channels\[1\] must be >= 1"),
    ("model.channels", 32, "model.channels must be a non-empty list"),
    ("train.kl_warmup_epochs", -1, "train.kl_warmup_epochs must be >= 0"),
    ("train.kl_warmup_epochs", 21, r"train.kl_warmup_epochs must be at most train.epochs \(20\)"),
    ("train.epochs", 1.5, "train.epochs must be an integer"),
    ("train.epochs", True, "train.epochs must be an integer"),
    ("train.epochs", 0, "train.epochs must be >= 1"),
    ("train.lr", "fast", "train.lr must be a number"),
    ("train.lr", "1e-3", "write 1.0e-3"),
    ("train.lr", 0.0, "train.lr must be > 0"),
    ("train.lr", -1.0, "train.lr must be > 0"),
    ("train.loss", 5, "train.loss must be text"),
    ("train.loss", "l1", "train.loss must be one of bce, continuous_bernoulli, mse"),
    ("train.loss", "continuous_bernouli", "did you mean continuous_bernoulli"),
    ("train.lr_schedule", "linear", "train.lr_schedule must be one of constant, cosine"),
    ("data.binarize", "yes", "data.binarize must be true or false"),
    ("data.binarize", 1, "data.binarize must be true or false"),
    ("data.binarize_seed", -1, "data.binarize_seed must be >= 0"),
    ("train.loss", "bc", "did you mean bce"),
    ("train.batch_size", 0, "train.batch_size must be >= 1"),
    ("compute.threads", 0, "compute.threads must be >= 1"),
    ("sample.count", -3, "sample.count must be >= 1"),
    ("interpolate.steps", 1, "interpolate.steps must be >= 2"),
]


@pytest.mark.parametrize("key, value, message", BAD, ids=[f"{k}={v!r}" for k, v, _ in BAD])
def test_bad_values_are_rejected_with_the_key_named(raw, key, value, message):
    with pytest.raises(ParamsError, match=message):
        parse_params(with_value(raw, key, value))


def test_a_misspelt_key_gets_a_suggestion(raw):
    raw["train"]["betta"] = raw["train"].pop("beta")
    with pytest.raises(ParamsError, match=r"unknown key train.betta \(did you mean beta\?\)"):
        parse_params(raw)


def test_an_unknown_section_is_rejected(raw):
    raw["trian"] = {}
    with pytest.raises(ParamsError, match=r"unknown key trian \(did you mean train\?\)"):
        parse_params(raw)


def test_a_missing_key_is_named(raw):
    del raw["evaluate"]["seed"]
    with pytest.raises(ParamsError, match="missing key evaluate.seed"):
        parse_params(raw)


def test_of_several_missing_keys_the_first_in_params_order_is_named(raw):
    del raw["evaluate"]["batch_size"], raw["evaluate"]["prior_samples"]
    with pytest.raises(ParamsError, match="missing key evaluate.batch_size in evaluate$"):
        parse_params(raw)


def test_an_integer_beta_is_read_as_a_float(raw):
    # `dvc exp run -S train.beta=16` writes an int into params.yaml.
    params = parse_params(with_value(raw, "train.beta", 16))
    assert params.train.beta == 16.0 and isinstance(params.train.beta, float)


def test_a_section_that_is_not_a_mapping_is_rejected(raw):
    raw["train"] = 5
    with pytest.raises(ParamsError, match="train must be a mapping"):
        parse_params(raw)


def test_missing_and_malformed_files_are_reported(tmp_path):
    with pytest.raises(ParamsError, match="not found"):
        load_params(tmp_path / "nope.yaml")
    (tmp_path / "bad.yaml").write_text("train: [unclosed")
    with pytest.raises(ParamsError, match="not valid YAML"):
        load_params(tmp_path / "bad.yaml")


def test_stage_arguments_are_the_paths_in_order_plus_validated_params():
    args, params = parse_stage_args(["a.pt", "b.json", "--params", str(REPO / "params.yaml")], "doc",
                                    ["model", "metrics"])
    assert (args.model, args.metrics) == ("a.pt", "b.json")
    assert params.train.beta == yaml.safe_load((REPO / "params.yaml").read_text())["train"]["beta"]


@pytest.mark.parametrize("setting", ["train.beta=6", "model.latent_dim=12", "data.binarize=true"])
def test_dvc_exp_run_set_there_and_back_leaves_params_yaml_byte_for_byte(tmp_path, setting):
    """`dvc exp run -S` rewrites params.yaml through DVC's apply_overrides; the committed file is written the
    way it writes it back (block lists, comments kept), so a round trip leaves git clean."""
    from dvc.utils.hydra import apply_overrides
    path = tmp_path / "params.yaml"
    committed = (REPO / "params.yaml").read_text()
    path.write_text(committed)
    key = setting.split("=")[0]
    section, name = key.split(".")
    original = yaml.safe_load(committed)[section][name]
    apply_overrides(str(path), [setting])
    assert path.read_text() != committed
    apply_overrides(str(path), [f"{key}={yaml.safe_dump(original).splitlines()[0]}"])
    assert path.read_text() == committed


# Every number's allowed range, written out here (not read from betavae/params.py) so that a changed bound
# fails: (lowest allowed, highest allowed); EXCLUSIVE marks a lower end that is itself rejected.
EXCLUSIVE = "exclusive"
SEED_RANGE = (0, 2**63 - 1)
RANGES = {
    "data.binarize_seed": SEED_RANGE,
    "model.latent_dim": (1, 1024), "model.channels": (1, 1024), "model.hidden_dim": (1, 65536),
    "train.beta": (0.0, 1.0e6), "train.kl_warmup_epochs": (0, 100000), "train.epochs": (1, 100000),
    "train.batch_size": (1, 1000000), "train.lr": (EXCLUSIVE, 10.0), "train.lr_warmup_steps": (0, 10000000),
    "train.val_size": (1, 1000000), "train.seed": SEED_RANGE,
    "compute.threads": (1, 1024),
    "classifier.epochs": (1, 1000), "classifier.batch_size": (1, 1000000), "classifier.lr": (EXCLUSIVE, 10.0),
    "classifier.seed": SEED_RANGE,
    "evaluate.batch_size": (1, 1000000), "evaluate.seed": SEED_RANGE, "evaluate.iwae_samples": (1, 100000),
    "evaluate.knn_neighbours": (1, 1000), "evaluate.prior_samples": (2, 1000000),
    "sample.count": (1, 1024), "sample.seed": SEED_RANGE,
    "interpolate.pairs": (1, 45), "interpolate.steps": (2, 100),
    "visualize.reconstructions_per_class": (1, 20), "visualize.traversal_images": (1, 10),
    "visualize.traversal_steps": (2, 25), "visualize.traversal_range": (EXCLUSIVE, 10.0),
}


def test_every_number_in_params_yaml_has_its_range_tested(raw):
    numbers = {f"{section}.{key}" for section, values in raw.items() for key, value in values.items()
               if not isinstance(value, (bool, str))}
    assert numbers == set(RANGES)


def _with_edge(raw, key, value):
    """raw with key set to value (the first conv width for model.channels), warm-up and epochs kept apart."""
    changed = with_value(raw, "train.kl_warmup_epochs", 0)
    if key == "train.kl_warmup_epochs":
        changed = with_value(changed, "train.epochs", 100000)
    return with_value(changed, key, [value, 32, 64] if key == "model.channels" else value)


def _beyond(edge, direction):
    """The nearest value past an edge: the next integer, or a float a millionth of a unit further."""
    return edge + direction if isinstance(edge, int) else edge + direction * max(1.0, abs(edge)) * 1e-6


@pytest.mark.parametrize("key", sorted(RANGES))
def test_each_number_is_accepted_up_to_its_bounds_and_rejected_past_them(raw, key):
    low, high = RANGES[key]
    section, name = key.split(".")
    read = lambda value: getattr(getattr(parse_params(_with_edge(raw, key, value)), section), name)  # noqa: E731
    assert read(high) in (high, (high, 32, 64))
    with pytest.raises(ParamsError, match=rf"{key}(\[0\])? must be <= {high}"):
        read(_beyond(high, +1))
    if low == EXCLUSIVE:
        with pytest.raises(ParamsError, match=rf"{key} must be > 0.0"):
            read(0.0)
        assert read(1e-12) == 1e-12
    else:
        assert read(low) in (low, (low, 32, 64))
        with pytest.raises(ParamsError, match=rf"{key}(\[0\])? must be >= {low}"):
            read(_beyond(low, -1))


def test_params_cannot_be_changed_after_they_are_read(params):
    sections = [params, *(getattr(params, f.name) for f in dataclasses.fields(params))]
    for section in sections:
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(section, dataclasses.fields(section)[0].name, None)
