"""A reproducible beta-VAE on Fashion-MNIST. `load_model` rebuilds a trained model from its checkpoint."""

from __future__ import annotations

from typing import Any

__all__ = ["BetaVAE", "load_model"]


def __getattr__(name: str) -> Any:
    # Imported on first use, not with the package: the params stage imports betavae modules that need no
    # torch, and starts in a fraction of the time.
    if name in __all__:
        from betavae import model
        return getattr(model, name)
    raise AttributeError(f"module 'betavae' has no attribute {name!r}")
