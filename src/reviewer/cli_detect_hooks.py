"""``reviewer predict-hooks DIR --out FILE.json``: chorus and hook snippet for every song under a folder.

No ingest and no database: every media file under ``DIR`` (recursively) is a
song. The output maps the path relative to ``DIR`` to
``{"snippet_start": s, "snippet_end": s, "chorus": [[s, e], ...], "confidence": c,
"fallback": bool}``, or to ``{"error": "..."}`` for a file that cannot be decoded.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

from reviewer.errors import ConfigError, InvalidMediaError, ModelUnavailableError, ReviewerError

log = logging.getLogger(__name__)


def default_model() -> str | None:
    """The hook ranker the app ships (``detect/default_models``), or None when it is missing."""
    from reviewer.services.predict import DEFAULT_RANKER

    return str(DEFAULT_RANKER) if DEFAULT_RANKER.is_file() else None


@functools.lru_cache(maxsize=4)
def _load_model(path: str | None) -> tuple[Any, Any]:
    """(ranker, scorer) from ``--model``: a ``.joblib`` hook ranker, else a scorer checkpoint (cached per process)."""
    if not path:
        return None, None
    p = Path(path)
    if p.suffix == ".joblib":
        from reviewer.detect.ranker import load_ranker

        return load_ranker(p), None
    try:
        from reviewer.models.registry import load_scorer
    except ImportError as exc:
        raise ModelUnavailableError(f"cannot load scorer {path!r}: the model registry is not available ({exc})") from exc
    return None, load_scorer(p)


def _one(job: tuple[str, str, float, str | None]) -> tuple[str, dict]:
    path, rel, snippet_len, model = job
    from reviewer.detect.hooks import HookConfig, detect_hooks, load_song

    try:
        ranker, scorer = _load_model(model)
        song = load_song(path, key=rel)
        pred = detect_hooks(song, config=replace(HookConfig(), snippet_len=snippet_len), scorer=scorer, ranker=ranker)
    except InvalidMediaError as exc:
        return rel, {"error": str(exc)}
    return rel, {
        "snippet_start": pred.snippet[0],
        "snippet_end": pred.snippet[1],
        "chorus": [[round(s, 3), round(e, 3)] for s, e in pred.chorus],
        "confidence": pred.confidence,
        "fallback": pred.fallback,
        "model_version": pred.model_version,
    }


def predict_hooks_dir(root: str | Path, *, snippet_len: float = 30.0, model: str | None = None, workers: int = 1,
                      heuristic: bool = False) -> dict[str, dict]:
    """Run the hook detector over every media file under ``root``.

    Parameters
    ----------
    root : path
        Folder searched recursively.
    snippet_len : float
        Snippet length in seconds.
    model : str or None
        A hook ranker (``.joblib``) or a scorer checkpoint; None: the shipped ranker (:func:`default_model`).
    heuristic : bool
        Rank the candidates by the hand-set heuristic instead of a learned ranker (``model`` must be None).
    workers : int
        Processes (1: in this process).

    Returns
    -------
    dict
        Relative path → result, sorted by path.
    """
    from reviewer.audio_io import MEDIA_EXTENSIONS

    base = Path(root)
    if not base.is_dir():
        raise ConfigError(f"{str(base)!r} is not a folder")
    if snippet_len <= 0:
        raise ConfigError(f"--snippet-len must be positive seconds, got {snippet_len}")
    if heuristic and model:
        raise ConfigError("--heuristic and --model exclude each other")
    if model is None and not heuristic:
        model = default_model()
    _load_model(model)  # fail early on a bad model path
    files = sorted(f for f in base.rglob("*") if f.is_file() and f.suffix.lower() in MEDIA_EXTENSIONS)
    jobs = [(str(f), f.relative_to(base).as_posix(), float(snippet_len), model) for f in files]
    if workers <= 1 or len(jobs) <= 1:
        results = [_one(j) for j in jobs]
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(_one, jobs))
    return dict(sorted(results))


def cmd_predict_hooks(args, settings) -> int:
    t0 = time.perf_counter()
    workers = args.workers or int(os.environ.get("REVIEWER_WORKERS", 0) or 1)
    out = predict_hooks_dir(args.dir, snippet_len=args.snippet_len, model=args.model, workers=workers,
                            heuristic=args.heuristic)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2), encoding="utf-8")
    failed = sum(1 for v in out.values() if "error" in v)
    print(f"predict-hooks: {len(out) - failed} song(s) done, {failed} failed, in {time.perf_counter() - t0:.1f} s → {args.out}")
    for k, v in out.items():
        if "error" in v:
            print(f"  FAILED {k}: {v['error']}", file=sys.stderr)
    return 0 if failed == 0 else 3


def register(subparsers) -> None:
    """Add the ``predict-hooks`` sub-command to the ``reviewer`` parser."""
    sp = subparsers.add_parser("predict-hooks", help="chorus occurrences + hook snippet for every song under a folder")
    sp.add_argument("dir", help="folder of songs (searched recursively)")
    sp.add_argument("--out", required=True, help="output JSON file")
    sp.add_argument("--snippet-len", type=float, default=30.0, help="snippet length in seconds (default 30)")
    sp.add_argument("--model", help="hook ranker (.joblib) or scorer checkpoint (default: the shipped learned ranker)")
    sp.add_argument("--heuristic", action="store_true", help="rank candidates by the hand-set heuristic, no learned ranker")
    sp.add_argument("--workers", type=int, help="processes (default: $REVIEWER_WORKERS or 1)")
    sp.set_defaults(fn=cmd_predict_hooks)


__all__ = ["register", "predict_hooks_dir", "ReviewerError"]
