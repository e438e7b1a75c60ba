"""Torch models, losses and training loops."""
