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
    from reviewer.cli_detect_intro import intro_config_from_args
    from reviewer.services.predict import predict_hooks, predict_intros

    icfg = intro_config_from_args(args)
    engine = _engine(settings)
    results = []
    if args.task in ("intro", "all"):
        results.append(predict_intros(engine=engine, settings=settings, force=args.force, intro_config=icfg))
    if args.task in ("hook", "all"):
        results.append(predict_hooks(engine=engine, settings=settings, force=args.force))
    for r in results:
        print(f"{r['task']}: {r['predicted']} predicted, {r['skipped']} already predicted by {r['version']}, "
              f"{r.get('failed', 0)} failed ({r['seconds']:.1f} s)")
    return 0 if not any(r.get("failed") for r in results) else 3


def cmd_train_ranker(args, settings: Settings) -> int:
    from reviewer.services.predict import train_hook_ranker

    r = train_hook_ranker(engine=_engine(settings), settings=settings, kind=args.kind)
    print(f"hook ranker {r['model_version']}: {r['n_candidates']} candidates from {r['n_songs']} train songs; "
          f"held-out-artist metrics {json.dumps(r['metrics'])}")
    return 0


def cmd_bootstrap(args, settings: Settings) -> int:
    """Default models for a fresh library: train the intro scorer when none is active, then predict."""
    from reviewer import store
    from reviewer.services.predict import predict_hooks, predict_intros
    from reviewer.services.training import train_task

    engine = _engine(settings)
    with store.session_scope(engine) as s:
        active = store.active_model_version(session=s, task="intro")
    if active is None:
        extra = []
        if args.scorer_series:
            from reviewer.services.library import build_training_library

            extra.append(build_training_library(settings=settings, n_series=args.scorer_series, log_fn=print))
        # CRNN: best held-out intro F1 (docs/experiments.md); the demo's train series + the training library's
        summ = train_task("intro", engine=engine, settings=settings, arch="crnn", activate=True, extra_sources=extra)
        n = int(summ.test_metrics.get("n_items", 0))
        print(f"trained the default intro scorer {summ.version}; held-out ({n} item(s)): "
              + ", ".join(f"{k}={v:.3f}" for k, v in summ.test_metrics.items() if isinstance(v, float)))
    else:
        print(f"intro scorer {active.name} {active.version} is active")
    for r in (predict_intros(engine=engine, settings=settings), predict_hooks(engine=engine, settings=settings)):
        print(f"{r['task']}: {r['predicted']} predicted, {r['skipped']} already predicted ({r['seconds']:.1f} s)")
    return 0


def register(sub) -> None:
    sp = sub.add_parser("predict", help="run the intro / hook detectors over the library and store predictions")
    sp.add_argument("--task", choices=["intro", "hook", "all"], default="all")
    sp.add_argument("--force", action="store_true", help="predict again even when this model version already did")
    from reviewer.cli_detect_intro import add_intro_options

    add_intro_options(sp)
    sp.set_defaults(fn=cmd_predict)
    sp = sub.add_parser("train-hook-ranker", help="train the chorus-candidate ranker on train-split songs")
    sp.add_argument("--kind", choices=["gbm", "ridge"], default="gbm")
    sp.set_defaults(fn=cmd_train_ranker)
    sp = sub.add_parser("bootstrap", help="train the default intro scorer if none is active, then predict everything")
    sp.add_argument("--scorer-series", type=int, default=16, metavar="N",
                    help="series (x 4 episodes) of the generated library the intro scorer also trains on "
                         "(default 16; 0: the demo's training series only)")
    sp.set_defaults(fn=cmd_bootstrap)
