"""The convolutional beta-VAE (Higgins et al., ICLR 2017), and checkpoints that carry their config.

Plain PyTorch: loading and using a trained model needs torch and this package, nothing else.

    from betavae import load_model
    model = load_model("models/model.pt")
    images = model.decode(torch.randn(16, model.config.latent_dim))   # [16, 1, 28, 28] in [0, 1]
"""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from betavae.errors import DataError, ParamsError
from betavae.io import save_torch
from betavae.objective import RECONSTRUCTION_LOSSES, decoder_mean
from betavae.params import ModelConfig, parse_model_config

# Version 3: {"format_version", "config", "loss", "state_dict", "digest"} (version 2 had no "digest", version
# 1 no "loss"). Raise it when the layout or the meaning of the weights changes, and teach load_model to read
# (or refuse, with a message) the older versions.
CHECKPOINT_VERSION = 3

IMAGE_SIZE = 28
PADDED_SIZE = 32  # three stride-2 convs halve 32 -> 16 -> 8 -> 4
PAD = (PADDED_SIZE - IMAGE_SIZE) // 2
FEATURE_SIZE = PADDED_SIZE // 8


class BetaVAE(nn.Module):
    """Encoder: three 4x4 stride-2 convs, a hidden layer, linear heads for mu and log sigma^2.

    Decoder: the mirror image, with transposed convs. Images are [B, 1, 28, 28] in [0, 1]; they are
    zero-padded to 32x32 inside the encoder and the decoder's output is cropped back to 28x28, so
    losses and metrics only ever see the 784 real pixels. `loss` is the reconstruction loss it is
    trained with (train.loss); it decides the decoder's pixel distribution, whose mean `decode` returns.
    """

    def __init__(self, config: ModelConfig, loss: str = "bce"):
        super().__init__()
        if loss not in RECONSTRUCTION_LOSSES:
            raise ParamsError(f"unknown reconstruction loss {loss!r}; one of {', '.join(RECONSTRUCTION_LOSSES)}")
        self.config, self.loss = config, loss
        c1, c2, c3 = config.channels
        flat = c3 * FEATURE_SIZE * FEATURE_SIZE
        self.encoder = nn.Sequential(
            nn.Conv2d(1, c1, 4, stride=2, padding=1), nn.ReLU(inplace=True),   # [B, c1, 16, 16]
            nn.Conv2d(c1, c2, 4, stride=2, padding=1), nn.ReLU(inplace=True),  # [B, c2, 8, 8]
            nn.Conv2d(c2, c3, 4, stride=2, padding=1), nn.ReLU(inplace=True),  # [B, c3, 4, 4]
            nn.Flatten(), nn.Linear(flat, config.hidden_dim), nn.ReLU(inplace=True),
        )
        self.mu_head = nn.Linear(config.hidden_dim, config.latent_dim)
        self.logvar_head = nn.Linear(config.hidden_dim, config.latent_dim)
        self.decoder = nn.Sequential(
            nn.Linear(config.latent_dim, config.hidden_dim), nn.ReLU(inplace=True),
            nn.Linear(config.hidden_dim, flat), nn.ReLU(inplace=True),
            nn.Unflatten(1, (c3, FEATURE_SIZE, FEATURE_SIZE)),
            nn.ConvTranspose2d(c3, c2, 4, stride=2, padding=1), nn.ReLU(inplace=True),  # [B, c2, 8, 8]
            nn.ConvTranspose2d(c2, c1, 4, stride=2, padding=1), nn.ReLU(inplace=True),  # [B, c1, 16, 16]
            nn.ConvTranspose2d(c1, 1, 4, stride=2, padding=1),              # [B, 1, 32, 32]
        )

    def encode(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """[B, 1, 28, 28] -> posterior mean and log variance, each [B, latent_dim]."""
        hidden = self.encoder(F.pad(images, (PAD, PAD, PAD, PAD)))
        return self.mu_head(hidden), self.logvar_head(hidden)

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        """[B, latent_dim] -> logits of the pixel distribution (Bernoulli or continuous Bernoulli) [B, 1, 28, 28]."""
        return self.decoder(z)[:, :, PAD:PAD + IMAGE_SIZE, PAD:PAD + IMAGE_SIZE]

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """[B, latent_dim] -> images [B, 1, 28, 28] in [0, 1]: the mean of the decoder's pixel distribution."""
        return decoder_mean(self.loss, self.decode_logits(z))

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Encode, sample z with the reparameterisation trick, decode.

        [B, 1, 28, 28] -> (logits [B, 1, 28, 28], mu [B, latent_dim], logvar [B, latent_dim]).
        """
        mu, logvar = self.encode(images)
        return self.decode_logits(reparameterize(mu, logvar)), mu, logvar


def reparameterize(mu: torch.Tensor, logvar: torch.Tensor,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """z = mu + sigma * eps, eps ~ N(0, I): a sample that gradients flow through."""
    eps = torch.randn(mu.shape, generator=generator, dtype=mu.dtype, device=mu.device)
    return mu + torch.exp(0.5 * logvar) * eps


def state_dict_digest(state_dict: dict[str, torch.Tensor]) -> str:
    """SHA-256 of every tensor's name, dtype, shape and bytes, in name order."""
    digest = hashlib.sha256()
    for name in sorted(state_dict):
        tensor = state_dict[name].detach().cpu().contiguous()
        digest.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)}:".encode())
        digest.update(tensor.view(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def save_checkpoint(model: BetaVAE, path: str | Path) -> None:
    """Save the weights with the config that rebuilds the model and their digest (loads with weights_only=True)."""
    state_dict = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    checkpoint = {"format_version": CHECKPOINT_VERSION, "config": dataclasses.asdict(model.config), "loss": model.loss,
                  "state_dict": state_dict, "digest": state_dict_digest(state_dict)}
    save_torch(checkpoint, path)


def load_model(path: str | Path) -> BetaVAE:
    """Rebuild a BetaVAE from a checkpoint written by save_checkpoint, in eval mode on the CPU.

    The weights are laid out channels-last, which doubles the speed of CPU inference. A file whose tensors
    do not match the digest saved with them (a flipped bit, a truncated copy) is refused.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"missing model file {path}; run `dvc repro train`")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise DataError(f"{path} is not a valid beta-VAE checkpoint: {error}") from None
    version = checkpoint.get("format_version") if isinstance(checkpoint, dict) else None
    if version != CHECKPOINT_VERSION:
        raise DataError(f"{path} is a checkpoint of format version {version}, and this code reads version "
                        f"{CHECKPOINT_VERSION}; re-run `dvc repro train`, or load it with the betavae "
                        f"release that wrote it")
    try:
        model = BetaVAE(parse_model_config(checkpoint["config"]), checkpoint["loss"])
        state_dict, digest = checkpoint["state_dict"], checkpoint["digest"]
        model.load_state_dict(state_dict)
    except Exception as error:
        raise DataError(f"{path} is not a valid beta-VAE checkpoint: {error}") from None
    if state_dict_digest(state_dict) != digest:
        raise DataError(f"{path} is corrupt: its weights do not match the digest saved with them; "
                        f"restore it with `dvc checkout models/model.pt` or re-run `dvc repro train`")
    return model.to(memory_format=torch.channels_last).eval()
