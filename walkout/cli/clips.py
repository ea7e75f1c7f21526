"""Commands that make and check labelled clips: ``simulate``, ``check-clip``,
``train-detector`` (trains the simulator's person detector on simulated frames)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..errors import WalkoutError
from .common import size, trust_option


def cmd_simulate(args: argparse.Namespace) -> int:
    from ..io import check_out_dir
    from ..sim import simulate
    from ..sim.world import parse_world

    world = None if args.world is None else parse_world(args.world, args.seed)
    check_out_dir(args.out)  # output paths first
    clip = simulate(args.preset, args.seed, args.out, duration=args.duration,
                    shoppers=args.shoppers, fps=args.fps, size=args.size,
                    progress=sys.stderr.isatty() and not args.quiet, world=world,
                    cameras=args.cameras)
    if args.cameras > 1:
        print(f"wrote labelled store of {args.cameras} cameras {clip} "
              f"(walkout run {clip} reads it)")
    else:
        print(f"wrote labelled clip {clip.root}")
    return 0


def cmd_check_clip(args: argparse.Namespace) -> int:
    from ..io import check_out_file, write_text_atomic
    from ..sim.check import check_clip, clip_features

    if args.json:
        check_out_file(args.json, "--json")  # output paths first
    status = 0
    report = {}
    for root in args.clips:
        if not Path(root).is_dir():
            raise WalkoutError(f"{root}: not a folder (expected a labelled clip)")
        problems = check_clip(root)
        feats = clip_features(root) if not problems else {}
        report[str(root)] = {"problems": problems, "features": feats}
        if problems:
            status = 1
            print(f"{root}: {len(problems)} problem(s)")
            for p in problems:
                print(f"  - {p}")
        else:
            print(f"{root}: ok  " + "  ".join(f"{k}={v}" for k, v in feats.items()))
    if args.json:
        write_text_atomic(args.json, json.dumps(report, indent=2) + "\n")
    return status


def cmd_train_detector(args: argparse.Namespace) -> int:
    from ..detect import require_ultralytics
    from ..io import check_out_file
    from ..train import train_detector

    require_ultralytics("walkout train-detector")  # before minutes of simulating frames
    check_out_file(args.out)
    if args.init is not None:  # a pickle: only a shipped or trusted one (walkout.trust)
        from ..detect import resolve_model
        from ..trust import check_checkpoint

        said = check_checkpoint(resolve_model(args.init), args.trust_model)
        if said:
            print(f"walkout: {said}", file=sys.stderr)
    check_out_file(Path(args.out).with_suffix(".onnx"), "--out (its ONNX export)")
    out = train_detector(args.out, frames=args.frames, epochs=args.epochs, imgsz=args.imgsz,
                         device=args.device, batch=args.batch, seed=args.seed,
                         init=args.init, crowd_share=args.crowd, reach_share=args.reach,
                         world_share=args.worlds, cameras=args.cameras,
                         progress=not args.quiet)
    print(f"wrote {out} and {out.with_suffix('.onnx')}")
    return 0


def add_parsers(sub) -> None:
    s = sub.add_parser("simulate", help="write a labelled clip from the store simulator")
    s.add_argument("--preset", required=True, choices=["single", "pair", "busy"],
                   help="single: 1 shopper, 3 picks; pair: 2 shoppers with a put-back; "
                        "busy: 6+ shoppers over 2 minutes")
    s.add_argument("--seed", type=int, required=True, help="random seed (same seed, same clip)")
    s.add_argument("--duration", type=float, default=None,
                   help="clip length in seconds (default: busy 120, others until the last "
                        "shopper has left)")
    s.add_argument("--shoppers", type=int, default=None, help="number of shoppers")
    s.add_argument("--world", default=None, metavar="random|N",
                   help="draw the store and crowd (timing, bodies, camera, light, image "
                        "quality, load cells, clock offset) from wide ranges: 'random' draws "
                        "the world numbered like --seed, N draws world N; recorded in "
                        "gt/world.json (default: the presets' fixed world)")
    s.add_argument("--cameras", type=int, default=1, metavar="N",
                   help="1: the single top-down clip (default); 2-4: the scene seen by N "
                        "cameras in perspective, one straight down and the others oblique "
                        "from the corners: a folder of N videos and a store.yaml in world "
                        "metres, for `walkout run FOLDER`")
    s.add_argument("--fps", type=float, default=10.0, help="video frame rate (default 10)")
    s.add_argument("--size", type=size, default=(640, 480), help="WIDTHxHEIGHT (640x480)")
    s.add_argument("--out", required=True, help="output clip folder")
    s.set_defaults(func=cmd_simulate)

    c = sub.add_parser("check-clip", help="check labelled clips for consistency")
    c.add_argument("clips", nargs="+", help="clip folders")
    c.add_argument("--json", default=None, help="also write the report as JSON")
    c.set_defaults(func=cmd_check_clip)

    tr = sub.add_parser("train-detector", help="train a person detector on simulator frames")
    tr.add_argument("--out", default="walkout-out/detector/walkout-sim.pt",
                   help="the trained .pt, with its .onnx export beside it (default "
                        "walkout-out/detector/walkout-sim.pt; the shipped models/ are never "
                        "written unless named)")
    tr.add_argument("--frames", type=int, default=1500, help="simulated frames (1500)")
    tr.add_argument("--epochs", type=int, default=30, help="training epochs (30)")
    tr.add_argument("--imgsz", type=int, default=320, help="input size (320)")
    tr.add_argument("--batch", type=int, default=16, help="batch size (16)")
    tr.add_argument("--device", default=None, help="cpu, cuda:0 ... (default: GPU if any)")
    tr.add_argument("--seed", type=int, default=0, help="data and training seed (0)")
    tr.add_argument("--init", default=None,
                    help="fine-tune this trained model instead of starting from scratch")
    trust_option(tr)
    tr.add_argument("--crowd", type=float, default=0.0,
                    help="share of frames picked where two shoppers (nearly) touch (0)")
    tr.add_argument("--reach", type=float, default=0.0,
                    help="share of frames picked where a shopper's hand is in a shelf, "
                         "beside someone when possible (0)")
    tr.add_argument("--worlds", type=float, default=0.0,
                    help="share of scenarios in drawn worlds (other cameras, light, image "
                         "quality, bodies; 0)")
    tr.add_argument("--cameras", type=int, default=1, metavar="N",
                    help="1: the single top-down view (default); 2-4: every view of the "
                         "simulator's store of N cameras, in perspective")
    tr.set_defaults(func=cmd_train_detector)
