import subprocess
import sys

import pytest
import torch

from betavae.errors import DataError, ParamsError
from betavae.model import CHECKPOINT_VERSION, BetaVAE, load_model, reparameterize, save_checkpoint, state_dict_digest
from betavae.objective import continuous_bernoulli_mean
from tests.conftest import REPO


def test_shapes_with_the_default_config(params):
    model = BetaVAE(params.model)
    images = torch.rand(5, 1, 28, 28)
    mu, logvar = model.encode(images)
    assert mu.shape == logvar.shape == (5, params.model.latent_dim)
    assert model.decode_logits(mu).shape == (5, 1, 28, 28)
    decoded = model.decode(mu)
    assert decoded.shape == (5, 1, 28, 28) and decoded.min() >= 0 and decoded.max() <= 1


def test_forward_returns_logits_and_the_posterior_parameters(tiny_model_config):
    model = BetaVAE(tiny_model_config)
    images = torch.rand(3, 1, 28, 28)
    logits, mu, logvar = model(images)
    assert logits.shape == (3, 1, 28, 28)
    assert mu.shape == logvar.shape == (3, tiny_model_config.latent_dim)
    expected_mu, expected_logvar = model.encode(images)
    assert torch.equal(mu, expected_mu) and torch.equal(logvar, expected_logvar)


def test_reparameterize_has_the_posterior_moments():
    mu, logvar = torch.full((20000, 2), 3.0), torch.full((20000, 2), 2 * torch.log(torch.tensor(0.5)))
    z = reparameterize(mu, logvar, torch.Generator().manual_seed(0))
    assert torch.allclose(z.mean(0), torch.full((2,), 3.0), atol=0.02)
    assert torch.allclose(z.std(0), torch.full((2,), 0.5), atol=0.02)


def test_checkpoint_rebuilds_the_same_model(tmp_path, tiny_model_config):
    model = BetaVAE(tiny_model_config).eval()
    save_checkpoint(model, tmp_path / "model.pt")
    loaded = load_model(tmp_path / "model.pt")
    assert loaded.config == tiny_model_config
    z = torch.randn(4, tiny_model_config.latent_dim)
    assert torch.equal(loaded.decode(z), model.decode(z))


def test_the_checkpoint_carries_the_loss_that_decides_what_decode_returns(tmp_path, tiny_model_config):
    model = BetaVAE(tiny_model_config, "continuous_bernoulli").eval()
    save_checkpoint(model, tmp_path / "model.pt")
    loaded = load_model(tmp_path / "model.pt")
    assert loaded.loss == "continuous_bernoulli"
    z = torch.randn(4, tiny_model_config.latent_dim)
    assert torch.equal(loaded.decode(z), continuous_bernoulli_mean(model.decode_logits(z)))
    assert not torch.equal(loaded.decode(z), torch.sigmoid(model.decode_logits(z)))


def test_an_unknown_loss_is_refused(tiny_model_config):
    with pytest.raises(ParamsError, match="unknown reconstruction loss 'l1'"):
        BetaVAE(tiny_model_config, "l1")


def test_checkpoint_bytes_do_not_depend_on_the_file_name(tmp_path, tiny_model_config):
    model = BetaVAE(tiny_model_config)
    save_checkpoint(model, tmp_path / "a.pt")
    save_checkpoint(model, tmp_path / "b.pt")
    assert (tmp_path / "a.pt").read_bytes() == (tmp_path / "b.pt").read_bytes()


def test_loading_a_broken_checkpoint_names_the_file(tmp_path):
    path = tmp_path / "model.pt"
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(DataError, match="model.pt"):
        load_model(path)


def test_checkpoint_config_is_validated(tmp_path, tiny_model_config):
    model = BetaVAE(tiny_model_config)
    save_checkpoint(model, tmp_path / "model.pt")
    checkpoint = torch.load(tmp_path / "model.pt", weights_only=True)
    checkpoint["config"]["latent_dim"] = 0
    torch.save(checkpoint, tmp_path / "bad.pt")
    with pytest.raises(DataError, match="latent_dim"):
        load_model(tmp_path / "bad.pt")


def test_a_checkpoint_of_another_format_version_is_refused_clearly(tmp_path, tiny_model_config):
    save_checkpoint(BetaVAE(tiny_model_config), tmp_path / "model.pt")
    checkpoint = torch.load(tmp_path / "model.pt", weights_only=True)
    assert checkpoint["format_version"] == CHECKPOINT_VERSION
    checkpoint["format_version"] = CHECKPOINT_VERSION + 1
    torch.save(checkpoint, tmp_path / "future.pt")
    with pytest.raises(DataError, match=f"format version {CHECKPOINT_VERSION + 1}, and this code reads version"):
        load_model(tmp_path / "future.pt")


def test_the_readme_three_lines_load_a_model_without_torchbearer(tmp_path, tiny_model_config):
    """torchbearer made unimportable: `from betavae import load_model` still loads and decodes."""
    save_checkpoint(BetaVAE(tiny_model_config), tmp_path / "model.pt")
    code = (f"import sys; sys.modules['torchbearer'] = None\n"
            f"import torch\n"
            f"from betavae import load_model\n"
            f"model = load_model({str(tmp_path / 'model.pt')!r})\n"
            f"images = model.decode(torch.randn(16, {tiny_model_config.latent_dim}))\n"
            f"assert images.shape == (16, 1, 28, 28)\n"
            f"assert 'torchbearer' not in {{m.split('.')[0] for m in sys.modules if sys.modules[m] is not None}}\n")
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True)


def test_a_flipped_byte_in_the_weights_is_refused(tmp_path, tiny_model_config):
    model = BetaVAE(tiny_model_config)
    path = tmp_path / "model.pt"
    save_checkpoint(model, path)
    weights = model.decoder[2].weight.detach().contiguous().numpy().tobytes()
    data = bytearray(path.read_bytes())
    start = bytes(data).find(weights)
    assert start > 0 and len(weights) > 100  # the tensor's bytes lie in the file as they are
    data[start + len(weights) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(DataError, match="model.pt is corrupt: its weights do not match the digest"):
        load_model(path)


def test_the_digest_covers_names_and_shapes_not_just_bytes():
    weights = torch.arange(6.0)
    digest = state_dict_digest({"a": weights})
    assert digest == state_dict_digest({"a": weights.clone()})
    assert digest != state_dict_digest({"b": weights})
    assert digest != state_dict_digest({"a": weights.view(2, 3)})


def test_the_architecture_is_three_4x4_stride_2_convolutions_and_their_mirror(tiny_model_config):
    """The documented model, layer by layer: the 28x28 image padded by 2 to 32x32, halved three times, and
    the decoder's 32x32 output cropped back to the image."""
    from betavae.model import FEATURE_SIZE, PAD, PADDED_SIZE
    assert (PADDED_SIZE, PAD, FEATURE_SIZE) == (32, 2, 4)
    model = BetaVAE(tiny_model_config)
    c1, c2, c3 = tiny_model_config.channels
    convolutions = [layer for layer in model.encoder if isinstance(layer, torch.nn.Conv2d)]
    transposed = [layer for layer in model.decoder if isinstance(layer, torch.nn.ConvTranspose2d)]
    assert [(m.in_channels, m.out_channels) for m in convolutions] == [(1, c1), (c1, c2), (c2, c3)]
    assert [(m.in_channels, m.out_channels) for m in transposed] == [(c3, c2), (c2, c1), (c1, 1)]
    for layer in convolutions + transposed:
        assert (layer.kernel_size, layer.stride, layer.padding) == ((4, 4), (2, 2), (1, 1))
    shapes, x = [], torch.zeros(2, 1, 32, 32)
    for layer in model.encoder:
        x = layer(x)
        shapes.append(tuple(x.shape[1:]))
    assert [(c1, 16, 16), (c2, 8, 8), (c3, 4, 4)] == [s for s in shapes if len(s) == 3][::2]
    z = torch.randn(2, tiny_model_config.latent_dim)
    full = model.decoder(z)
    assert tuple(full.shape) == (2, 1, 32, 32)
    assert torch.equal(model.decode_logits(z), full[:, :, 2:30, 2:30])


def test_reparameterize_is_the_mean_plus_sigma_times_the_seeded_noise():
    mu, logvar = torch.tensor([[1.0, -2.0, 0.5]]), torch.tensor([[0.0, 2.0, -1.0]])
    eps = torch.randn(mu.shape, generator=torch.Generator().manual_seed(4))
    z = reparameterize(mu, logvar, torch.Generator().manual_seed(4))
    assert torch.allclose(z, mu + torch.exp(0.5 * logvar) * eps)


def test_checkpoints_are_written_as_version_3_and_other_versions_are_refused(tmp_path, tiny_model_config):
    save_checkpoint(BetaVAE(tiny_model_config), tmp_path / "model.pt")
    checkpoint = torch.load(tmp_path / "model.pt", weights_only=True)
    assert checkpoint["format_version"] == 3 == CHECKPOINT_VERSION
    for version in (2, 4):
        torch.save(dict(checkpoint, format_version=version), tmp_path / f"v{version}.pt")
        with pytest.raises(DataError, match=f"format version {version}"):
            load_model(tmp_path / f"v{version}.pt")


def test_a_checkpoint_that_holds_an_object_is_refused_unread(tmp_path, tiny_model_config):
    """Loaded with weights_only: a planted object (here a date, anything torch would unpickle) never loads."""
    import datetime
    save_checkpoint(BetaVAE(tiny_model_config), tmp_path / "model.pt")
    checkpoint = torch.load(tmp_path / "model.pt", weights_only=True)
    torch.save(dict(checkpoint, planted=datetime.date(2026, 1, 1)), tmp_path / "planted.pt")
    with pytest.raises(DataError, match="is not a valid beta-VAE checkpoint"):
        load_model(tmp_path / "planted.pt")


@pytest.mark.parametrize("digest", ["0" * 64, "f" * 64])
def test_a_digest_that_sorts_either_side_of_the_weights_own_is_refused(tmp_path, tiny_model_config, digest):
    save_checkpoint(BetaVAE(tiny_model_config), tmp_path / "model.pt")
    checkpoint = torch.load(tmp_path / "model.pt", weights_only=True)
    torch.save(dict(checkpoint, digest=digest), tmp_path / "forged.pt")
    with pytest.raises(DataError, match="is corrupt"):
        load_model(tmp_path / "forged.pt")
