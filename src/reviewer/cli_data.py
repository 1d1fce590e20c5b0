"""CLI commands for datasets and the crowd: ``export``, ``import-labels``, ``crowd``, ``user``.

Registered into ``reviewer`` by :func:`register`::

    reviewer user add alice --role annotator            # asks for the password (or --password-env VAR)
    reviewer crowd create-pool songs-1 --kind song --overlap 3 --golden-from hook --n-golden 4
    reviewer crowd simulate 1 --seed 0                  # simulated annotators (demo / smoke test)
    reviewer crowd aggregate 1 --method mv
    reviewer export --kind song --source human --source crowd --split group --clips
    reviewer import-labels export/label_studio.json

The CLI acts as the local operator (:data:`~reviewer.services.auth.SYSTEM_USER`).
"""

from __future__ import annotations

import getpass
import json
import logging
import os
import sys

__all__ = ["register"]

log = logging.getLogger(__name__)


def _engine(settings):
    from reviewer import store

    engine = store.make_engine(settings.db_url)
    store.init_db(engine)
    return engine


def _out(text: str) -> None:
    sys.stdout.write(text + "\n")


def cmd_export(args, settings) -> int:
    from reviewer.export.select import ExportFilters, SplitPlan
    from reviewer.services import datasets
    from reviewer.services.auth import SYSTEM_USER

    filters = ExportFilters(kinds=tuple(args.kind or ()), series=tuple(args.series or ()),
                            artists=tuple(args.artist or ()), sources=tuple(args.source or ()),
                            label_kinds=tuple(args.label_kind or ()), min_agreement=args.min_agreement,
                            model_version=args.model_version)
    split = SplitPlan(by=args.split, test_fraction=args.test_fraction, val_fraction=args.val_fraction, seed=args.seed,
                      cutoff=args.cutoff)
    res = datasets.export_dataset(SYSTEM_USER, engine=_engine(settings), settings=settings, filters=filters,
                                  split=split, include_clips=args.clips, out_root=args.out, name=args.name)
    _out(f"exported to {res.path}: {json.dumps(res.counts, sort_keys=True)} ({res.files} files)")
    return 0


def cmd_import(args, settings) -> int:
    from reviewer.services import datasets
    from reviewer.services.auth import SYSTEM_USER

    res = datasets.import_labels(SYSTEM_USER, engine=_engine(settings), path=args.path, fmt=args.format)
    _out(f"{res.fmt}: {res.intervals} interval(s) of {res.items} item(s), {res.added} new label(s)")
    return 0


def cmd_user_add(args, settings) -> int:
    from reviewer.services import auth

    password = os.environ.get(args.password_env) if args.password_env else None
    if password is None:
        password = getpass.getpass(f"password for {args.name}: ")
    user = auth.create_user(name=args.name, password=password, role=args.role, engine=_engine(settings))
    _out(f"user {user.name} ({user.role}) created, id {user.user_id}")
    return 0


def cmd_create_pool(args, settings) -> int:
    from reviewer.services import crowd
    from reviewer.services.auth import SYSTEM_USER

    settings_kw = {k: getattr(args, k) for k in ("overlap", "max_overlap", "target_agreement", "min_region",
                                                  "max_region", "min_listen_seconds", "golden_rate", "suspend_below",
                                                  "min_golden", "label_kind")}
    pool = crowd.create_pool(SYSTEM_USER, engine=_engine(settings), name=args.name, kind=args.kind,
                             genres=args.genre or None, per_genre=args.per_genre, golden_label_kind=args.golden_from,
                             n_golden=args.n_golden, dynamic_overlap=args.dynamic_overlap, seed=args.seed,
                             **settings_kw)
    _out(f"pool {pool.pool_id} {pool.name!r}: {pool.n_tasks} task(s) {pool.per_genre}, {pool.n_golden} golden")
    return 0


def cmd_aggregate(args, settings) -> int:
    from reviewer.services import crowd_review
    from reviewer.services.auth import SYSTEM_USER

    res = crowd_review.aggregate_pool(SYSTEM_USER, engine=_engine(settings), pool_id=args.pool_id,
                                      method=args.method, write_labels=not args.dry_run)
    _out(f"{len(res.consensus)} consensus region(s) ({res.method}), {res.labels_written} label(s) written, "
         f"{len(res.skipped_tasks)} task(s) without enough answers")
    for sk in res.skills:
        _out(f"  {sk.name:<20} golden {sk.golden_n:>3} × {_f(sk.golden_iou)}  consensus {sk.consensus_n:>3} × "
             f"{_f(sk.consensus_iou)}  skill {_f(sk.skill)}{'  SUSPENDED' if sk.suspended else ''}")
    return 0


def _f(x) -> str:
    return " n/a" if x is None else f"{x:.2f}"


def cmd_simulate(args, settings) -> int:
    import numpy as np

    from reviewer.crowd.simulate import make_crowd
    from reviewer.services import crowd_sim

    engine = _engine(settings)
    truth = crowd_sim.truth_regions(engine=engine, pool_id=args.pool_id)
    skills = {f"sim-good{i}": 0.9 - 0.05 * i for i in range(args.good)}
    skills.update({f"sim-spam{i}": 0.0 for i in range(args.spammers)})
    run = crowd_sim.simulate_pool(engine=engine, pool_id=args.pool_id, annotators=make_crowd(skills), truth=truth,
                                  rng=np.random.default_rng(args.seed))
    _out(f"{run.turns} turn(s); answers {run.answers}; suspended {list(run.suspended) or 'nobody'}")
    return 0


def register(subparsers) -> None:
    """Add ``export``, ``import-labels``, ``crowd`` and ``user`` to the ``reviewer`` parser."""
    sp = subparsers.add_parser("export", help="export a labelled dataset (new folder, manifest with checksums)")
    sp.add_argument("--out", help="export root (default data/exports)")
    sp.add_argument("--name", help="folder name (default dataset-<UTC timestamp>); never overwritten")
    sp.add_argument("--kind", action="append", choices=["episode", "song", "other"])
    sp.add_argument("--series", action="append")
    sp.add_argument("--artist", action="append")
    sp.add_argument("--source", action="append", choices=["truth", "human", "crowd", "crowd_resolved", "import"])
    sp.add_argument("--label-kind", action="append")
    sp.add_argument("--min-agreement", type=float, help="drop crowd labels whose answers agreed less (mean IoU)")
    sp.add_argument("--model-version", help="only items predicted by this model version (id, version, name:version)")
    sp.add_argument("--split", default="group", choices=["group", "upload_date", "store", "none"])
    sp.add_argument("--test-fraction", type=float, default=0.2)
    sp.add_argument("--cutoff", help="with --split upload_date: hold out items uploaded on or after YYYY-MM-DD")
    sp.add_argument("--val-fraction", type=float, default=0.0)
    sp.add_argument("--seed", type=int, default=0)
    sp.add_argument("--clips", action="store_true", help="also cut a WAV clip of every labelled region")
    sp.set_defaults(fn=cmd_export)

    sp = subparsers.add_parser("import-labels", help="import Label Studio JSON or Audacity labels as 'import' labels")
    sp.add_argument("path", help="a .json (Label Studio), a .txt (Audacity, named <item key>.txt) or a folder of them")
    sp.add_argument("--format", default="auto", choices=["auto", "label_studio", "audacity"])
    sp.set_defaults(fn=cmd_import)

    crowd = subparsers.add_parser("crowd", help="crowd pools: create, simulate, aggregate")
    csub = crowd.add_subparsers(dest="crowd_command", required=True)
    sp = csub.add_parser("create-pool", help="a genre-balanced pool of tasks")
    sp.add_argument("name")
    sp.add_argument("--kind", default="song", choices=["song", "episode", "other"])
    sp.add_argument("--label-kind", default="interest")
    sp.add_argument("--genre", action="append")
    sp.add_argument("--per-genre", type=int)
    sp.add_argument("--overlap", type=int, default=3)
    sp.add_argument("--dynamic-overlap", action="store_true")
    sp.add_argument("--max-overlap", type=int, default=5)
    sp.add_argument("--target-agreement", type=float, default=0.5)
    sp.add_argument("--min-region", type=float, default=5.0)
    sp.add_argument("--max-region", type=float, default=30.0)
    sp.add_argument("--min-listen-seconds", type=float, default=20.0)
    sp.add_argument("--golden-rate", type=float, default=0.1)
    sp.add_argument("--golden-from", help="label kind whose truth/human labels make golden tasks (e.g. hook)")
    sp.add_argument("--n-golden", type=int)
    sp.add_argument("--suspend-below", type=float, default=0.3)
    sp.add_argument("--min-golden", type=int, default=3)
    sp.add_argument("--seed", type=int, default=0)
    sp.set_defaults(fn=cmd_create_pool)
    sp = csub.add_parser("aggregate", help="consensus regions (crowd-kit), skills, suspensions")
    sp.add_argument("pool_id", type=int)
    sp.add_argument("--method", default="mv", choices=["mv", "em", "rasa"])
    sp.add_argument("--dry-run", action="store_true", help="do not write consensus labels")
    sp.set_defaults(fn=cmd_aggregate)
    sp = csub.add_parser("simulate", help="simulated annotators answer a pool (truth labels as targets)")
    sp.add_argument("pool_id", type=int)
    sp.add_argument("--good", type=int, default=5)
    sp.add_argument("--spammers", type=int, default=1)
    sp.add_argument("--seed", type=int, default=0)
    sp.set_defaults(fn=cmd_simulate)

    user = subparsers.add_parser("user", help="local accounts")
    usub = user.add_subparsers(dest="user_command", required=True)
    sp = usub.add_parser("add", help="create an account")
    sp.add_argument("name")
    sp.add_argument("--role", default="annotator", choices=["annotator", "engineer", "pm", "admin"])
    sp.add_argument("--password-env", help="read the password from this environment variable (else prompt)")
    sp.set_defaults(fn=cmd_user_add)
