"""Metrics, mir_eval-style: one module per task, ``validate()`` → one function per metric → ``evaluate()``.

* :mod:`reviewer.metrics.intervals` — IoU, boundary errors and hit rates, per-frame P/R/F1, occurrence F
* :mod:`reviewer.metrics.intro` — intro detection over a set of episodes (detected, false positives, MAE, IoU)
* :mod:`reviewer.metrics.hooks` — snippets and chorus occurrences over a set of songs
* :mod:`reviewer.metrics.ranking` — Spearman, MAE / RMSE of regressions, Mean Opinion Score
"""
