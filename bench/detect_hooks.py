"""Songs, side by side: the hook detector (heuristic and learned ranking) vs the pychorus-style baseline.

Train the ranker on demo builds of *other* seeds, then measure on a held-out
build (seed 7 is reserved for this and is never used for training or tuning)::

    .venv/bin/python bench/detect_hooks.py --work /tmp/hookbench --eval-seed 7 --n-songs 30

(the default ``--train-seeds`` 0 3 5 9 10 12 14 16 18 and ``--random-state`` 0 rebuild the shipped ranker)

Builds missing song libraries (the songs of ``reviewer.demo.build_demo``, no series) under ``--work/seed<N>``.
Prints, per system: snippet ≥ 50 % inside chorus/pre-chorus, IoU with the hook
region, chorus-start error (s), chorus-occurrence F at 3 s, and × real time
(audio seconds / detection seconds, feature extraction included).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np

from reviewer.detect.baselines.chorus_pychorus import detect_chorus_pychorus
from reviewer.detect.hooks import HookConfig, analyse_song, detect_hooks, load_song
from reviewer.detect.ranker import label_candidate, load_ranker, train_ranker
from reviewer.metrics.hooks import evaluate


def _song_sources_digest() -> str:
    import reviewer.demo.songs as songs_mod

    h = hashlib.sha256()
    here = Path(songs_mod.__file__).resolve().parent
    for name in ("music.py", "songs.py"):
        h.update((here / name).read_bytes())
    return h.hexdigest()


def _song_job(spec, seed: int, out: str, sr: int) -> tuple[str, dict]:
    from reviewer.demo.songs import make_song

    return spec.rel_path, make_song(spec, seed=seed, sr=sr, out_path=Path(out) / spec.rel_path)


def library(work: Path, seed: int, n_songs: int, *, workers: int = 2, sample_rate: int = 22050) -> Path:
    """Songs of ``seed`` under ``work/seed<N>`` (the songs ``build_demo`` makes, without the series).

    Only the song generator's sources (``music.py``, ``songs.py``) key the cache,
    so edits to the series generator do not force a rebuild.
    """
    from concurrent.futures import ProcessPoolExecutor

    from reviewer.demo.songs import plan_songs

    out = work / f"seed{seed}"
    digest = hashlib.sha256(f"{_song_sources_digest()}:{seed}:{n_songs}:{sample_rate}".encode()).hexdigest()
    stamp = out / ".songs_digest"
    if stamp.is_file() and stamp.read_text() == digest and (out / "songs_truth.json").is_file():
        return out
    specs = plan_songs(seed, n_songs)
    t0 = time.perf_counter()
    with ProcessPoolExecutor(max_workers=workers) as pool:
        truth = dict(pool.map(_song_job, specs, [seed] * len(specs), [str(out)] * len(specs),
                              [sample_rate] * len(specs)))
    (out / "songs_truth.json").write_text(json.dumps({k: truth[k] for k in sorted(truth)}, indent=2))
    stamp.write_text(digest)
    print(f"built {len(specs)} songs of seed {seed} in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
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


def train(work: Path, seeds: list[int], n_songs: int, out_path: Path, kind: str, random_state: int = 0) -> None:
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
    r = train_ranker(np.vstack(X), np.asarray(y), songs=songs, artists=artists, out_path=out_path, kind=kind,
                     random_state=random_state)
    print(f"ranker {r.model_version}: {len(X)} candidates from {len(set(songs))} songs (seeds {seeds}); "
          f"held-out-artist metrics {json.dumps(r.meta['metrics'])}")


def measure(root: Path, ranker_path: Path | None) -> list[dict]:
    """One row per system on the songs at ``root``: metrics of ``reviewer.metrics.hooks.evaluate`` + ``x_realtime``.

    The last row (``floor: ...``) is speed only: decoding and feature extraction, which every system is charged with.
    """
    refs = refs_of(root)
    rankers = {"reviewer: hooks, heuristic rank": None}
    if ranker_path is not None:
        rankers["reviewer: hooks, learned rank"] = load_ranker(ranker_path)
    audio = sum(r["duration"] for r in refs.values())
    rows = []
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
        rows.append({"system": name, **evaluate(refs, ests), "x_realtime": audio / secs})
    ests, secs = {}, load_s
    for k in refs:
        tr = songs[k].tracks["chroma"]
        t = time.perf_counter()
        r = detect_chorus_pychorus(tr.values, tr.times, duration=songs[k].duration)
        secs += time.perf_counter() - t
        ests[k] = {"snippet": r.snippet, "chorus": r.chorus}
    rows.append({"system": "baseline: pychorus-style time-lag", **evaluate(refs, ests), "x_realtime": audio / secs})
    # speed only: the decoding and features every system above is charged with (it reads them from load_song)
    rows.append({"system": "floor: load_song alone (decode + features all read)", "x_realtime": audio / load_s})
    for r in rows:
        r["n_songs_total"], r["audio_minutes"] = len(refs), audio / 60
    return rows


COLUMNS = ("snippet_in_chorus", "hook_iou", "chorus_start_error", "occurrence_f", "x_realtime")


def print_rows(root: Path, rows: list[dict]) -> None:
    r0 = rows[0]
    print(f"held-out songs: {root} ({r0['n_songs_total']} songs, {int(r0['n_songs'])} with a chorus, "
          f"{r0['audio_minutes']:.1f} min of audio)")
    print(f"{'system':<34} {'snip>=50%in':>11} {'hook IoU':>9} {'start err s':>11} {'occ F@3s':>9} {'x RT':>7}")
    for row in rows:
        m = {c: row.get(c, float("nan")) for c in COLUMNS}
        print(f"{row['system']:<34} {m['snippet_in_chorus']:>11.3f} {m['hook_iou']:>9.3f} {m['chorus_start_error']:>11.2f} "
              f"{m['occurrence_f']:>9.3f} {m['x_realtime']:>7.0f}")


#: the demo seeds the shipped hook ranker is trained on (never a held-out seed)
TRAIN_SEEDS = (0, 3, 5, 9, 10, 12, 14, 16, 18)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", default="/tmp/hookbench")
    ap.add_argument("--train-seeds", type=int, nargs="*", default=list(TRAIN_SEEDS))
    ap.add_argument("--eval-seed", type=int, default=7)
    ap.add_argument("--n-songs", type=int, default=30)
    ap.add_argument("--ranker", help="ranker path (default <work>/hook_ranker.joblib)")
    ap.add_argument("--kind", default="gbm", choices=["gbm", "linear"])
    ap.add_argument("--random-state", type=int, default=0,
                    help="the model's seed (the shipped ranker: 0 with the default training seeds, chosen on "
                         "tuning seeds 1/2/4/6/8 among 0-2)")
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
        train(work, args.train_seeds, args.n_songs, ranker, args.kind, args.random_state)
    root = library(work, args.eval_seed, args.n_songs)
    print_rows(root, measure(root, None if args.no_ranker else ranker))
    return 0


if __name__ == "__main__":
    sys.exit(main())
