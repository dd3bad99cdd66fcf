"""A reproducible beta-VAE on Fashion-MNIST: data, model, training, evaluation and figures."""
