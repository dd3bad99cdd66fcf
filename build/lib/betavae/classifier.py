"""A small Fashion-MNIST classifier whose penultimate features score samples without the internet.

The Fréchet distance between its features of real and generated images is the same idea as FID,
with a network trained on Fashion-MNIST instead of Inception: numbers are comparable only between
runs that use the same classifier.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from torchbearer import Trial

from betavae.batches import TensorBatches
from betavae.compute import CPU_FP32, Autocast, Compute
from betavae.errors import DataError
from betavae.io import save_torch
from betavae.params import ClassifierParams

FEATURES = 128


class Classifier(nn.Module):
    def __init__(self, classes: int = 10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),   # [B, 16, 14, 14]
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # [B, 32, 7, 7]
            nn.Flatten(), nn.Linear(32 * 7 * 7, FEATURES), nn.ReLU(),     # [B, 128]
        )
        self.head = nn.Linear(FEATURES, classes)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(images))


def train_classifier(images: torch.Tensor, labels: torch.Tensor, params: ClassifierParams,
                     compute: Compute = CPU_FP32, verbose: int = 1) -> Classifier:
    """Cross-entropy training with Adam; images [N, 1, 28, 28], labels [N]."""
    torch.manual_seed(params.seed)
    model = Classifier().to(compute.device, memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(model.parameters(), lr=params.lr, fused=True)
    trial = Trial(Autocast(model, compute), optimizer, nn.CrossEntropyLoss(), metrics=["loss", "acc"],
                  verbose=verbose)
    batches = TensorBatches(images.to(compute.device), params.batch_size, seed=params.seed,
                            targets=labels.to(compute.device))
    trial.with_generators(batches).to(compute.device).run(epochs=params.epochs)
    return model.to("cpu", memory_format=torch.contiguous_format).eval()


@torch.no_grad()
def predict(model: Classifier, images: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    return torch.cat([model(batch).argmax(1) for batch in images.split(batch_size)])


@torch.no_grad()
def features(model: Classifier, images: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    """Penultimate-layer features: [N, 1, 28, 28] -> [N, 128]."""
    return torch.cat([model.features(batch) for batch in images.split(batch_size)])


def save_classifier(model: Classifier, path: str | Path) -> None:
    save_torch({k: v.contiguous() for k, v in model.state_dict().items()}, path)


def load_classifier(path: str | Path) -> Classifier:
    path = Path(path)
    if not path.is_file():
        raise DataError(f"missing classifier file {path}; run `dvc repro classifier`")
    model = Classifier()
    try:
        model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    except Exception as error:
        raise DataError(f"{path} is not a valid classifier checkpoint: {error}") from None
    return model.eval()
