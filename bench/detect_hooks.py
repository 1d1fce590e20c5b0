"""Songs, side by side: the hook detector (heuristic and learned ranking) vs the pychorus-style baseline.

Train the ranker on demo builds of *other* seeds, then measure on a held-out
build (seed 7 is reserved for this and is never used for training or tuning)::

    .venv/bin/python bench/detect_hooks.py --work /tmp/hookbench --train-seeds 0 3 5 --eval-seed 7 --n-songs 30

Builds missing libraries with ``reviewer.demo.build_demo`` under ``--work/seed<N>``.
Prints, per system: snippet ≥ 50 % inside chorus/pre-chorus, IoU with the hook
region, chorus-start error (s), chorus-occurrence F at 3 s, and × real time
(audio seconds / detection seconds, feature extraction included).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np

from reviewer.demo import build_demo
from reviewer.detect.baselines.chorus_pychorus import detect_chorus_pychorus
from reviewer.detect.hooks import HookConfig, analyse_song, detect_hooks, load_song
from reviewer.detect.ranker import label_candidate, load_ranker, train_ranker
from reviewer.metrics.hooks import evaluate


def library(work: Path, seed: int, n_songs: int) -> Path:
    out = work / f"seed{seed}"
    build_demo(out, seed=seed, n_series=2, episodes_per_series=1, n_songs=n_songs, workers=2)
    return out


def refs_of(root: Path) -> dict[str, dict]:
    truth = json.loads((root / "songs_truth.json").read_text())
    refs = {}
    for k, v in truth.items():
        refs[k] = {
            "chorus": [(s["start"], s["end"]) for s in v["sections"] if s["label"] == "chorus"],
            "prechorus": [(s["start"], s["end"]) for s in v["sections"] if s["label"] == "pre-chorus"],
            "hook": (v["hook"]["start"], v["hook"]["end"]) if v["hook"] else None,
            "artist": v["artist"], "duration": v["duration"],
        }
    return refs


def train(work: Path, seeds: list[int], n_songs: int, out_path: Path, kind: str) -> None:
    X, y, songs, artists = [], [], [], []
    for seed in seeds:
        root = library(work, seed, n_songs)
        for k, ref in refs_of(root).items():
            sa = analyse_song(load_song(root / k, key=k), config=HookConfig())
            for c, f in zip(sa.candidates, sa.features):
                X.append(f)
                y.append(label_candidate(c.occurrences, ref["chorus"]))
                songs.append(f"{seed}:{k}")
                artists.append(f"{seed}:{ref['artist']}")
    r = train_ranker(np.vstack(X), np.asarray(y), songs=songs, artists=artists, out_path=out_path, kind=kind)
    print(f"ranker {r.model_version}: {len(X)} candidates from {len(set(songs))} songs (seeds {seeds}); "
          f"held-out-artist metrics {json.dumps(r.meta['metrics'])}")


def measure(root: Path, ranker_path: Path | None) -> None:
    refs = refs_of(root)
    rankers = {"hooks (heuristic rank)": None}
    if ranker_path is not None:
        rankers["hooks (learned rank)"] = load_ranker(ranker_path)
    audio = sum(r["duration"] for r in refs.values())
    rows = {}
    songs, load_s = {}, 0.0
    for k in refs:
        t = time.perf_counter()
        songs[k] = load_song(root / k, key=k)
        load_s += time.perf_counter() - t
    for name, rk in rankers.items():
        ests, secs = {}, load_s
        for k in refs:
            t = time.perf_counter()
            p = detect_hooks(songs[k], config=HookConfig(), ranker=rk)
            secs += time.perf_counter() - t
            ests[k] = {"snippet": p.snippet, "chorus": p.chorus}
        rows[name] = (evaluate(refs, ests), audio / secs)
    ests, secs = {}, load_s
    for k in refs:
        tr = songs[k].tracks["chroma"]
        t = time.perf_counter()
        r = detect_chorus_pychorus(tr.values, tr.times, duration=songs[k].duration)
        secs += time.perf_counter() - t
        ests[k] = {"snippet": r.snippet, "chorus": r.chorus}
    rows["pychorus-style baseline"] = (evaluate(refs, ests), audio / secs)
    n = next(iter(rows.values()))[0]["n_songs"]
    print(f"held-out songs: {root} ({len(refs)} songs, {int(n)} with a chorus, {audio / 60:.1f} min of audio)")
    print(f"{'system':<26} {'snip>=50%in':>11} {'hook IoU':>9} {'start err s':>11} {'occ F@3s':>9} {'x RT':>7}")
    for name, (m, rt) in rows.items():
        print(f"{name:<26} {m['snippet_in_chorus']:>11.3f} {m['hook_iou']:>9.3f} {m['chorus_start_error']:>11.2f} "
              f"{m['occurrence_f']:>9.3f} {rt:>7.0f}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", default="/tmp/hookbench")
    ap.add_argument("--train-seeds", type=int, nargs="*", default=[0, 3, 5])
    ap.add_argument("--eval-seed", type=int, default=7)
    ap.add_argument("--n-songs", type=int, default=30)
    ap.add_argument("--ranker", help="ranker path (default <work>/hook_ranker.joblib)")
    ap.add_argument("--kind", default="gbm", choices=["gbm", "linear"])
    ap.add_argument("--skip-train", action="store_true", help="use an existing --ranker")
    ap.add_argument("--no-ranker", action="store_true")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    work = Path(args.work)
    if args.eval_seed in args.train_seeds:
        print("the evaluation seed must not be a training seed", file=sys.stderr)
        return 2
    ranker = Path(args.ranker or work / "hook_ranker.joblib")
    if not args.no_ranker and not args.skip_train:
        train(work, args.train_seeds, args.n_songs, ranker, args.kind)
    measure(library(work, args.eval_seed, args.n_songs), None if args.no_ranker else ranker)
    return 0


if __name__ == "__main__":
    sys.exit(main())
