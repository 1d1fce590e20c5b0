"""``reviewer predict-intros DIR --out FILE.json``: intros of every series under a folder, no ingest needed.

Each sub-folder of ``DIR`` is one series; the media files under it (any depth)
are its episodes. The output maps each file's path relative to ``DIR`` to
``{"intro_start": s, "intro_end": s, "confidence": c}`` or ``null`` (no intro);
a file that cannot be decoded gets ``{"error": "..."}``, is left out of its
series (the others are still matched with each other) and makes the command
exit with 3 after writing everything else.
"""

from __future__ import annotations

import json
import logging
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from reviewer.audio_io import MEDIA_EXTENSIONS
from reviewer.errors import NotFoundError

log = logging.getLogger(__name__)


def find_series(root: Path) -> dict[str, list[Path]]:
    """Series name (sub-folder) → its media files, sorted; raises NotFoundError when there are none."""
    if not root.is_dir():
        raise NotFoundError(f"predict-intros: {str(root)!r} is not a folder")
    out = {}
    for sub in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        files = sorted(p for p in sub.rglob("*") if p.is_file() and p.suffix.lower() in MEDIA_EXTENSIONS)
        if files:
            out[sub.name] = files
    if not out:
        raise NotFoundError(f"predict-intros: no media files in sub-folders of {str(root)!r} (one sub-folder per series)")
    return out


def _table(f: Path):
    """The scorer's segment table of one file (default pipeline config; features computed in memory, not stored)."""
    from reviewer.aggregate import aggregate
    from reviewer.config import PipelineConfig
    from reviewer.features.run import extract_tracks
    from reviewer.segments import make_segments
    from reviewer.settings import get_settings

    cfg = PipelineConfig()
    res = extract_tracks(f, audio_config=cfg.audio, features_config=cfg.features, settings=get_settings())
    seg = make_segments(res.duration, cfg.segments.segment_len, cfg.segments.hop)
    return aggregate(res.tracks, seg, asr_confidence_threshold=cfg.features.asr_confidence_threshold)


def add_intro_options(sp) -> None:
    """``--search-window``, ``--min-len``, ``--max-len``: the intro detector's search range (seconds)."""
    from reviewer.detect.intro import IntroConfig

    d = IntroConfig()
    sp.add_argument("--search-window", type=float, default=None, metavar="S",
                    help=f"search only the first S seconds of each episode (default {d.search_window:g}: cold opens "
                         "of a few minutes)")
    sp.add_argument("--min-len", type=float, default=None, metavar="S", help=f"shortest intro (default {d.min_len:g} s)")
    sp.add_argument("--max-len", type=float, default=None, metavar="S", help=f"longest intro (default {d.max_len:g} s)")


def intro_config_from_args(args):
    """The :class:`~reviewer.detect.intro.IntroConfig` the options ask for (ConfigError when inconsistent)."""
    from reviewer.detect.intro import IntroConfig

    over = {k: float(v) for k, v in (("search_window", getattr(args, "search_window", None)),
                                     ("min_len", getattr(args, "min_len", None)),
                                     ("max_len", getattr(args, "max_len", None))) if v is not None}
    return IntroConfig(**over)


def predict_series(series: str, files: list[str], root: str, model: str | None, config=None) -> dict[str, dict | None]:
    """Detect one series' intros; returns relative path → record or None (runs in a worker)."""
    from reviewer.detect.intro import Episode, IntroConfig, detect_intros
    from reviewer.errors import InvalidMediaError

    keys = [str(Path(f).relative_to(root)) for f in files]
    errors: dict[str, str] = {}
    scorer = None
    tables: dict[str, object] = {}
    if model:
        from reviewer.models.registry import load_scorer

        scorer = load_scorer(model)
        for key, f in zip(keys, files):
            try:
                tables[key] = _table(Path(f))
            except InvalidMediaError as exc:  # left out here already; detect_intros would refuse it too
                errors[key] = str(exc)
    eps = [Episode(key=key, series=series, path=f, table=tables.get(key))
           for key, f in zip(keys, files) if key not in errors]
    preds = detect_intros(eps, config=config if config is not None else IntroConfig(), scorer=scorer, errors=errors)
    out: dict[str, dict | None] = {p.key: (None if p.start is None else
                                           {"intro_start": p.start, "intro_end": p.end, "confidence": p.confidence})
                                   for p in preds}
    out.update({k: {"error": msg} for k, msg in errors.items()})
    return out


def cmd_predict_intros(args, settings) -> int:
    config = intro_config_from_args(args)  # before any decoding: a bad range fails at once
    root = Path(args.dir).resolve()
    series = find_series(root)
    jobs = [(name, [str(f) for f in files], str(root), args.model, config) for name, files in series.items()]
    result: dict[str, dict | None] = {}
    workers = max(1, int(args.workers or 1))
    if workers == 1 or len(jobs) == 1:
        for job in jobs:
            result.update(predict_series(*job))
    else:
        with ProcessPoolExecutor(max_workers=min(workers, len(jobs))) as pool:
            for part in pool.map(predict_series, *zip(*jobs)):
                result.update(part)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(dict(sorted(result.items())), indent=2) + "\n", encoding="utf-8")
    failed = {k: v["error"] for k, v in result.items() if v is not None and "error" in v}
    found = sum(v is not None and "error" not in v for v in result.values())
    print(f"predict-intros: {len(result)} episode(s) in {len(series)} series, {found} with an intro, "
          f"{len(failed)} failed → {out}")
    for k, msg in failed.items():
        print(f"  FAILED {k}: {msg}", file=sys.stderr)
    return 0 if not failed else 3


def register(subparsers) -> None:
    """Add ``predict-intros`` to the ``reviewer`` command line."""
    sp = subparsers.add_parser("predict-intros", help="intro start/end of every episode under DIR (one sub-folder per series)")
    sp.add_argument("dir", help="folder whose sub-folders are series")
    sp.add_argument("--out", required=True, help="JSON file to write")
    sp.add_argument("--model", help="intro scorer checkpoint (optional; repetition alone without it)")
    sp.add_argument("--workers", type=int, default=1, help="series processed in parallel")
    add_intro_options(sp)
    sp.set_defaults(fn=cmd_predict_intros)
