"""Detector speed and output identity: dump every estimate to JSON, diff two dumps, time CPU per library.

Usage::

    .venv/bin/python bench/speed.py dump OUT.json [--intros DIR ...] [--songs DIR ...] [--profile PREFIX]
    .venv/bin/python bench/speed.py diff A.json B.json [--tol 1e-6]

``dump`` runs, in this process, the intro detector (repetition only, as
``bench/detect_intros.py`` measures it) and the chromaprint baseline on each
intro library, and the hook detector (heuristic and shipped learned ranking)
and the pychorus-style baseline on each song library (as
``bench/detect_hooks.measure``: the baseline reads the chroma track that
``load_song`` extracts). It writes every estimate (intro start/end/confidence,
method and candidates; snippet, chorus, pre-chorus, confidence, segment scores
and a digest of each feature track) and, per library and system, CPU seconds
(this process + its children, e.g. ffmpeg and fpcalc) and wall seconds with
× real time. ``diff`` compares the estimates of two dumps (numbers to
``--tol``, feature-track digests exactly) and prints the time columns side by
side. Wall figures depend on the machine's load; CPU seconds much less.
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import json
import logging
import resource
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

INTRO_LIBS = ("/tmp/s2i/h3", "/tmp/s2i/h5", "/tmp/s3i/seed17/intros")
SONG_LIBS = ("/tmp/hb3/seed1", "/tmp/hb3/seed4")


class Clock:
    """CPU (this process + finished children) and wall seconds."""

    def __init__(self) -> None:
        self.cpu = 0.0
        self.wall = 0.0

    @staticmethod
    def _now() -> tuple[float, float]:
        ch = resource.getrusage(resource.RUSAGE_CHILDREN)
        return time.process_time() + ch.ru_utime + ch.ru_stime, time.perf_counter()

    def __enter__(self):
        self._c0, self._w0 = self._now()
        return self

    def __exit__(self, *exc):
        c, w = self._now()
        self.cpu += c - self._c0
        self.wall += w - self._w0
        return False


def _profiled(prefix: str | None, name: str):
    import contextlib

    if not prefix:
        return contextlib.nullcontext()

    @contextlib.contextmanager
    def run():
        pr = cProfile.Profile()
        pr.enable()
        try:
            yield
        finally:
            pr.disable()
            pr.dump_stats(f"{prefix}{name}.prof")

    return run()


def _r(x):
    return None if x is None else float(x)


def dump_intros(root: Path, profile: str | None) -> dict:
    from reviewer.detect.baselines import chromaprint_intros
    from reviewer.detect.intro import Episode, IntroConfig, detect_intros

    truth = json.loads((root / "episodes_truth.json").read_text(encoding="utf-8"))
    by_series = defaultdict(list)
    for k in sorted(truth):
        by_series[truth[k]["series"]].append(k)
    audio = sum(v["duration"] for v in truth.values())
    ours, base = Clock(), Clock()
    est, est_base = {}, {}
    tag = root.as_posix().strip("/").replace("/", "_")
    with _profiled(profile, f"intros_{tag}"):
        for series, keys in by_series.items():
            with ours:
                preds = detect_intros([Episode(k, series, path=str(root / k)) for k in keys], config=IntroConfig(),
                                      scorer=None)
            for p in preds:
                est[p.key] = {"start": _r(p.start), "end": _r(p.end), "confidence": _r(p.confidence), "method": p.method,
                              "candidates": [[c["start"], c["end"], c["score"], c["reason"]]
                                             for c in p.evidence.get("candidates", [])],
                              "matches": [[m["start"], m["end"], m["other_start"], m["other_end"], m["score"]]
                                          for m in p.evidence.get("matches", [])]}
    for series, keys in by_series.items():
        with base:
            got = chromaprint_intros([(k, series, str(root / k)) for k in keys])
        for k, v in got.items():
            est_base[k] = None if v is None else [float(v[0]), float(v[1])]
    return {"kind": "intros", "audio_seconds": audio, "estimates": {"reviewer": est, "chromaprint": est_base},
            "time": {"reviewer": _times(ours, audio), "chromaprint": _times(base, audio)}}


def _times(c: Clock, audio: float) -> dict:
    return {"cpu": c.cpu, "wall": c.wall, "x_rt_wall": audio / c.wall, "x_rt_cpu": audio / c.cpu}


def _digest(tr) -> str:
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(tr.times).tobytes())
    h.update(np.ascontiguousarray(tr.values).tobytes())
    return h.hexdigest()[:16]


def dump_songs(root: Path, profile: str | None) -> dict:
    from reviewer.detect.baselines.chorus_pychorus import detect_chorus_pychorus
    from reviewer.detect.hooks import HookConfig, detect_hooks, load_song
    from reviewer.detect.ranker import load_ranker
    from reviewer.services.predict import DEFAULT_RANKER

    truth = json.loads((root / "songs_truth.json").read_text())
    audio = sum(v["duration"] for v in truth.values())
    ranker = load_ranker(DEFAULT_RANKER)
    load, clocks = Clock(), {"heuristic": Clock(), "learned": Clock(), "pychorus": Clock()}
    songs, est, feats = {}, defaultdict(dict), {}
    tag = root.as_posix().strip("/").replace("/", "_")
    with _profiled(profile, f"songs_load_{tag}"):
        for k in sorted(truth):
            with load:
                songs[k] = load_song(root / k, key=k)
            feats[k] = {"duration": songs[k].duration, **{n: _digest(t) for n, t in sorted(songs[k].tracks.items())}}
    with _profiled(profile, f"songs_detect_{tag}"):
        for name, rk in (("heuristic", None), ("learned", ranker)):
            for k in sorted(truth):
                with clocks[name]:
                    p = detect_hooks(songs[k], config=HookConfig(), ranker=rk)
                est[name][k] = {"snippet": [float(x) for x in p.snippet], "chorus": [[float(a), float(b)] for a, b in p.chorus],
                                "prechorus": [[float(a), float(b)] for a, b in p.prechorus],
                                "confidence": _r(p.confidence), "fallback": bool(p.fallback),
                                "segment_scores": [float(s) for s in p.segment_scores]}
    for k in sorted(truth):
        tr = songs[k].tracks["chroma"]
        with clocks["pychorus"]:
            r = detect_chorus_pychorus(tr.values, tr.times, duration=songs[k].duration)
        est["pychorus"][k] = {"snippet": [float(x) for x in r.snippet], "chorus": [[float(a), float(b)] for a, b in r.chorus]}
    tm = {"load_song": _times(load, audio)}
    for name, c in clocks.items():
        tot = Clock()
        tot.cpu, tot.wall = load.cpu + c.cpu, load.wall + c.wall
        tm[name] = {**_times(tot, audio), "own_cpu": c.cpu, "own_wall": c.wall}
    return {"kind": "songs", "audio_seconds": audio, "features": feats, "estimates": dict(est), "time": tm}


def cmd_dump(args) -> int:
    from threadpoolctl import threadpool_limits

    logging.basicConfig(level=logging.WARNING)
    out = {}
    with threadpool_limits(limits=1, user_api="blas"):
        # warm-up: imports and numba JIT outside the timed region
        from reviewer.audio_io import Audio
        from reviewer.detect.hooks import load_song

        load_song(Audio.from_array(np.random.default_rng(0).standard_normal(16000 * 20).astype(np.float32) * 0.1, 16000))
        for d in args.intros:
            out[d] = dump_intros(Path(d), args.profile)
            print(f"{d}: {json.dumps(out[d]['time'])}", file=sys.stderr)
        for d in args.songs:
            out[d] = dump_songs(Path(d), args.profile)
            print(f"{d}: {json.dumps(out[d]['time'])}", file=sys.stderr)
    Path(args.out).write_text(json.dumps(out, indent=1, sort_keys=True))
    return 0


def _diff(a, b, path: str, tol: float, out: list) -> None:
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b:
                out.append(f"{path}/{k}: only in {'B' if k not in a else 'A'}")
            else:
                _diff(a[k], b[k], f"{path}/{k}", tol, out)
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            out.append(f"{path}: length {len(a)} != {len(b)}")
        else:
            for i, (x, y) in enumerate(zip(a, b)):
                _diff(x, y, f"{path}[{i}]", tol, out)
    elif isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        if abs(a - b) > tol:
            out.append(f"{path}: {a!r} != {b!r}")
    elif a != b:
        out.append(f"{path}: {a!r} != {b!r}")


def cmd_diff(args) -> int:
    a, b = json.loads(Path(args.a).read_text()), json.loads(Path(args.b).read_text())
    bad = []
    for lib in sorted(set(a) & set(b)):
        _diff(a[lib].get("estimates"), b[lib].get("estimates"), f"{lib}:estimates", args.tol, bad)
        if "features" in a[lib] or "features" in b[lib]:
            _diff(a[lib].get("features"), b[lib].get("features"), f"{lib}:features", 0.0, bad)
    for lib in sorted(set(a) ^ set(b)):
        bad.append(f"{lib}: only in one dump")
    for line in bad[:200]:
        print("DIFF", line)
    print(f"{'library':28s} {'system':10s} {'cpu A':>8s} {'cpu B':>8s} {'xRT(cpu) A':>11s} {'xRT(cpu) B':>11s} "
          f"{'xRT(wall) A':>11s} {'xRT(wall) B':>11s}")
    for lib in sorted(set(a) & set(b)):
        for sysname, ta in a[lib]["time"].items():
            tb = b[lib]["time"].get(sysname)
            if tb is None:
                continue
            print(f"{lib[-28:]:28s} {sysname:10s} {ta['cpu']:8.2f} {tb['cpu']:8.2f} {ta['x_rt_cpu']:11.0f} "
                  f"{tb['x_rt_cpu']:11.0f} {ta['x_rt_wall']:11.0f} {tb['x_rt_wall']:11.0f}")
    print("IDENTICAL" if not bad else f"{len(bad)} DIFFERENCES")
    return 0 if not bad else 1


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("dump")
    d.add_argument("out")
    d.add_argument("--intros", nargs="*", default=list(INTRO_LIBS))
    d.add_argument("--songs", nargs="*", default=list(SONG_LIBS))
    d.add_argument("--profile", help="write cProfile stats to PREFIX<library>.prof")
    d.set_defaults(fn=cmd_dump)
    f = sub.add_parser("diff")
    f.add_argument("a")
    f.add_argument("b")
    f.add_argument("--tol", type=float, default=1e-6)
    f.set_defaults(fn=cmd_diff)
    args = ap.parse_args(argv)
    return args.fn(args)


if __name__ == "__main__":
    sys.exit(main())
