"""Intro detector vs the chromaprint baseline on a held-out demo library.

Usage::

    .venv/bin/python bench/detect_intros.py --root /tmp/intro_bench/seed7 --seed 7 [--series-split all|test]

The library is built with ``reviewer.demo.build_demo(root, seed=7, n_series=6,
episodes_per_series=5, n_songs=0)`` when missing. Seed 7 is reserved for this
benchmark: nothing is tuned or trained on it, so every series of it is held out
(``--series-split test`` restricts to the generator's own test series).
Prints one row per system: detected, false positives on no-intro episodes, MAE
start/end, both boundaries within 1 s / 3 s, mean IoU, and × real time for a
whole season (audio seconds / wall seconds, decoding included).
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from collections import defaultdict
from pathlib import Path

from reviewer.demo import build_demo
from reviewer.detect.baselines import chromaprint_intros
from reviewer.detect.intro import Episode, IntroConfig, detect_intros
from reviewer.metrics import intro as intro_metrics


def _load_truth(root: Path, split: str) -> dict:
    truth = json.loads((root / "episodes_truth.json").read_text(encoding="utf-8"))
    return {k: v for k, v in truth.items() if split == "all" or v["split"] == split}


def _run(name: str, fn, truth: dict) -> dict:
    by_series = defaultdict(list)
    for k in sorted(truth):
        by_series[truth[k]["series"]].append(k)
    ests, wall, audio = {}, 0.0, 0.0
    for series, keys in by_series.items():
        t0 = time.perf_counter()
        ests.update(fn(series, keys))
        wall += time.perf_counter() - t0
        audio += sum(truth[k]["duration"] for k in keys)
    refs = {k: (v["intro"]["start"], v["intro"]["end"]) if v["intro"] else None for k, v in truth.items()}
    res = intro_metrics.evaluate(refs, ests)
    res["x_realtime"] = audio / wall if wall > 0 else float("inf")
    res["system"] = name
    return res


def measure(root: Path, *, split: str = "all", baseline: bool = True) -> list[dict]:
    """One row per system (reviewer, then the chromaprint baseline) on the library at ``root``."""
    truth = _load_truth(root, split)

    def ours(series, keys):
        preds = detect_intros([Episode(k, series, path=str(root / k)) for k in keys], config=IntroConfig(), scorer=None)
        return {p.key: (p.start, p.end) if p.start is not None else None for p in preds}

    def chromaprint(series, keys):
        return chromaprint_intros([(k, series, str(root / k)) for k in keys])

    rows = [_run("reviewer: repetition", ours, truth)]
    if baseline:
        rows.append(_run("baseline: chromaprint (intro-skipper)", chromaprint, truth))
    return rows


COLUMNS = ("detected", "false_positive_rate", "mae_start", "mae_end", "within_1s", "within_3s", "mean_iou", "x_realtime")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", default="/tmp/intro_bench/seed7")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--n-series", type=int, default=6)
    ap.add_argument("--episodes", type=int, default=5)
    ap.add_argument("--series-split", default="all", choices=["all", "test", "train"])
    ap.add_argument("--no-baseline", action="store_true")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    root = Path(args.root)
    build_demo(root, seed=args.seed, n_series=args.n_series, episodes_per_series=args.episodes, n_songs=0, workers=2)
    rows = measure(root, split=args.series_split, baseline=not args.no_baseline)
    n_int = int(rows[0]["n_with_intro"])
    n_no = int(rows[0]["n_without_intro"])
    print(f"held-out library: {root} (seed {args.seed}, split {args.series_split}): "
          f"{n_int} episodes with an intro, {n_no} without")
    print(f"{'system':38s} " + " ".join(f"{c:>12s}" for c in COLUMNS))
    for r in rows:
        print(f"{r['system']:38s} " + " ".join(f"{r[c]:12.3f}" for c in COLUMNS))


if __name__ == "__main__":
    main()
