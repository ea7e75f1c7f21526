"""Commands that check: ``eval`` (cart accuracy against labelled clips) and ``validate``
(a store.yaml)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from ..errors import WalkoutError
from .common import backend_model, backend_option, trust_option


def cmd_eval(args: argparse.Namespace) -> int:
    import tempfile

    from ..evaluate import evaluate, find_clips
    from ..io import check_out_dir, check_out_file, write_json_atomic
    from ..report import terminal_table, write_report

    for path, flag, check in ((args.out, "--out", check_out_dir),
                              (args.json, "--json", check_out_file),
                              (args.report, "--report", check_out_dir)):
        if path:
            check(path, flag)  # output paths first: never a failure after the work
    with tempfile.TemporaryDirectory() as tmp:
        pred = args.pred
        if pred is None:  # run the pipeline on each clip (or store of cameras) first
            from ..batch import Options, find_jobs, run_job
            from ..evaluate import load_truth

            for clip in find_clips(args.clips):
                load_truth(clip)  # the labels are checked before any clip is run
            pred = Path(args.out or tmp)
            opts = Options(backend=args.backend, device=args.device,
                           trust_model=args.trust_model)
            for job in find_jobs(args.clips, pred):  # every store and video checked first
                res = run_job(job, opts)
                if res.status == "done before":
                    print(f"{job.name}: finished before in {job.out}, not run again",
                          file=sys.stderr)
                else:
                    print(f"ran {job.name}: {res.receipts} receipts, "
                          f"{res.video_s / max(res.wall_s, 1e-9):.1f}x real time",
                          file=sys.stderr)
        ev = evaluate(args.clips, pred)
    summary = ev.summary()
    print(terminal_table(summary, per_clip=args.per_clip))
    if args.json:
        write_json_atomic(args.json, summary)
        print(f"wrote {args.json}")
    if args.report:
        print(f"wrote {write_report(ev, args.report)}")
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from ..config import load_store

    cfg = load_store(args.store)
    try:  # the model must be there too: a run would stop on it
        model = backend_model(cfg.detector.model, "auto", Path(args.store).parent)
    except WalkoutError as exc:
        raise WalkoutError(f"{args.store}: detector.model: {exc}") from None
    if cfg.world is None:
        n_plates = sum(len(s.plates) for s in cfg.shelves)
        print(f"{args.store}: ok ({cfg.camera.width}x{cfg.camera.height} @ "
              f"{cfg.camera.fps:g} fps, {len(cfg.shelves)} shelves, {n_plates} plates, "
              f"{len(cfg.catalogue)} products, model {model.name})")
        return 0
    from ..config.world import OUTSIDE

    world = cfg.world
    n_plates = sum(len(s.plates) for s in world.shelves)
    print(f"{args.store}: ok ({len(world.cameras)} cameras, {len(world.shelves)} shelves, "
          f"{n_plates} plates, {len(cfg.catalogue)} products, model {model.name})")
    for cam in world.cameras:
        view = cfg.view(cam.id)
        doors = [name for name, poly in (("entrance", view.zones.entrance),
                                         ("exit", view.zones.exit))
                 if not np.array_equal(poly, OUTSIDE)]
        print(f"  camera {cam.id}: {cam.width}x{cam.height} @ {cam.fps:g} fps, {cam.view}, "
              f"sees {sum(not np.array_equal(s.polygon, OUTSIDE) for s in view.shelves)} of "
              f"{len(world.shelves)} shelves"
              f"{', the ' + ' and the '.join(doors) if doors else ', no door'}")
    return 0


def add_parsers(sub) -> None:
    e = sub.add_parser("eval", help="cart accuracy of predictions on labelled clips")
    e.add_argument("--clips", nargs="+", required=True,
                   help="labelled clip folders, or folders of clips")
    e.add_argument("--pred", default=None,
                   help="folder with one sub-folder per clip, named like the clip, holding "
                        "receipts.json, events.jsonl and tracks.txt (default: run the "
                        "pipeline on each clip first)")
    e.add_argument("--out", default=None,
                   help="without --pred: keep the pipeline's outputs here (default: a "
                        "temporary folder)")
    backend_option(e)
    trust_option(e)
    e.add_argument("--device", default=None, help="without --pred: cpu, cuda:0 ...")
    e.add_argument("--json", default=None, help="write the scores as JSON")
    e.add_argument("--report", default=None, help="write report.md and plots into this folder")
    e.add_argument("--per-clip", action="store_true", help="a table row per clip too")
    e.set_defaults(func=cmd_eval)

    v = sub.add_parser("validate", help="validate a store.yaml")
    v.add_argument("store", help="path to store.yaml")
    v.set_defaults(func=cmd_validate)
