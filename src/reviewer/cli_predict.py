"""``reviewer predict``: run the detectors over the store and save predictions (``train-hook-ranker`` too)."""

from __future__ import annotations

import json

from reviewer.settings import Settings


def _engine(settings: Settings):
    from reviewer import store

    engine = store.make_engine(settings.db_url)
    store.init_db(engine)
    return engine


def cmd_predict(args, settings: Settings) -> int:
    from reviewer.services.predict import predict_hooks, predict_intros

    engine = _engine(settings)
    results = []
    if args.task in ("intro", "all"):
        results.append(predict_intros(engine=engine, settings=settings, force=args.force))
    if args.task in ("hook", "all"):
        results.append(predict_hooks(engine=engine, settings=settings, force=args.force))
    for r in results:
        print(f"{r['task']}: {r['predicted']} predicted, {r['skipped']} already predicted by {r['version']} "
              f"({r['seconds']:.1f} s)")
    return 0


def cmd_train_ranker(args, settings: Settings) -> int:
    from reviewer.services.predict import train_hook_ranker

    r = train_hook_ranker(engine=_engine(settings), settings=settings, kind=args.kind)
    print(f"hook ranker {r['model_version']}: {r['n_candidates']} candidates from {r['n_songs']} train songs; "
          f"held-out-artist metrics {json.dumps(r['metrics'])}")
    return 0


def register(sub) -> None:
    sp = sub.add_parser("predict", help="run the intro / hook detectors over the library and store predictions")
    sp.add_argument("--task", choices=["intro", "hook", "all"], default="all")
    sp.add_argument("--force", action="store_true", help="predict again even when this model version already did")
    sp.set_defaults(fn=cmd_predict)
    sp = sub.add_parser("train-hook-ranker", help="train the chorus-candidate ranker on train-split songs")
    sp.add_argument("--kind", choices=["gbm", "ridge"], default="gbm")
    sp.set_defaults(fn=cmd_train_ranker)
