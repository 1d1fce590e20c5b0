"""Detectors and baselines side by side on held-out demo data: one table.

Usage::

    .venv/bin/python bench/detect.py [--work /tmp/detectbench] [--seed 7] [--n-series 6] [--episodes 5] [--n-songs 30]
                                     [--themeless N] [--scorer-work DIR | --no-scorer] [--skip-intros] [--skip-songs]

Builds (when missing) two libraries with ``reviewer.demo.build_demo`` from the
held-out seed (7 by default; it is reserved for benchmarks: no detector
parameter, ranker or scorer is trained or tuned on it, so every series and
song in it is unseen):

* ``<work>/intros``: ``--n-series`` series x ``--episodes`` episodes, with cold
  opens, recaps, idents, end credits, recurring cues, shortened / faded /
  speed-changed / codec-damaged intros, dialogue over the theme, episodes
  without an intro and intros at 0 s;
* ``<work>/songs``: ``--n-songs`` songs by artists of that seed.

Systems: the reviewer intro detector as the app ships it (cross-episode
repetition + the trained intro scorer), the same without the scorer, the scorer
alone (every episode on its own, as if it had no siblings) and the chromaprint
intro-skipper-style baseline; the reviewer hook detector with the shipped
learned ranker (``reviewer/detect/default_models/hook_ranker.joblib``, trained
on seeds 0/3/5/9/10/12/14/16/18) and with the heuristic rank, and the pychorus-style baseline.
× real time = audio seconds / wall seconds, decoding included (for intros a
whole season at once); the scorer rows read segment tables that the app's
extract stage computes for every item anyway: their extraction speed is
printed on its own line, not in × real time.

The intro scorer is trained like ``reviewer bootstrap`` trains the shipped one
(``bench/intro_scorer.py``: the seed-0 demo library's training series plus the
16 series × 4 episodes of the seed-10 training library, CRNN) in ``--scorer-work``
(default ``<work>/scorer``), once: reruns reuse its checkpoint. A first run
spends several minutes on it (the training library's build and features are the
bulk; training is capped at 100 s CPU by ``TrainConfig.max_seconds``) and extracts the intro library's segment tables
once into ``<work>/features`` (65-145× real time on 2 workers: about a minute
for 30 episodes); the two extra detector passes (with the scorer, the scorer
alone) roughly double the intro part. ``--no-scorer`` skips all of it.
"""

from __future__ import annotations

import argparse
import logging
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import detect_hooks  # noqa: E402
import detect_intros  # noqa: E402
import intro_scorer  # noqa: E402

from reviewer.demo import build_demo  # noqa: E402
from reviewer.detect import intro as intro_detector  # noqa: E402
from reviewer.services.predict import DEFAULT_RANKER  # noqa: E402

INTRO_TARGETS = {"within_1s": (">=", 0.95), "false_positive_rate": ("<=", 0.05), "x_realtime": (">=", 300.0)}
SONG_TARGETS = {"snippet_in_chorus": (">=", 0.95), "occurrence_f": (">=", 0.9)}
LOWER_IS_BETTER = {"false_positive_rate", "mae_start", "mae_end", "chorus_start_error"}


def _fmt(x: float, col: str) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    if col == "x_realtime":
        return f"{x:.0f}"
    return f"{x:.2f}" if col.startswith("mae") or col.endswith("error") else f"{x:.3f}"


def _verdicts(rows: list[dict], targets: dict, cols: tuple[str, ...]) -> list[str]:
    ours = [r for r in rows if r["system"].startswith("reviewer")]
    base = [r for r in rows if r["system"].startswith("baseline")]
    best = next((r for r in ours if "learned" in r["system"]), ours[0])  # the system the app uses
    out = []
    for col, (op, val) in targets.items():
        x = best[col]
        ok = x >= val if op == ">=" else x <= val
        out.append(f"  target {col} {op} {val:g}: {_fmt(x, col)} ({'met' if ok else 'NOT met'})")
    floors = [r for r in rows if r["system"].startswith("floor")]
    for col in cols:
        if col == "x_realtime":
            for b in base:
                x, y = best[col], b[col]
                if x > y:
                    out.append(f"  ahead of {b['system']} on {col}: {_fmt(x, col)} vs {_fmt(y, col)}")
                else:
                    out.append(f"  NOT ahead of {b['system']} on {col}: {_fmt(x, col)} vs {_fmt(y, col)}"
                               + "".join(f"; {f['system']}: {_fmt(f[col], col)}" for f in floors))
            continue
        for b in base:
            x, y = best[col], b[col]
            if any(isinstance(v, float) and math.isnan(v) for v in (x, y)):
                continue
            if _fmt(x, col) == _fmt(y, col):
                out.append(f"  level with {b['system']} on {col}: {_fmt(x, col)}")
            elif not (x < y if col in LOWER_IS_BETTER else x > y):
                out.append(f"  NOT ahead of {b['system']} on {col}: {_fmt(x, col)} vs {_fmt(y, col)}")
    return out


def print_table(title: str, rows: list[dict], cols: tuple[str, ...], targets: dict) -> None:
    print(f"\n{title}")
    width = max(len(r["system"]) for r in rows) + 2
    print(f"{'system':<{width}}" + "".join(f"{c:>20}" for c in cols))
    for r in rows:
        print(f"{r['system']:<{width}}" + "".join(f"{_fmt(r.get(c, math.nan), c):>20}" for c in cols))
    for line in _verdicts(rows, targets, cols):
        print(line)


def measure_intros(root: Path, *, scorer=None, features_work: Path | None = None, workers: int = 2,
                   baseline: bool = True, ests_out: dict | None = None, floors: bool = True
                   ) -> tuple[list[dict], dict]:
    """Intro rows: the shipped detector (with ``scorer``), without it, the scorer alone, the chromaprint baseline.

    Without a scorer: the detector without it and the baseline. With ``floors``, two speed-only rows follow
    (:func:`decode_floors`). ``ests_out`` (optional)
    receives every system's per-episode estimates. Returns ``(rows, info)``; ``info`` holds the segment-table
    extraction speed.
    """
    truth = detect_intros._load_truth(root, "all")
    info: dict = {}
    tables: dict = {}
    if scorer is not None:
        work = features_work if features_work is not None else root.parent / "features"
        tables, secs = intro_scorer.segment_tables(root, sorted(truth), work=work, workers=workers)
        info["extract_s"] = secs
        info["extract_x_realtime"] = sum(v["duration"] for v in truth.values()) / secs if secs > 0 else float("nan")

    def run(name, fn):
        def keep(series, keys):
            got = fn(series, keys)
            if ests_out is not None:
                ests_out.setdefault(name, {}).update(got)
            return got

        return detect_intros._run(name, keep, truth)

    def detector(use_scorer: bool, alone: bool = False):
        def fn(series, keys):
            eps = [intro_detector.Episode(k, k if alone else series, path=str(root / k),
                                          table=tables.get(k) if use_scorer else None) for k in keys]
            preds = intro_detector.detect_intros(eps, config=intro_detector.IntroConfig(),
                                                 scorer=scorer if use_scorer else None)
            return {p.key: (p.start, p.end) if p.start is not None else None for p in preds}

        return fn

    rows = []
    if scorer is not None:
        rows.append(run("reviewer: repetition + trained scorer (ships)", detector(True)))
    rows.append(run("reviewer: repetition, no scorer", detector(False)))
    if scorer is not None:
        rows.append(run("reviewer: trained scorer alone (no siblings)", detector(True, alone=True)))
    if baseline:
        rows.append(run("baseline: chromaprint (intro-skipper)",
                        lambda series, keys: detect_intros.chromaprint_intros([(k, series, str(root / k)) for k in keys])))
    if floors:
        rows += decode_floors(root, truth, baseline=baseline)
    return rows, info


def decode_floors(root: Path, truth: dict, *, baseline: bool = True) -> list[dict]:
    """Speed-only rows: what decoding alone costs each system on the intro library (no estimates, no accuracy).

    ``floor: decoding alone`` decodes every episode as the reviewer detector does (first
    ``IntroConfig.search_window`` s at ``align.SR``); ``floor: fpcalc alone`` runs the baseline's front end
    (decoding and fingerprinting, no matching). A detector that decodes the same audio and then analyses it
    cannot be faster than its decoding floor.
    """
    from reviewer.audio_io import load_audio
    from reviewer.detect import align
    from reviewer.detect.baselines.intro_chromaprint import ChromaprintConfig, fingerprint

    audio = sum(v["duration"] for v in truth.values())
    window = intro_detector.IntroConfig().search_window
    jobs = {"floor: decoding alone (reviewer's 8 kHz decoder)":
            lambda k: load_audio(root / k, sr=align.SR, max_seconds=window)}
    if baseline:
        jobs["floor: fpcalc alone (the baseline's front end)"] = \
            lambda k: fingerprint(root / k, length=ChromaprintConfig().length)
    rows = []
    for name, fn in jobs.items():
        t0 = time.perf_counter()
        for k in sorted(truth):
            fn(k)
        rows.append({"system": name, "x_realtime": audio / max(time.perf_counter() - t0, 1e-9)})
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", default="/tmp/detectbench")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--n-series", type=int, default=6)
    ap.add_argument("--episodes", type=int, default=5)
    ap.add_argument("--n-songs", type=int, default=30)
    ap.add_argument("--themeless", type=int, default=None,
                    help="series without an opening theme in the intro library (default: one with >= 4 series); "
                         "more of them measure false positives on more no-intro episodes")
    ap.add_argument("--scorer-work", default=None,
                    help="where the intro scorer is trained and cached (default <work>/scorer; share it between runs)")
    ap.add_argument("--scorer-series", type=int, default=16,
                    help="series of the generated training library the scorer also trains on, like `reviewer bootstrap "
                         "--scorer-series` (default 16; 0: the demo's only; a cached scorer is reused as it is)")
    ap.add_argument("--no-scorer", action="store_true", help="measure the intro detector without the trained scorer only")
    ap.add_argument("--skip-intros", action="store_true")
    ap.add_argument("--skip-songs", action="store_true")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if args.seed in detect_hooks.TRAIN_SEEDS:
        print(f"seeds {', '.join(map(str, detect_hooks.TRAIN_SEEDS))} train the shipped ranker (0 and 10 also the intro scorer); "
              "pick a held-out seed", file=sys.stderr)
        return 2
    work = Path(args.work)
    if not args.skip_intros:
        root = work / "intros"
        build_demo(root, seed=args.seed, n_series=args.n_series, episodes_per_series=args.episodes, n_songs=0, workers=2,
                   themeless_series=args.themeless)
        scorer = None
        if not args.no_scorer:
            scorer, sinfo = intro_scorer.trained_scorer(Path(args.scorer_work) if args.scorer_work else work / "scorer",
                                                        scorer_series=args.scorer_series)
        rows, info = measure_intros(root, scorer=scorer, features_work=work / "features")
        r0 = rows[0]
        print_table(f"INTROS — held-out seed {args.seed}: {int(r0['n_with_intro'])} episodes with an intro, "
                    f"{int(r0['n_without_intro'])} without ({root})", rows, detect_intros.COLUMNS, INTRO_TARGETS)
        if scorer is not None:
            print(f"  intro scorer {sinfo['version']} (seed-{intro_scorer.TRAIN_SEED} demo library, "
                  f"{'trained now' if sinfo['trained'] else 'cached'}); segment tables of this library: "
                  + (f"{info['extract_s']:.0f} s, {info['extract_x_realtime']:.0f}× real time on 2 workers"
                     if info["extract_s"] > 0.5 else "cached"))
    if not args.skip_songs:
        root = work / "songs"
        build_demo(root, seed=args.seed, n_series=2, episodes_per_series=1, n_songs=args.n_songs, workers=2)
        rows = detect_hooks.measure(root, DEFAULT_RANKER)
        r0 = rows[0]
        print_table(f"SONGS — held-out seed {args.seed}: {r0['n_songs_total']} songs, {int(r0['n_songs'])} with a chorus, "
                    f"{r0['audio_minutes']:.1f} min ({root})", rows, detect_hooks.COLUMNS, SONG_TARGETS)
    return 0


if __name__ == "__main__":
    sys.exit(main())
