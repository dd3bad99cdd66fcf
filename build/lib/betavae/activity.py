"""Which latent units carry information about the image, and a warning when almost none do.

A unit is active when its posterior mean varies across images: Cov_x(E_q[z_d]) > 0.01 (Burda et al.,
"Importance weighted autoencoders", ICLR 2016). A model with fewer than MIN_ACTIVE_UNITS active units has
a collapsed posterior: its decoder draws nearly the same image whatever the input (test MSE about five
times a healthy model's at the defaults), so every metric after it describes a dead model.
"""

from __future__ import annotations

import torch

ACTIVE_UNIT_THRESHOLD = 0.01
# Fewer active units than this is a collapse. The healthy runs here keep 5 or more at beta <= 10
# (docs/sweep.md); a single unit cannot hold the ten classes apart.
MIN_ACTIVE_UNITS = 2


def unit_activity(mu: torch.Tensor) -> torch.Tensor:
    """Cov_x(E_q[z_d]) of each latent dimension: the variance of the posterior means, [N, D] -> [D]."""
    return mu.var(dim=0)


def active_units(mu: torch.Tensor, threshold: float = ACTIVE_UNIT_THRESHOLD) -> int:
    """How many latent dimensions' posterior means vary by more than threshold across the images [N, D]."""
    return int((unit_activity(mu) > threshold).sum())


def is_collapsed(active: int) -> bool:
    return active < MIN_ACTIVE_UNITS


def collapse_warning(active: int, latent_dim: int, images: str) -> str | None:
    """The one-line warning for a collapsed posterior, or None for a healthy one."""
    if not is_collapsed(active):
        return None
    return (f"warning: posterior collapse: {active} of {latent_dim} latent units are active on the {images} "
            f"(fewer than {MIN_ACTIVE_UNITS}); the model ignores its input. See 'Posterior collapse' in "
            f"docs/pipeline.md")
