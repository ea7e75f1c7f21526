"""The product's commands: ``run`` (recorded store video + shelf weights -> receipts) and
``live`` (a camera and a shelf scale, on the same pipeline)."""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

from ..errors import WalkoutError
from ..io import check_out_dir, read_run_settings, run_settings
from .common import (
    ambiguous_below_option,
    backend_option,
    display_keys,
    display_show,
    fusion_params,
    make_detector,
    trust_option,
)
from .web import keep_serving, serve_option, start_beside


def cmd_run(args: argparse.Namespace) -> int:
    from ..config import load_store
    from ..pipeline import run

    src = Path(args.source)
    out = check_out_dir(args.out) if args.out else None  # output paths first
    store_path, weights = args.store, args.weights
    if weights is not None and weights.lower() == "none":
        weights = False  # video only, even for a clip with weights
    if not (src.exists() or src.is_symlink()):
        raise WalkoutError(f"{src}: file not found (expected a clip folder, a video or an "
                           "image folder)")
    several = src.is_dir() and not (src / "video.mp4").is_file() and \
        (Path(store_path) if store_path else src / "store.yaml").is_file()
    if src.is_dir() and ((src / "video.mp4").is_file() or several):  # a clip, or cameras
        store_path = store_path or src / "store.yaml"
        if weights is None and (src / "weights.csv").is_file():
            weights = src / "weights.csv"
    weights = weights or None
    if store_path is None:
        raise WalkoutError(f"{src}: not a clip folder, so --store store.yaml is needed")
    if weights is not None and not Path(weights).is_file():
        raise WalkoutError(f"{weights}: file not found (expected the shelf weights, "
                           "weights.csv; --weights none runs on video only)")
    fusion = fusion_params(args)
    store = load_store(store_path)
    if store.world is not None and not src.is_dir():
        raise WalkoutError(f"{store_path}: a store of several cameras (expected the folder "
                           f"of its videos, not {src})")
    detector = make_detector(store, args.model, args.backend, args.device, args.trust_model)
    settings = run_settings(src, store_path, weights, detector, fusion)
    out = out or default_out(src, settings)
    detector.load()  # a bad model fails now, before anything is written
    server = start_beside(out, args.serve, args.token)
    if store.world is not None:
        from ..multicam import run_cameras

        def stopped(cam: str, t: float) -> None:
            print(f"walkout: warning: camera {cam}: its video ended at {t:.2f} s; going on "
                  "with the others", file=sys.stderr)

        show = display_show("walkout") if args.show else None
        res = run_cameras(src, store, out, detector, weights=weights, fusion=fusion,
                          settings=settings, on_stop=stopped, save_video=args.save_video,
                          show=show)
    else:
        show = display_show("walkout") if args.show else None
        res = run(src, store, out, detector, weights=weights, save_video=args.save_video,
                  show=show, progress=sys.stderr.isatty() and not args.quiet, fusion=fusion,
                  settings=settings)
    for line in res.warnings:
        print(f"walkout: warning: {line}", file=sys.stderr)
    if not weights:
        print("no shelf weights: video only, shelf visits are the events")
    for r in res.receipts:
        items = ", ".join(f"{x.qty} x {x.sku}" for x in r.lines) or "nothing"
        flags = f"  [{', '.join(r.flags)}]" if r.flags else ""
        print(f"{r.receipt_id}  shopper {r.shopper_id}  {items}  total {r.total:.2f}{flags}")
    for sid, items in res.open_carts.items():
        print(f"still inside: shopper {sid} with {sum(items.values())} item(s)")
    ms = res.timing.ms_per_frame()
    stages = "  ".join(f"{k} {v:.1f}" for k, v in ms.items())
    print(f"{res.frames} frames ({res.video_s:.1f} s of video) in {res.wall_s:.1f} s = "
          f"{res.video_s / max(res.wall_s, 1e-9):.2f}x real time ({detector.backend}, "
          f"{detector.path.name}); ms per frame: {stages}")
    print("wrote " + ", ".join(str(p) for p in res.outputs))
    keep_serving(server)
    return 0


DEFAULT_OUT = Path("walkout-out")


def default_out(src: Path, settings: dict) -> Path:
    """``walkout-out/<input name>``: the folder of an earlier run with the same settings
    (rerunning finishes or repeats it), else the first of ``<name>``, ``<name>-2``, ...
    that is new or empty. A different input or setting never lands in another run's
    folder, so it needs no ``--out``."""
    name = (src.resolve().parent.name if src.name == "video.mp4" else src.stem) or "run"
    for k in range(1, 1000):
        out = check_out_dir(DEFAULT_OUT / (name if k == 1 else f"{name}-{k}"))
        if not out.exists() or not any(out.iterdir()) or read_run_settings(out) == settings:
            return out
    raise WalkoutError(f"{DEFAULT_OUT}: 999 runs of {name} already (expected fewer; give "
                       "--out)")


def cmd_live(args: argparse.Namespace) -> int:
    from ..config import load_store
    from ..live import KeyboardScale, LineScale, LiveCamera, live, read_keys

    if args.headless and not args.out:
        raise WalkoutError("--headless needs --out DIR (the annotated video and the outputs "
                           "go there)")
    if args.out:
        check_out_dir(args.out)  # output paths first
    if args.serve and not args.out:
        raise WalkoutError("--serve needs --out DIR (the folder it serves)")
    store = load_store(args.store)
    if args.classes is not None:
        store = dataclasses.replace(store, detector=dataclasses.replace(
            store.detector, person_classes=tuple(args.classes)))
    keys = read_keys(args.keys) if args.keys else []
    fusion = fusion_params(args)
    detector = make_detector(store, args.model, args.backend, args.device,
                             args.trust_model).load()
    camera = LiveCamera(args.source, realtime=not args.no_realtime)
    scale = None
    try:
        if args.scale == "keyboard":
            scale = KeyboardScale(store)
        else:
            scale = LineScale(args.scale, store, lambda: time.monotonic() - camera.t0)
        video_out = show = None
        if args.headless:
            from ..annotate import VideoOut

            probe = camera.read(timeout=10.0)
            if probe is None:
                raise WalkoutError(f"{args.source}: no frames came from it")
            h, w = probe[0].image.shape[:2]
            video_out = VideoOut(Path(args.out) / "annotated.mp4", camera.fps, (w, h))
            camera.put_back(probe)
        else:
            show = display_keys("walkout live")
            if show is None:
                raise WalkoutError("no display for the live window; use --headless --out DIR")
        server = start_beside(args.out, args.serve, args.token)
        keymap = ", ".join(f"{k}: {q}" for k, q in getattr(scale, "keys", {}).items())
        print(f"live: {args.source}, scale {args.scale} ({keymap or 'board'}), "
              f"{detector.backend} {detector.path.name}; q or Esc to stop")
        try:
            res = live(camera, store, detector, scale, args.out, keys=keys,
                       max_frames=args.max_frames, video_out=video_out, show=show,
                       fusion=fusion)
        except BaseException:
            if video_out is not None:
                video_out.abort()
            raise
        if video_out is not None:
            video_out.close()
    finally:
        camera.close()
        if scale is not None:
            scale.close()
    print(f"{res.frames} frames in {res.wall_s:.1f} s ({res.frames / max(res.wall_s, 1e-9):.1f} "
          f"fps); dropped {res.dropped} of {res.captured} captured "
          f"({100 * res.drop_rate:.1f}%); latency capture->overlay p50 {res.latency(50):.0f} ms, "
          f"p95 {res.latency(95):.0f} ms; {len(res.receipts)} receipt(s)")
    if args.out:
        print(f"wrote {args.out}")
    keep_serving(server)
    return 0


def add_parsers(sub) -> None:
    r = sub.add_parser("run", help="store video + shelf weights -> receipts, events, tracks")
    r.add_argument("source", nargs="?", default=str(Path(__file__).resolve().parents[2]
                                                     / "sample_videos" / "pair"),
                   help="a labelled clip folder (its store.yaml and weights.csv are used) or a "
                        "video file (default: the shipped sample clip sample_videos/pair)")
    r.add_argument("--store", default=None, help="store.yaml (default: the clip's)")
    r.add_argument("--weights", default=None,
                   help="shelf weights, weights.csv (default: the clip's); none: video only")
    r.add_argument("--model", default=None, help="detector model (default: the store's)")
    backend_option(r)
    trust_option(r)
    r.add_argument("--device", default=None, help="cpu, cuda:0 ... (default: GPU if any)")
    r.add_argument("--out", default=None,
                   help="output folder (default: walkout-out/<input name>, a new one for "
                        "each different input or setting; a rerun reuses its own)")
    r.add_argument("--save-video", action="store_true", help="also write annotated.mp4")
    r.add_argument("--show", action="store_true", help="show the annotated video in a window")
    ambiguous_below_option(r)
    serve_option(r)
    r.set_defaults(func=cmd_run)

    lv = sub.add_parser("live", help="live demo: a webcam (or stream, or file) and a shelf scale")
    lv.add_argument("--source", default="0",
                    help="camera index, rtsp:// or http:// URL, or a video file played as a "
                         "camera (default 0)")
    lv.add_argument("--store", default=str(Path(__file__).resolve().parents[1] / "stores"
                                            / "webcam.yaml"),
                    help="store.yaml (default: the shipped webcam store, scaled to the camera)")
    lv.add_argument("--scale", default="keyboard",
                    help="keyboard (keys 1-3 take, shift+1-3 put back), udp://HOST:PORT or "
                         "serial:///dev/ttyUSB0 (default keyboard)")
    lv.add_argument("--keys", default=None,
                    help="replay timed key presses from a file: '<seconds> <key>' per line")
    lv.add_argument("--headless", action="store_true",
                    help="no window: write annotated.mp4 and the outputs to --out")
    lv.add_argument("--out", default=None, help="output folder (receipts, events, tracks)")
    lv.add_argument("--max-frames", type=int, default=None, help="stop after N frames")
    lv.add_argument("--model", default=None,
                    help="detector model (default: the store's, models/person-yolov8s.pt)")
    lv.add_argument("--classes", type=int, nargs="+", default=None,
                    help="model classes that count as a person (e.g. 0 for COCO models)")
    backend_option(lv)
    trust_option(lv)
    lv.add_argument("--device", default=None, help="cpu, cuda:0 ... (default: GPU if any)")
    lv.add_argument("--no-realtime", action="store_true",
                    help="a video file: hand over every frame instead of playing it at its "
                         "frame rate (tests, recordings)")
    ambiguous_below_option(lv)
    serve_option(lv)
    lv.set_defaults(func=cmd_live)
