"""Build the whole demo library in a process pool, idempotently.

Layout under ``out_dir``::

    series/<Series_Name>/Season_01/<Series_Name>_S01E0N.<flac|ogg|mp4>
    songs/<Artist>/<Title>.<flac|ogg|mp3>
    assets/series/<Series_Name>/{theme,cue,credits,sting,ident}.flac   (references, not episodes)
    train_labels.json, test_labels.json     (seed-001 intro labels; the last series is test)
    episodes_truth.json                     (rich per-episode truth: events, intro variation, ...)
    series_truth.json                       (per-series asset truth: theme sections, short cut)
    songs_truth.json                        (sections, hook, split by artist)
    manifest.json                           (params, digest, counts, per-file SHA-256, build time)
    .demo_cache/                            (per-item sidecars so an interrupted build resumes)

Intro label value (``train_labels.json`` / ``test_labels.json``)::

    {"start": "H:MM:SS.sss" | null, "end": ... | null, "start_sec": float | null,
     "end_sec": float | null, "series": "Harbor Watch", "season": 1, "episode": 2}

``null`` start/end mean the episode has no intro at all.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from pathlib import Path

from typing import TYPE_CHECKING

from reviewer.errors import ConfigError

if TYPE_CHECKING:  # the renderers (scipy, pretty_midi) load lazily: importing build_demo stays cheap
    from reviewer.demo.series import SeriesSpec
    from reviewer.demo.songs import SongSpec

log = logging.getLogger(__name__)

GENERATOR_VERSION = "2"
CACHE_DIR = ".demo_cache"


@dataclass
class DemoManifest:
    """What a build produced: params, digest, counts, files with SHA-256, build time."""

    out_dir: str
    params: dict
    params_digest: str
    version: str
    counts: dict
    files: dict[str, str]
    build_seconds: float
    reused: bool = False
    truth_files: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict:
        d = asdict(self)
        d.pop("out_dir")
        d.pop("reused")
        return d

    @classmethod
    def from_dict(cls, d: dict, *, out_dir: str, reused: bool = False) -> "DemoManifest":
        return cls(out_dir=out_dir, params=dict(d["params"]), params_digest=d["params_digest"], version=d["version"],
                   counts=dict(d["counts"]), files=dict(d["files"]), build_seconds=float(d["build_seconds"]),
                   reused=reused, truth_files=dict(d.get("truth_files", {})))

    @property
    def root(self) -> Path:
        return Path(self.out_dir)


def format_hms(seconds: float) -> str:
    """``H:MM:SS.sss`` as in the seed-001 labels."""
    ms = int(round(seconds * 1000))
    h, rem = divmod(ms, 3_600_000)
    m, rem = divmod(rem, 60_000)
    s, ms = divmod(rem, 1000)
    return f"{h}:{m:02d}:{s:02d}.{ms:03d}"


def _source_digest() -> str:
    """SHA-256 of the generator's own source: editing the generator invalidates old libraries."""
    h = hashlib.sha256()
    here = Path(__file__).resolve().parent
    for name in ("music.py", "series.py", "songs.py", "build.py"):
        h.update((here / name).read_bytes())
    return h.hexdigest()


def _digest(obj: object) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode("utf-8")).hexdigest()


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _dump(path: Path, obj: object) -> None:
    tmp = path.with_suffix(path.suffix + ".part")
    tmp.write_text(json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(path)


# --------------------------------------------------------------------------- jobs (run in workers)


def _cached(out_dir: Path, key: str, digest: str, outputs: list[str]) -> dict | None:
    side = out_dir / CACHE_DIR / f"{key}.json"
    if not side.is_file():
        return None
    try:
        rec = json.loads(side.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    if rec.get("digest") != digest:
        return None
    for rel in outputs:
        p = out_dir / rel
        if not p.is_file() or rec.get("sha256", {}).get(rel) != sha256_file(p):
            return None
    return rec["truth"]


def _store(out_dir: Path, key: str, digest: str, outputs: list[str], truth: dict) -> None:
    (out_dir / CACHE_DIR).mkdir(parents=True, exist_ok=True)
    _dump(out_dir / CACHE_DIR / f"{key}.json",
          {"digest": digest, "sha256": {rel: sha256_file(out_dir / rel) for rel in outputs}, "truth": truth})


def _assets_job(spec: SeriesSpec, seed: int, sr: int, out_dir: str, quick: bool, digest: str) -> dict:
    out = Path(out_dir)
    key = f"assets_{spec.name}"
    outputs = [spec.asset_rel_path(w) for w in ("theme", "cue", "credits", "sting", "ident")]
    hit = _cached(out, key, digest, outputs)
    if hit is not None:
        return hit
    from reviewer.demo.series import make_series_assets

    t0 = time.perf_counter()
    truth = make_series_assets(spec, seed=seed, sr=sr, out_dir=out, quick=quick)
    _store(out, key, digest, outputs, truth)
    log.info("series assets %s rendered in %.1f s", spec.name, time.perf_counter() - t0)
    return truth


def _episode_job(spec: SeriesSpec, e: int, seed: int, sr: int, out_dir: str, assets: dict, quick: bool, digest: str) -> dict:
    out = Path(out_dir)
    rel = spec.episode_rel_path(e)
    key = f"episode_{spec.name}_{e + 1:02d}"
    hit = _cached(out, key, digest, [rel])
    if hit is not None:
        return hit
    from reviewer.demo.series import make_episode

    t0 = time.perf_counter()
    truth = make_episode(spec, e, seed=seed, sr=sr, out_dir=out, assets=assets, quick=quick)
    _store(out, key, digest, [rel], truth)
    log.info("episode %s built in %.1f s (%.0f s of audio)", rel, time.perf_counter() - t0, truth["duration"])
    return truth


def _song_job(spec: SongSpec, seed: int, sr: int, out_dir: str, quick: bool, digest: str) -> dict:
    out = Path(out_dir)
    key = f"song_{spec.index:03d}"
    hit = _cached(out, key, digest, [spec.rel_path])
    if hit is not None:
        return hit
    from reviewer.demo.songs import make_song

    t0 = time.perf_counter()
    truth = make_song(spec, seed=seed, sr=sr, out_path=out / spec.rel_path, quick=quick)
    _store(out, key, digest, [spec.rel_path], truth)
    log.info("song %s built in %.1f s", spec.rel_path, time.perf_counter() - t0)
    return truth


def _readme(params: dict, counts: dict) -> str:
    """A short description written next to the generated library."""
    doc = (__doc__ or "").strip()
    return (f"# reviewer demo library (generator version {GENERATOR_VERSION})\n\n"
            f"Parameters: `{json.dumps(params, sort_keys=True)}`\n\nCounts: `{json.dumps(counts, sort_keys=True)}`\n\n"
            f"Every file is generated: rebuild with `reviewer.demo.build_demo(out_dir, seed=...)`.\n\n```\n{doc}\n```\n")


# --------------------------------------------------------------------------- the composer


def _check_tools() -> None:
    from reviewer.demo.music import require_tool, soundfont_path

    for tool in ("fluidsynth", "espeak-ng", "ffmpeg"):
        require_tool(tool)
    soundfont_path()


def _verify(out_dir: Path, manifest: dict) -> bool:
    for rel, sha in manifest.get("files", {}).items():
        p = out_dir / rel
        if not p.is_file() or sha256_file(p) != sha:
            return False
    return True


def build_demo(out_dir: str | os.PathLike, *, seed: int = 0, n_series: int = 4, episodes_per_series: int = 4,
               n_songs: int = 14, workers: int = 2, sample_rate: int = 22050, quick: bool = False,
               themeless_series: int | None = None) -> DemoManifest:
    """Generate the demo library (series episodes + songs) with exact ground truth.

    Parameters
    ----------
    out_dir : path
        Target folder (created). Re-running with the same parameters reuses the
        existing library when ``manifest.json`` matches and every file's SHA-256
        checks; an interrupted build resumes item by item.
    seed : int
        Everything derives from numpy generators seeded from ``(seed, item)``.
    n_series, episodes_per_series : int
        The last series is held out (``test_labels.json``). ``quick`` overrides
        them with 2 × 3 short episodes.
    n_songs : int
        Songs across genres (``quick``: 3 short songs).
    workers : int
        Process-pool size (1: build in this process).
    sample_rate : int
        Sample rate of every rendered file in Hz.
    quick : bool
        A tiny library for tests (< 30 s).
    themeless_series : int or None
        Series without an opening theme (only ident, recaps, cues and end
        credits recur): the ones before the last series. ``None``: one with
        four series or more (the default library, byte-identical to builds
        without this parameter).

    Returns
    -------
    DemoManifest
    """
    if quick:
        n_series, episodes_per_series, n_songs = 2, 3, 3
    if n_series < 2 or episodes_per_series < 1 or n_songs < 0:
        raise ConfigError(f"need n_series >= 2 (one is held out) and episodes_per_series >= 1, got {n_series}, "
                          f"{episodes_per_series}; n_songs >= 0, got {n_songs}")
    if sample_rate < 8000 or workers < 1:
        raise ConfigError(f"sample_rate must be >= 8000 and workers >= 1, got {sample_rate}, {workers}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    params = {"seed": int(seed), "n_series": n_series, "episodes_per_series": episodes_per_series,
              "n_songs": n_songs, "sample_rate": int(sample_rate), "quick": bool(quick)}
    if themeless_series is not None:  # only when given: default libraries keep their digest
        if not 0 <= themeless_series <= n_series - 1:
            raise ConfigError(f"themeless_series must be in [0, n_series - 1] = [0, {n_series - 1}], "
                              f"got {themeless_series!r}")
        params["themeless_series"] = int(themeless_series)
    digest = _digest({"params": params, "version": GENERATOR_VERSION, "source": _source_digest()})
    man_path = out / "manifest.json"
    old: dict = {}
    if man_path.is_file():
        try:
            old = json.loads(man_path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            old = {}
        if old.get("params_digest") == digest and _verify(out, old):
            log.info("demo library in %s is up to date (digest %s): reused", out, digest[:12])
            return DemoManifest.from_dict(old, out_dir=str(out), reused=True)
    _check_tools()
    from reviewer.demo.series import plan_series
    from reviewer.demo.songs import plan_songs

    t0 = time.perf_counter()
    series = plan_series(seed, n_series, episodes_per_series, themeless_series=themeless_series)
    songs = plan_songs(seed, n_songs, quick=quick)
    assets: dict[str, dict] = {}
    episodes: dict[str, dict] = {}
    song_truth: dict[str, dict] = {}
    log.info("building demo library in %s: %d series x %d episodes, %d songs, %d workers",
             out, n_series, episodes_per_series, n_songs, workers)
    # workers=1 runs in this process (one thread): easy to debug, no fork
    executor: Executor = ThreadPoolExecutor(max_workers=1) if workers == 1 else ProcessPoolExecutor(max_workers=workers)
    with executor as pool:
        pending: dict[Future, tuple[str, object]] = {}
        for sp in series:
            pending[pool.submit(_assets_job, sp, seed, sample_rate, str(out), quick, digest)] = ("assets", sp)
        # longest songs first interleave well with episodes
        for so in songs:
            pending[pool.submit(_song_job, so, seed, sample_rate, str(out), quick, digest)] = ("song", so)
        while pending:
            done, _ = wait(list(pending), return_when=FIRST_COMPLETED)
            for fut in done:
                kind, item = pending.pop(fut)
                res = fut.result()
                if kind == "assets":
                    sp = item
                    assets[sp.name] = res
                    for e in range(sp.n_episodes):
                        f = pool.submit(_episode_job, sp, e, seed, sample_rate, str(out), res, quick, digest)
                        pending[f] = ("episode", (sp, e))
                elif kind == "episode":
                    sp, e = item
                    episodes[sp.episode_rel_path(e)] = res
                else:
                    song_truth[item.rel_path] = res
    # ground truth files (sorted keys: byte-identical for the same seed)
    train, test = {}, {}
    for rel in sorted(episodes):
        tr = episodes[rel]
        intro = tr["intro"]
        lab = {
            "start": None if intro is None else format_hms(intro["start"]),
            "end": None if intro is None else format_hms(intro["end"]),
            "start_sec": None if intro is None else intro["start"],
            "end_sec": None if intro is None else intro["end"],
            "series": tr["series"], "season": tr["season"], "episode": tr["episode"],
        }
        (test if tr["split"] == "test" else train)[rel] = lab
    truth_files = {"train_labels": "train_labels.json", "test_labels": "test_labels.json",
                   "episodes_truth": "episodes_truth.json", "series_truth": "series_truth.json",
                   "songs_truth": "songs_truth.json"}
    _dump(out / "train_labels.json", train)
    _dump(out / "test_labels.json", test)
    _dump(out / "episodes_truth.json", {k: episodes[k] for k in sorted(episodes)})
    _dump(out / "series_truth.json", {sp.name: {**assets[sp.name], "split": sp.split, "channel": sp.channel}
                                      for sp in series})
    _dump(out / "songs_truth.json", {k: song_truth[k] for k in sorted(song_truth)})
    files: dict[str, str] = {}
    for rel in sorted(list(episodes) + list(song_truth) +
                      [f for a in assets.values() for f in a["files"].values()] + list(truth_files.values())):
        files[rel] = sha256_file(out / rel)
    counts = {"series": n_series, "episodes": len(episodes), "episodes_without_intro": sum(
        1 for t in episodes.values() if not t["has_intro"]), "songs": len(song_truth),
        "train_episodes": len(train), "test_episodes": len(test),
        "train_songs": sum(1 for t in song_truth.values() if t["split"] == "train"),
        "test_songs": sum(1 for t in song_truth.values() if t["split"] == "test"),
        "audio_seconds": round(sum(t["duration"] for t in episodes.values()) + sum(
            t["duration"] for t in song_truth.values()), 3)}
    man = DemoManifest(out_dir=str(out), params=params, params_digest=digest, version=GENERATOR_VERSION,
                       counts=counts, files=files, build_seconds=round(time.perf_counter() - t0, 2),
                       truth_files=truth_files)
    stale = sorted(set(old.get("files", {})) - set(files))
    for rel in stale:  # files of an earlier build with other params: only those its manifest listed
        (out / rel).unlink(missing_ok=True)
    if stale:
        log.info("removed %d files of the previous build that this one does not produce", len(stale))
    (out / "README.md").write_text(_readme(params, counts), encoding="utf-8")
    _dump(man_path, {"generator": "reviewer.demo", "seed": int(seed), **man.to_dict()})
    log.info("demo library built in %.1f s: %s", man.build_seconds, counts)
    return man
