"""CLI commands ``train`` and ``experiment`` (registered into :func:`reviewer.cli.build_parser`).

train       train a segment model for intro / chorus / interest from the labels in the store,
            evaluate it on held-out items, register it as a model version (``--activate``)
experiment  run the seed-000 experiments Exp 0–4 on the library and print held-out metrics
"""

from __future__ import annotations

import json
from pathlib import Path

from reviewer.settings import Settings

#: metrics printed by ``train`` (others are in the model version's metrics)
SHOWN = ("precision", "recall", "f1", "region_iou", "intro_detected", "intro_false_positive_rate",
         "intro_mae_start", "intro_mae_end", "intro_within_1s", "intro_within_3s", "chorus_frame_f1",
         "chorus_occurrence_f")


def _engine(settings: Settings):
    from reviewer import store

    engine = store.make_engine(settings.db_url)
    store.init_db(engine)
    return engine


def _extra(homes) -> list[Settings]:
    return [Settings.from_env({"REVIEWER_HOME": str(Path(h).resolve())}) for h in homes or []]


def _fmt(metrics: dict) -> str:
    return ", ".join(f"{k}={metrics[k]:.3f}" for k in SHOWN if k in metrics and metrics[k] == metrics[k])


def cmd_train(args, settings: Settings) -> int:
    from reviewer.services.training import train_task

    summ = train_task(args.task, engine=_engine(settings), settings=settings, arch=args.arch, epochs=args.epochs,
                      activate=args.activate, extra_sources=_extra(args.extra_home), seed=args.seed)
    if args.json:
        print(json.dumps(summ.__dict__, indent=2, default=str))
        return 0
    print(f"trained {summ.task} {summ.arch} {summ.version} ({summ.n_parameters} parameters, "
          f"{summ.checkpoint_bytes / 1024:.0f} KB) in {summ.train_seconds:.1f} s; best epoch {summ.best_epoch} "
          f"of {summ.epochs_run}")
    print(f"  split: " + "; ".join(f"{k} {v['items']} item(s) {v['groups']}" for k, v in summ.split.items()))
    print(f"  validation: {_fmt(summ.val_metrics)}")
    n = int(summ.test_metrics.get("n_items", 0))
    print(f"  held-out test ({n} item(s) never trained on): {_fmt(summ.test_metrics) or 'no held-out items'}")
    print(f"  checkpoint {summ.path}; model version id {summ.model_version_id}"
          + (" (active)" if summ.activated else " (not active: pass --activate)"))
    return 0


def cmd_experiment(args, settings: Settings) -> int:
    from reviewer.train.experiments import load_experiment_config, run_experiment
    from reviewer.train.trainer import TrainConfig

    specs = load_experiment_config(args.config_file)
    names = sorted(specs) if args.all else [args.name]
    if not args.all and not args.name:
        print("error: give an experiment name or --all")
        return 2
    tc = TrainConfig(arch=args.arch, epochs=args.epochs)
    rows = []
    for name in names:
        rows += run_experiment(name, engine=_engine(settings), settings=settings, tasks=args.tasks,
                               experiments=specs, train_config=tc)
    if args.out:
        Path(args.out).write_text(json.dumps(rows, indent=2, default=str), encoding="utf-8")
    print(f"{'experiment':<6} {'task':<7} {'variant':<34} {'D':>4} {'P':>6} {'R':>6} {'F1':>6} {'IoU':>6} {'s':>6}")
    for r in rows:
        t = r["test"]
        print(f"{r['experiment']:<6} {r['task']:<7} {r['name']:<34} {r['n_features']:>4} "
              f"{t.get('precision', float('nan')):6.3f} {t.get('recall', float('nan')):6.3f} "
              f"{t.get('f1', float('nan')):6.3f} {t.get('region_iou', float('nan')):6.3f} {r['seconds']:6.1f}"
              + (f"  ({'; '.join(r['notes'])})" if r["notes"] else ""))
    return 0


def register(sub) -> None:
    """Add the ``train`` and ``experiment`` subcommands to an argparse subparsers object."""
    sp = sub.add_parser("train", help="train an intro / chorus / interest model from the labels in the store")
    sp.add_argument("--task", required=True, choices=["intro", "chorus", "interest"])
    sp.add_argument("--arch", default="transformer", choices=["transformer", "crnn"])
    sp.add_argument("--epochs", type=int, help="maximum epochs (early stopping may end sooner; default 40)")
    sp.add_argument("--seed", type=int, help="random seed (default 0)")
    sp.add_argument("--activate", action="store_true", help="make it the active model and the default for batch runs")
    sp.add_argument("--extra-home", action="append",
                    help="another library's home (db/ + data/) used for training only (repeatable)")
    sp.add_argument("--json", action="store_true")
    sp.set_defaults(fn=cmd_train)

    sp = sub.add_parser("experiment", help="run seed-000 experiments (exp0..exp4) with held-out metrics")
    sp.add_argument("name", nargs="?", help="exp0 | exp1 | exp2 | exp3 | exp4")
    sp.add_argument("--all", action="store_true")
    sp.add_argument("--tasks", nargs="+", default=["intro", "chorus"], choices=["intro", "chorus", "interest"])
    sp.add_argument("--arch", default="transformer", choices=["transformer", "crnn"])
    sp.add_argument("--epochs", type=int, default=40)
    sp.add_argument("--config-file", help="TOML with [expN] variants = [...] (default: the built-in Exp 0-4)")
    sp.add_argument("--out", help="write the result rows as JSON")
    sp.set_defaults(fn=cmd_experiment)
