"""Trained models: the segment-scorer contract, nets, checkpoints and the registry."""
