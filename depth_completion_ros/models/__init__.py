"""Torch models, losses, checkpoints and inference."""
