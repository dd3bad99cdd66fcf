"""A reproducible beta-VAE on Fashion-MNIST. `load_model` rebuilds a trained model from its checkpoint."""

from betavae.model import BetaVAE, load_model

__all__ = ["BetaVAE", "load_model"]
