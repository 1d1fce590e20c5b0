"""Training sets from store labels, the training loop, held-out evaluation and the seed-000 experiments."""
