"""Benchmark the frame extractors: speed (× real time) and peak memory, on one core.

Usage::

    python bench/extract.py                 # 60-minute generated file (+ data/demo if present)
    python bench/extract.py --hours 3       # memory check on a 3-hour file
    python bench/extract.py --minutes 5 --no-per-extractor

Every measurement runs in a fresh child process pinned to one CPU with BLAS
threads set to 1, so its peak RSS (``ru_maxrss``) and wall time belong to that
extraction alone. × real time = seconds of audio / wall seconds (decode
included, numba warm-up excluded).
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_v] = "1"

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SR = 16000


def generate(path: Path, *, seconds: float, seed: int = 0) -> Path:
    """Write a deterministic synthetic programme (voice-like glides, chords with a beat, noise, silence, hum) as 16-bit wav."""
    import soundfile as sf

    rng = np.random.default_rng(seed)
    piece = 10.0
    n_piece = int(piece * SR)
    t = np.arange(n_piece) / SR
    with sf.SoundFile(str(path), "w", samplerate=SR, channels=1, subtype="PCM_16") as f:
        done = 0.0
        k = 0
        while done < seconds:
            kind = k % 5
            if kind == 0:  # voice-like glide with harmonics
                f0 = 180 + 40 * np.sin(2 * np.pi * 0.3 * t + rng.uniform(0, 6)) + 20 * np.sin(2 * np.pi * 5 * t)
                ph = 2 * np.pi * np.cumsum(f0) / SR
                y = sum((0.2 / h) * np.sin(h * ph) for h in range(1, 6)) * (np.sin(2 * np.pi * 0.7 * t) > -0.2)
            elif kind == 1:  # chord + metronome
                root = rng.choice([220.0, 261.63, 293.66])
                y = sum(0.1 * np.sin(2 * np.pi * root * r * t) for r in (1.0, 1.26, 1.5))
                beat = (np.mod(t, 0.5) < 0.01) * 0.6
                y = y + beat
            elif kind == 2:
                y = 0.05 * rng.standard_normal(n_piece)
            elif kind == 3:
                y = np.zeros(n_piece)
            else:
                y = 0.1 * np.sin(2 * np.pi * 440 * t) + 0.01 * np.sin(2 * np.pi * 60 * t) + 0.01 * rng.standard_normal(n_piece)
            n = min(n_piece, int(round((seconds - done) * SR)))
            f.write(np.clip(y[:n], -1, 1).astype(np.float32))
            done += piece
            k += 1
    return path


def child(path: str, names: list[str], block_seconds: float) -> dict:
    """Run one extraction in this process and report wall time and peak RSS."""
    import resource

    try:
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    except (AttributeError, OSError):
        pass
    from reviewer.audio_io import Audio
    from reviewer.config import AudioConfig, FeaturesConfig
    from reviewer.features.run import extract_tracks
    from reviewer.settings import Settings

    settings = Settings.from_env()
    fc = FeaturesConfig()
    warm = Audio.from_array((0.1 * np.random.default_rng(0).standard_normal(3 * SR)).astype(np.float32), SR)
    extract_tracks(warm, audio_config=AudioConfig(), features_config=fc, settings=settings, names=names)  # numba / imports
    t0 = time.perf_counter()
    res = extract_tracks(path, audio_config=AudioConfig(block_seconds=block_seconds), features_config=fc, settings=settings, names=names)
    wall = time.perf_counter() - t0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    return {"duration": res.duration, "wall": wall, "peak_mb": peak_mb, "timings": res.timings, "missing": res.missing}


def measure(path: Path, names: list[str], *, block_seconds: float) -> dict:
    cmd = [sys.executable, __file__, "--child", str(path), "--names", ",".join(names), "--block-seconds", str(block_seconds)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"child failed for {names} on {path}:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def row(label: str, r: dict) -> str:
    return f"{label:<28} {r['duration'] / 60:8.1f} {r['wall']:9.2f} {r['duration'] / max(r['wall'], 1e-9):10.1f}× {r['peak_mb']:9.0f}"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--hours", type=float, default=None, help="length of the generated file in hours (memory check: 3)")
    p.add_argument("--minutes", type=float, default=60.0, help="length of the generated file in minutes (default 60)")
    p.add_argument("--block-seconds", type=float, default=300.0)
    p.add_argument("--no-per-extractor", action="store_true", help="only the whole default DSP set")
    p.add_argument("--no-demo", action="store_true")
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("--names", help=argparse.SUPPRESS)
    args = p.parse_args()

    if args.child:
        print(json.dumps(child(args.child, args.names.split(","), args.block_seconds)))
        return

    from reviewer.config import DEFAULT_DSP_EXTRACTORS
    from reviewer.settings import get_settings

    dsp = list(DEFAULT_DSP_EXTRACTORS)
    seconds = args.hours * 3600.0 if args.hours else args.minutes * 60.0
    header = f"{'extractor / file':<28} {'audio min':>8} {'wall s':>9} {'× real time':>11} {'peak MB':>9}"

    demo = get_settings().demo_dir
    media = sorted(p for p in demo.rglob("*") if p.suffix.lower() in {".wav", ".flac", ".mp3", ".ogg", ".m4a", ".mp4", ".webm"}) if demo.is_dir() else []
    if args.no_demo:
        media = []
    if media:
        print(f"demo library {demo}: {len(media)} files, default DSP set, one core")
        print(header)
        total_a = total_w = 0.0
        peak = 0.0
        for m in media:
            r = measure(m, dsp, block_seconds=args.block_seconds)
            total_a += r["duration"]
            total_w += r["wall"]
            peak = max(peak, r["peak_mb"])
            print(row(m.name[:28], r))
        print(row("ALL demo files", {"duration": total_a, "wall": total_w, "peak_mb": peak}))
        print()
    else:
        print(f"no demo library at {demo}: skipped\n")

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.wav"
        t0 = time.perf_counter()
        generate(path, seconds=seconds)
        print(f"generated {seconds / 60:.0f}-minute file in {time.perf_counter() - t0:.1f} s; one core, block {args.block_seconds:.0f} s")
        print(header)
        if not args.no_per_extractor:
            for name in dsp:
                print(row(name, measure(path, [name], block_seconds=args.block_seconds)), flush=True)
        whole = measure(path, dsp, block_seconds=args.block_seconds)
        print(row("DEFAULT DSP SET", whole))
        shares = ", ".join(f"{k} {v:.1f}s" for k, v in whole["timings"].items())
        print(f"  time inside the whole-set run: {shares}")
        target_ok = whole["duration"] / whole["wall"] >= 150.0
        mem_ok = whole["peak_mb"] <= 1536.0
        print(f"  target ≥150× real time: {'OK' if target_ok else 'MISSED'}; peak ≤1.5 GB: {'OK' if mem_ok else 'MISSED'}")


if __name__ == "__main__":
    main()
