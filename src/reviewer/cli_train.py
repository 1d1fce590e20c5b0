"""CLI commands ``train`` and ``experiment`` (registered into :func:`reviewer.cli.build_parser`).

train       train a segment model for intro / chorus / interest from the labels in the store,
            evaluate it on held-out items, register it as a model version (``--activate``)
experiment  run the seed-000 experiments Exp 0–4 on the library and print held-out metrics
label-gain  model A (demo truth only) vs model B (+ human labels) on the same held-out items
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
    used = summ.label_sources.get("train", {})
    print("  training labels by source (human correction > crowd consensus > demo truth): "
          + (", ".join(f"{k} {v}" for k, v in used.items() if v) or "none"))
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


def cmd_label_gain(args, settings: Settings) -> int:
    from reviewer.services import label_gain
    from reviewer.train.trainer import TrainConfig

    simulation = None
    if args.simulate:
        if not args.in_place:
            settings = label_gain.scratch_copy(settings)
            print(f"simulated labels go into a scratch copy: {settings.db_url}")
        simulation = label_gain.simulate_human_labels(args.task, engine=_engine(settings),
                                                      human_fraction=args.human_fraction, seed=args.seed)
        print(f"SIMULATED human labels ({simulation['method']}): {simulation['labels']} label(s) on "
              f"{simulation['labelled_items']} item(s) of {simulation['groups']}")
    tc = TrainConfig(arch=args.arch, epochs=args.epochs)
    seeds = list(range(args.seed, args.seed + args.repeats))
    rep = label_gain.measure_label_gain(args.task, engine=_engine(settings), settings=settings, train_config=tc,
                                        seeds=seeds, simulation=simulation, truth_control=args.truth_control)
    if args.json:
        print(json.dumps(rep, indent=2, default=str))
        return 0
    sim = " (human labels SIMULATED)" if rep["simulated"] else ""
    print(f"{args.task}: held-out {rep['held_out']['items']} item(s) {rep['held_out']['groups']}; "
          f"validation {rep['val']['groups']}; seeds {rep['seeds']}{sim}")
    metrics = rep["metrics"]
    print(f"{'model':<6} {'train items':>11} {'human':>6} " + " ".join(f"{m:>20}" for m in metrics))
    for row in rep["rows"]:
        print(f"{row['model']:<6} {row['train']['items']:>11} {row['human_items']:>6} "
              + " ".join(f"{_num(row['test'][m]):>20}" for m in metrics))
    print(f"{'B − A':<6} {'':>11} {'':>6} " + " ".join(f"{_num(rep['delta'][m], sign=True):>20}" for m in metrics))
    print(f"B better than A in {rep['b_better_seeds']} of {len(rep['seeds'])} seed(s); report {rep['path']}")
    return 0


def _num(v, sign: bool = False) -> str:
    return "—" if v is None else (f"{v:+.3f}" if sign else f"{v:.3f}")


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

    sp = sub.add_parser("label-gain", help="held-out gain from human labels: model A (truth only) vs B (+ human)")
    sp.add_argument("--task", required=True, choices=["intro", "chorus", "interest"])
    sp.add_argument("--simulate", action="store_true",
                    help="first write labels of simulated people (a scratch copy of a SQLite db unless --in-place)")
    sp.add_argument("--in-place", action="store_true", help="with --simulate: write into the configured database")
    sp.add_argument("--human-fraction", type=float, default=0.5, help="share of non-test groups people label")
    sp.add_argument("--arch", default="transformer", choices=["transformer", "crnn"])
    sp.add_argument("--epochs", type=int, default=40)
    sp.add_argument("--seed", type=int, default=0)
    sp.add_argument("--repeats", type=int, default=1, help="A/B pairs with seeds seed, seed+1, ...")
    sp.add_argument("--truth-control", action="store_true",
                    help="also train B_truth: B's extra items with their truth labels (is it the items or the labels?)")
    sp.add_argument("--json", action="store_true")
    sp.set_defaults(fn=cmd_label_gain)

    sp = sub.add_parser("experiment", help="run seed-000 experiments (exp0..exp4) with held-out metrics")
    sp.add_argument("name", nargs="?", help="exp0 | exp1 | exp2 | exp3 | exp4")
    sp.add_argument("--all", action="store_true")
    sp.add_argument("--tasks", nargs="+", default=["intro", "chorus"], choices=["intro", "chorus", "interest"])
    sp.add_argument("--arch", default="transformer", choices=["transformer", "crnn"])
    sp.add_argument("--epochs", type=int, default=40)
    sp.add_argument("--config-file", help="TOML with [expN] variants = [...] (default: the built-in Exp 0-4)")
    sp.add_argument("--out", help="write the result rows as JSON")
    sp.set_defaults(fn=cmd_experiment)
