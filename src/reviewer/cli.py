"""Command line: ``python -m reviewer ...`` or the ``reviewer`` console script.

Commands
--------
ingest   register media files or folders (series/season/episode from paths), import seed-001 labels
extract  frame features → segment tables over a process pool; resumable and idempotent
package  fit transforms on the train split, select segments, write npy+json (or tar shard) packages
status   items per kind/status, recent runs, failures
demo     build the demo library, ingest it with its ground truth, extract and package it
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Sequence

from reviewer.config import load_config
from reviewer.errors import ReviewerError
from reviewer.settings import Settings, get_settings

log = logging.getLogger("reviewer")


def _engine(settings: Settings):
    from reviewer import store

    engine = store.make_engine(settings.db_url)
    store.init_db(engine)
    return engine


def _config(args, settings: Settings):
    return load_config(getattr(args, "config", None) or settings.config_path)


def cmd_ingest(args, settings: Settings) -> int:
    from reviewer.services.library import import_intro_labels, ingest_paths

    engine = _engine(settings)
    summ = ingest_paths(args.paths, engine=engine, kind=args.kind, root=args.root, split=args.split)
    print(f"ingested {summ.added} new, {summ.updated} updated item(s): {dict(summ.kinds)}")
    for lab in args.labels or []:
        split = args.split or ("test" if "test" in Path(lab).name else "train" if "train" in Path(lab).name else None)
        counts = import_intro_labels(lab, engine=engine, split=split)
        print(f"labels from {lab}: {counts}")
    return 0


def _progress_bar(total_hint: str = "items"):
    from tqdm import tqdm

    bar = None

    def update(done: int, total: int, res) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(total=total, unit=total_hint, dynamic_ncols=True, file=sys.stderr)
        bar.update(1)
        if res is not None:
            bar.set_postfix_str(("ok " if res.ok else "FAILED ") + res.key[-40:])
        if done >= total:
            bar.close()

    return update


def cmd_extract(args, settings: Settings) -> int:
    from reviewer import store
    from reviewer.batch import run_extract_batch

    engine = _engine(settings)
    config = _config(args, settings)
    ids = None
    if args.kind or args.keys:
        with store.session_scope(engine) as s:
            ids = store.item_ids(session=s, kind=args.kind)
            if args.keys:
                wanted = store.items_by_key(session=s, keys=args.keys)
                missing = sorted(set(args.keys) - set(wanted))
                if missing:
                    raise ReviewerError(f"unknown item key(s): {', '.join(missing)}")
                ids = [i.id for i in wanted.values() if ids is None or i.id in set(ids)]
    summ = run_extract_batch(
        engine=engine, config=config, settings=settings, item_ids=ids, workers=args.workers, force=args.force,
        progress=None if args.quiet else _progress_bar(),
    )
    rt = summ.audio_seconds / summ.wall_seconds if summ.wall_seconds > 0 else 0.0
    print(f"extract run {summ.run_id}: {summ.ok} ok, {summ.failed} failed, {summ.skipped} skipped (already done); "
          f"{summ.audio_seconds / 60:.1f} min of audio in {summ.wall_seconds:.1f} s ({rt:.0f}x real time)")
    for key, err in summ.failures.items():
        print(f"  FAILED {key}: {err.splitlines()[0]}")
    return 0 if summ.failed == 0 or args.allow_failures else 3


def cmd_package(args, settings: Settings) -> int:
    from reviewer.services.pipeline import package_library

    engine = _engine(settings)
    config = _config(args, settings)
    if args.format:
        from dataclasses import replace

        config = replace(config, package=replace(config.package, storage_format=args.format))
    res = package_library(engine=engine, config=config, settings=settings, kind=args.kind,
                          out_dir=Path(args.out) if args.out else None)
    print(f"packaged {len(res.items)} item(s) into {res.items[0].path if res.items else '-'} "
          f"(transforms {res.artifact_digest} in {res.artifacts_dir})")
    for key, err in res.failed.items():
        print(f"  SKIPPED {key}: {err}")
    return 0


def cmd_status(args, settings: Settings) -> int:
    from reviewer.services.pipeline import pipeline_status

    engine = _engine(settings)
    st = pipeline_status(engine=engine)
    if args.json:
        print(json.dumps(st, indent=2, default=str))
        return 0
    print(f"database: {settings.db_url}")
    print("items:")
    for row in st["summary"]:
        counts = " ".join(f"{k}={v}" for k, v in sorted(row["by_status"].items()) if v)
        print(f"  {row['kind']:<8} {str(row.get('series') or '(no series)'):<28} {row['items']:>5} item(s)  {counts}")
    print("recent runs:")
    for r in st["runs"]:
        print(f"  #{r['id']} {r['stage']:<8} {r['status']:<11} ok={r['n_ok']} failed={r['n_failed']} "
              f"skipped={r['n_skipped']} started {r['started_at']:%Y-%m-%d %H:%M:%S}")
    if st["failures"]:
        print("failures (latest per item):")
        for f in st["failures"]:
            print(f"  {f['key']}: {f['error'].splitlines()[0] if f['error'] else ''}")
    return 0


def cmd_demo(args, settings: Settings) -> int:
    from reviewer.services.library import build_demo_library
    from reviewer.services.pipeline import package_library

    engine = _engine(settings)
    config = _config(args, settings)
    out = Path(args.out) if args.out else None
    res = build_demo_library(engine=engine, settings=settings, quick=args.quick, seed=args.seed, out_dir=out, log_fn=print)
    ing = res["ingest"]
    print(f"demo library in {res['out_dir']}: {ing['added']} new, {ing['updated']} known item(s) {dict(ing['kinds'])}")
    for k in ("train_labels.json", "test_labels.json", "songs_truth.json"):
        if k in res:
            print(f"  imported {k}: {res[k]}")
    if args.no_extract:
        return 0
    from reviewer.batch import run_extract_batch

    summ = run_extract_batch(engine=engine, config=config, settings=settings, workers=args.workers,
                             progress=None if args.quiet else _progress_bar())
    print(f"extract: {summ.ok} ok, {summ.failed} failed, {summ.skipped} already done ({summ.wall_seconds:.1f} s)")
    pk = package_library(engine=engine, config=config, settings=settings)
    print(f"packaged {len(pk.items)} item(s); transforms {pk.artifact_digest}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="reviewer", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-vv for debug)")
    sub = p.add_subparsers(dest="command", required=True)

    def common(sp):
        sp.add_argument("--config", help="pipeline TOML (default: $REVIEWER_CONFIG or the seed-000 defaults)")

    sp = sub.add_parser("ingest", help="register media files or folders")
    sp.add_argument("paths", nargs="+", help="files or folders (recursive)")
    sp.add_argument("--kind", default="auto", choices=["auto", "episode", "song", "other"])
    sp.add_argument("--root", help="make item keys relative to this folder")
    sp.add_argument("--split", choices=["train", "val", "test"], help="assign a split to the ingested items")
    sp.add_argument("--labels", action="append", help="seed-001 train_labels.json / test_labels.json to import (repeatable)")
    sp.set_defaults(fn=cmd_ingest)

    sp = sub.add_parser("extract", help="frame features and segment tables (process pool, resumable)")
    common(sp)
    sp.add_argument("--workers", type=int, help="processes (default: $REVIEWER_WORKERS or the core count)")
    sp.add_argument("--kind", choices=["episode", "song", "other"])
    sp.add_argument("--keys", nargs="+", help="only these item keys")
    sp.add_argument("--force", action="store_true", help="re-extract items already done")
    sp.add_argument("--allow-failures", action="store_true", help="exit 0 even when some items failed")
    sp.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    sp.set_defaults(fn=cmd_extract)

    sp = sub.add_parser("package", help="fit transforms on train, select segments, write packages")
    common(sp)
    sp.add_argument("--kind", choices=["episode", "song", "other"])
    sp.add_argument("--format", choices=["npy+json", "webdataset"])
    sp.add_argument("--out", help="output folder (default data/packages/<config digest>)")
    sp.set_defaults(fn=cmd_package)

    sp = sub.add_parser("status", help="what is in the library and how the runs went")
    sp.add_argument("--json", action="store_true")
    sp.set_defaults(fn=cmd_status)

    sp = sub.add_parser("demo", help="build + ingest + extract + package the demo library")
    common(sp)
    sp.add_argument("--quick", action="store_true", help="a tiny library (for tests)")
    sp.add_argument("--seed", type=int, default=0)
    sp.add_argument("--out", help="output folder (default data/demo)")
    sp.add_argument("--workers", type=int)
    sp.add_argument("--no-extract", action="store_true", help="only generate and ingest")
    sp.add_argument("-q", "--quiet", action="store_true")
    sp.set_defaults(fn=cmd_demo)
    __import__("reviewer.cli_detect_intro", fromlist=["register"]).register(sub)
    __import__("reviewer.cli_detect_hooks", fromlist=["register"]).register(sub)
    __import__("reviewer.cli_train", fromlist=["register"]).register(sub)
    __import__("reviewer.cli_data", fromlist=["register"]).register(sub)
    __import__("reviewer.cli_predict", fromlist=["register"]).register(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.fn(args, get_settings()) or 0)
    except ReviewerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: finished items are recorded; run the same command again to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
