"""How much class information the latent means carry, and distances between feature distributions."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def linear_probe_accuracy(train_x: torch.Tensor, train_y: torch.Tensor, test_x: torch.Tensor,
                          test_y: torch.Tensor, steps: int = 100, weight_decay: float = 1e-4) -> float:
    """Fit multinomial logistic regression on (train_x, train_y) by L-BFGS; accuracy on the test set."""
    mean, std = train_x.mean(0), train_x.std(0).clamp_min(1e-6)
    train_x, test_x = (train_x - mean) / std, (test_x - mean) / std
    classes = int(train_y.max()) + 1
    weight = torch.zeros(train_x.shape[1], classes, requires_grad=True)
    bias = torch.zeros(classes, requires_grad=True)
    optimizer = torch.optim.LBFGS([weight, bias], max_iter=steps, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = F.cross_entropy(train_x @ weight + bias, train_y) + weight_decay * weight.pow(2).sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    with torch.no_grad():
        return (test_x @ weight + bias).argmax(1).eq(test_y).float().mean().item()


@torch.no_grad()
def knn_accuracy(train_x: torch.Tensor, train_y: torch.Tensor, test_x: torch.Tensor, test_y: torch.Tensor,
                 k: int = 5, batch_size: int = 1000) -> float:
    """Majority vote of the k nearest training points (Euclidean); ties go to the lower label."""
    correct = 0
    for x, y in zip(test_x.split(batch_size), test_y.split(batch_size)):
        neighbours = torch.cdist(x, train_x).topk(k, largest=False).indices
        correct += train_y[neighbours].mode(dim=1).values.eq(y).sum().item()
    return correct / len(test_x)


def frechet_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets [N, F], [M, F].

    d^2 = |mu_a - mu_b|^2 + Tr(S_a + S_b - 2 (S_a^1/2 S_b S_a^1/2)^1/2), in float64.
    """
    a, b = a.double(), b.double()
    mean_a, mean_b = a.mean(0), b.mean(0)
    cov_a, cov_b = torch.cov(a.T), torch.cov(b.T)
    root_a = _sqrtm_psd(cov_a)
    cross = _sqrtm_psd(root_a @ cov_b @ root_a)
    return ((mean_a - mean_b).pow(2).sum() + torch.trace(cov_a + cov_b - 2 * cross)).item()


def _sqrtm_psd(matrix: torch.Tensor) -> torch.Tensor:
    """Square root of a symmetric positive semi-definite matrix, by eigendecomposition."""
    values, vectors = torch.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * values.clamp_min(0).sqrt()) @ vectors.T
