"""The `walkout` command.

Every sub-command is a small function that parses nothing itself: argparse hands it typed
values. Errors caused by input (a bad store.yaml, a missing file) are WalkoutErrors: they
print one line on stderr and exit with code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import logging
import sys
import time
from pathlib import Path

from . import __version__
from .errors import WalkoutError

log = logging.getLogger("walkout")


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        msg = f"expected WIDTHxHEIGHT, e.g. 640x480, got {text!r}"
        raise argparse.ArgumentTypeError(msg) from None
    if w < 64 or h < 48:
        raise argparse.ArgumentTypeError(f"expected at least 64x48, got {text!r}")
    return w, h


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}")
    return value


def cmd_simulate(args: argparse.Namespace) -> int:
    from .sim import simulate

    clip = simulate(args.preset, args.seed, args.out, duration=args.duration,
                    shoppers=args.shoppers, fps=args.fps, size=args.size,
                    progress=sys.stderr.isatty() and not args.quiet)
    print(f"wrote labelled clip {clip.root}")
    return 0


def cmd_check_clip(args: argparse.Namespace) -> int:
    from .sim.check import check_clip, clip_features

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
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    return status


def cmd_track(args: argparse.Namespace) -> int:
    import time

    import numpy as np

    from .config import load_store
    from .io import format_mot_row, read_mot_detections, write_text_atomic
    from .track import make_tracker
    from .types import Detections

    det = read_mot_detections(args.det)
    homography = None
    if args.store:
        homography = load_store(args.store).camera.homography
    tracker = make_tracker(args.preset, frame_rate=args.frame_rate, homography=homography)
    n_frames = int(det[:, 0].max()) if len(det) else 0
    starts = np.searchsorted(det[:, 0], np.arange(1, n_frames + 2))
    lines = []
    t0 = time.perf_counter()
    for f in range(1, n_frames + 1):
        r = det[starts[f - 1]:starts[f]]
        boxes = np.c_[r[:, 2], r[:, 3], r[:, 2] + r[:, 4], r[:, 3] + r[:, 5]]
        out = tracker.update(Detections(boxes, r[:, 6], np.zeros(len(r), np.int64)))
        for b, tid, s in zip(out.xyxy, out.tracker_id, out.confidence):
            lines.append(format_mot_row(f, int(tid), (b[0], b[1], b[2] - b[0], b[3] - b[1]),
                                        float(s)))
    seconds = time.perf_counter() - t0
    write_text_atomic(args.out, "".join(x + "\n" for x in lines))
    ids = {ln.split(",")[1] for ln in lines}
    rate = n_frames / seconds if seconds > 0 else float("inf")
    print(f"{args.out}: {len(lines)} boxes, {len(ids)} tracks over {n_frames} frames "
          f"({rate:.0f} frames/s, preset {args.preset})")
    return 0


def cmd_weight_events(args: argparse.Namespace) -> int:
    from .config import load_store
    from .io import event_record, write_text_atomic
    from .sensors import (
        ItemIdentifier,
        Planogram,
        ReadStats,
        WeightEventDetector,
        check_plates,
        iter_weights,
        shelves_by_prefix,
    )

    src = Path(args.input)
    live = "://" in args.input
    store_path = args.store
    if src.is_dir():  # a labelled clip
        store_path = store_path or src / "store.yaml"
        src = src / "weights.csv"
    if args.products or args.planogram:
        if not (args.products and args.planogram):
            raise WalkoutError("--products and --planogram go together (AiFi product and "
                               "planogram JSON lines)")
        planogram = Planogram.from_aifi(args.products, args.planogram)
        rate = 60.0
    elif store_path:
        store = load_store(store_path)
        planogram, rate = Planogram.from_store(store), store.sensors.rate_hz
    else:
        raise WalkoutError("expected --store store.yaml, or --products and --planogram")
    stats = ReadStats(args.input)
    if live:
        from .sensors.live import iter_live, open_lines

        lines = open_lines(args.input)
        plate_ids = [q for pids in planogram.shelves.values() for q in pids]
        blocks = iter_live(lines, plate_ids, rate, stats, max_s=args.seconds)
    else:
        expected = [q for pids in planogram.shelves.values() for q in pids]
        blocks = check_plates(iter_weights(src, args.format, stats), expected, stats)
    detector = WeightEventDetector(planogram.shelves, rate, shelf_of=shelves_by_prefix)
    identifier = ItemIdentifier(planogram)
    records, n_weight, n_item, n_unexplained = [], 0, 0, 0

    def weight_events():
        for block in blocks:
            yield from detector.update(block)
        yield from detector.flush()

    with contextlib.ExitStack() as stack:
        out = stack.enter_context(Path(args.out).open("a", encoding="utf-8")) if live else None
        for ev in weight_events():
            items = identifier.identify(ev)
            n_weight += 1
            n_item += len(items)
            n_unexplained += sum(i.unexplained for i in items)
            recs = [event_record(ev)] + [event_record(i) for i in items]
            if out is not None:  # live: every event reaches the disk at once
                out.write("".join(json.dumps(r) + "\n" for r in recs))
                out.flush()
            records.extend(recs)
    if not live:
        write_text_atomic(args.out, "".join(json.dumps(r) + "\n" for r in records))
    print(stats.summary(), file=sys.stderr)
    print(f"{args.out}: {n_weight} weight events, {n_item} item events "
          f"({n_unexplained} unexplained)")
    return 0


def cmd_detect(args: argparse.Namespace) -> int:
    from .config import load_store
    from .detect import Detector, StaticBoxFilter
    from .io import format_mot_row, write_text_atomic
    from .sources import open_source

    model, classes = args.model, args.classes
    src_path = Path(args.source)
    store_yaml = src_path / "store.yaml"
    if model is None and src_path.is_dir() and store_yaml.is_file():  # a clip names its model
        store = load_store(store_yaml)
        model, classes = store.detector.model, classes or list(store.detector.person_classes)
    detector = Detector(model or "models/person-yolov8s.pt", classes=classes, conf=args.conf,
                        imgsz=args.imgsz, device=args.device)
    source = open_source(args.source)
    static = StaticBoxFilter() if args.static_filter else None
    frames = iter(source)
    if sys.stderr.isatty() and not args.quiet:
        from tqdm import tqdm

        frames = tqdm(frames, total=len(source) or None, desc="detect", unit="frame")
    rows, n_boxes = [], 0
    batch: list = []

    def flush() -> None:
        nonlocal n_boxes
        for fr, dets in zip(batch, detector([f.image for f in batch])):
            if static is not None:
                dets = static.update(dets, fr.t)
            n_boxes += len(dets)
            for (x0, y0, x1, y1), score in zip(dets.xyxy, dets.confidence):
                rows.append(format_mot_row(fr.index + 1, -1, (x0, y0, x1 - x0, y1 - y0),
                                           float(score)))
        batch.clear()

    for fr in frames:
        batch.append(fr)
        if len(batch) == args.batch:
            flush()
    flush()
    write_text_atomic(args.out, "".join(r + "\n" for r in rows))
    print(f"{args.out}: {n_boxes} person boxes ({detector.backend} backend, "
          f"{detector.path.name}, imgsz {args.imgsz})")
    return 0


def cmd_train_detector(args: argparse.Namespace) -> int:
    from .train import train_detector

    out = train_detector(args.out, frames=args.frames, epochs=args.epochs, imgsz=args.imgsz,
                         device=args.device, batch=args.batch, seed=args.seed,
                         init=args.init, crowd_share=args.crowd, reach_share=args.reach,
                         progress=not args.quiet)
    print(f"wrote {out} and {out.with_suffix('.onnx')}")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    import tempfile

    from .evaluate import evaluate, find_clips
    from .io import write_json_atomic
    from .report import terminal_table, write_report

    with tempfile.TemporaryDirectory() as tmp:
        pred = args.pred
        if pred is None:  # run the pipeline on each clip first
            from .config import load_store
            from .pipeline import run

            pred = Path(args.out or tmp)
            for clip in find_clips(args.clips):
                store = load_store(clip / "store.yaml")
                weights = clip / "weights.csv"
                res = run(clip, store, pred / clip.name,
                          make_detector(store, None, args.backend, args.device),
                          weights=weights if weights.is_file() else None)
                print(f"ran {clip.name}: {len(res.receipts)} receipts, "
                      f"{res.video_s / max(res.wall_s, 1e-9):.1f}x real time", file=sys.stderr)
        ev = evaluate(args.clips, pred)
    summary = ev.summary()
    print(terminal_table(summary, per_clip=args.per_clip))
    if args.json:
        write_json_atomic(args.json, summary)
        print(f"wrote {args.json}")
    if args.report:
        print(f"wrote {write_report(ev, args.report)}")
    return 0


def _display_show(title: str):
    """A ``show(image) -> bool`` for a window, or None (with a clear note) without a display."""
    import os

    import cv2

    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY")
                                                  or os.environ.get("WAYLAND_DISPLAY")):
        print("walkout: --show: no display (DISPLAY is not set); running without a window",
              file=sys.stderr)
        return None
    try:
        cv2.namedWindow(title, cv2.WINDOW_NORMAL)
    except cv2.error as exc:
        print(f"walkout: --show: cannot open a window ({str(exc).splitlines()[0]}); running "
              "without one", file=sys.stderr)
        return None

    def show(img) -> bool:
        cv2.imshow(title, img)
        return (cv2.waitKey(1) & 0xFF) not in (ord("q"), 27)

    return show


def make_detector(store, model: str | None, backend: str, device: str | None):
    """The store's detector (or ``model``), preferring the ONNX export beside a .pt when
    ``backend`` is auto and onnxruntime is installed."""
    import importlib.util

    from .detect import Detector, resolve_model

    path = resolve_model(model or store.detector.model)
    if backend != "torch" and path.suffix == ".pt" and path.with_suffix(".onnx").is_file():
        if backend == "onnx" or importlib.util.find_spec("onnxruntime") is not None:
            path = path.with_suffix(".onnx")
    elif backend == "onnx" and path.suffix != ".onnx":
        raise WalkoutError(f"{path}: --backend onnx needs {path.with_suffix('.onnx').name} "
                           "beside it (walkout train-detector exports one)")
    d = store.detector
    return Detector(path, classes=list(d.person_classes), conf=d.confidence, imgsz=d.imgsz,
                    device=device)


def cmd_run(args: argparse.Namespace) -> int:
    from .config import load_store
    from .pipeline import run

    src = Path(args.source)
    store_path, weights = args.store, args.weights
    if src.is_dir() and (src / "video.mp4").is_file():  # a labelled clip
        store_path = store_path or src / "store.yaml"
        if weights is None and (src / "weights.csv").is_file():
            weights = src / "weights.csv"
    if store_path is None:
        raise WalkoutError(f"{src}: not a clip folder, so --store store.yaml is needed")
    fusion = _fusion_params(args)
    store = load_store(store_path)
    detector = make_detector(store, args.model, args.backend, args.device)
    out = Path(args.out)
    video_out = None
    if args.save_video:
        from .annotate import VideoOut

        video_out = VideoOut(out / "annotated.mp4", store.camera.fps,
                             (store.camera.width, store.camera.height))
    show = _display_show("walkout") if args.show else None
    try:
        res = run(src, store, out, detector, weights=weights, video_out=video_out, show=show,
                  progress=sys.stderr.isatty() and not args.quiet, fusion=fusion)
    except BaseException:
        if video_out is not None:
            video_out.abort()
        raise
    if video_out is not None:
        res.outputs.append(video_out.close())
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
    return 0


def _fusion_params(args: argparse.Namespace):
    """The fusion settings of ``--ambiguous-below`` (None: the defaults)."""
    if args.ambiguous_below is None:
        return None
    from .fusion import FusionParams

    if not 0.0 <= args.ambiguous_below <= 1.0:
        raise WalkoutError(f"--ambiguous-below: expected a confidence from 0 to 1, got "
                           f"{args.ambiguous_below:g}")
    return FusionParams(ambiguous_below=args.ambiguous_below)


def cmd_live(args: argparse.Namespace) -> int:
    from .config import load_store
    from .live import KeyboardScale, LineScale, LiveCamera, live, read_keys

    if args.headless and not args.out:
        raise WalkoutError("--headless needs --out DIR (the annotated video and the outputs "
                           "go there)")
    store = load_store(args.store)
    if args.classes is not None:
        store = dataclasses.replace(store, detector=dataclasses.replace(
            store.detector, person_classes=tuple(args.classes)))
    keys = read_keys(args.keys) if args.keys else []
    fusion = _fusion_params(args)
    detector = make_detector(store, args.model, args.backend, args.device)
    camera = LiveCamera(args.source, realtime=not args.no_realtime)
    scale = None
    try:
        if args.scale == "keyboard":
            scale = KeyboardScale(store)
        else:
            scale = LineScale(args.scale, store, lambda: time.monotonic() - camera.t0)
        video_out = show = None
        if args.headless:
            from .annotate import VideoOut

            probe = camera.read(timeout=10.0)
            if probe is None:
                raise WalkoutError(f"{args.source}: no frames came from it")
            h, w = probe[0].image.shape[:2]
            video_out = VideoOut(Path(args.out) / "annotated.mp4", camera.fps, (w, h))
            camera.put_back(probe)
        else:
            show = _display_keys("walkout live")
            if show is None:
                raise WalkoutError("no display for the live window; use --headless --out DIR")
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
    return 0


def _display_keys(title: str):
    """A ``show(image) -> key`` window ('' no key, None to stop), or None without a display."""
    import cv2

    show = _display_show(title)
    if show is None:
        return None

    def show_keys(img):
        cv2.imshow(title, img)
        k = cv2.waitKey(1) & 0xFF
        if k in (ord("q"), 27):
            return None
        return chr(k) if k != 0xFF else ""

    return show_keys


def cmd_validate(args: argparse.Namespace) -> int:
    from .config import load_store

    cfg = load_store(args.store)
    n_plates = sum(len(s.plates) for s in cfg.shelves)
    print(f"{args.store}: ok ({cfg.camera.width}x{cfg.camera.height} @ {cfg.camera.fps:g} fps, "
          f"{len(cfg.shelves)} shelves, {n_plates} plates, {len(cfg.catalogue)} products)")
    return 0


def _ambiguous_below_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ambiguous-below", type=float, default=None, metavar="C",
                        help="flag a receipt ambiguous when one of its items was decided with "
                             "a confidence under C, 0 to 1 (default 0.25; README: the "
                             "trade-off)")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="walkout",
        description="Just Walk Out checkout: store video + shelf weights -> receipts.",
    )
    p.add_argument("--version", action="version", version=f"walkout {__version__}")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    s = sub.add_parser("simulate", help="write a labelled clip from the store simulator")
    s.add_argument("--preset", required=True, choices=["single", "pair", "busy"],
                   help="single: 1 shopper, 3 picks; pair: 2 shoppers with a put-back; "
                        "busy: 6+ shoppers over 2 minutes")
    s.add_argument("--seed", type=int, required=True, help="random seed (same seed, same clip)")
    s.add_argument("--duration", type=float, default=None,
                   help="clip length in seconds (default: busy 120, others until the last "
                        "shopper has left)")
    s.add_argument("--shoppers", type=int, default=None, help="number of shoppers")
    s.add_argument("--fps", type=float, default=10.0, help="video frame rate (default 10)")
    s.add_argument("--size", type=_size, default=(640, 480), help="WIDTHxHEIGHT (640x480)")
    s.add_argument("--out", required=True, help="output clip folder")
    s.set_defaults(func=cmd_simulate)

    c = sub.add_parser("check-clip", help="check labelled clips for consistency")
    c.add_argument("clips", nargs="+", help="clip folders")
    c.add_argument("--json", default=None, help="also write the report as JSON")
    c.set_defaults(func=cmd_check_clip)

    t = sub.add_parser("track", help="track MOTChallenge detections into MOTChallenge tracks")
    t.add_argument("--det", required=True, help="detections: frame,-1,x,y,w,h,score,...")
    t.add_argument("--out", required=True, help="tracks file to write (written atomically)")
    t.add_argument("--preset", choices=["default", "sort"], default="default",
                   help="default: walkout's tracker; sort: the original SORT")
    t.add_argument("--frame-rate", type=_positive, default=30.0,
                   help="video frame rate; the lost-track buffer scales with it (30)")
    t.add_argument("--store", default=None,
                   help="store.yaml whose homography enables floor-metre gating")
    t.set_defaults(func=cmd_track)

    w = sub.add_parser("weight-events", help="shelf weights -> weight and item events")
    w.add_argument("input", help="weights.csv, an AiFi plate_data .jsonl, a clip folder, or "
                                 "a live source udp://HOST:PORT | serial:///dev/ttyUSB0")
    w.add_argument("--format", choices=["csv", "aifi"], default=None,
                   help="input format (default: from the suffix; .jsonl is aifi)")
    w.add_argument("--store", default=None, help="store.yaml: shelves, plates, catalogue")
    w.add_argument("--products", default=None, help="AiFi products.jsonl (with --planogram)")
    w.add_argument("--planogram", default=None, help="AiFi planogram.jsonl (with --products)")
    w.add_argument("--seconds", type=_positive, default=None,
                   help="live sources: stop after this many seconds (default: never)")
    w.add_argument("--out", required=True,
                   help="events.jsonl to write (files: atomically at the end; live: "
                        "appended and flushed per event)")
    w.set_defaults(func=cmd_weight_events)

    d = sub.add_parser("detect", help="person detections of a video, image folder or clip")
    d.add_argument("source", help="a video file, a folder of images, or a clip folder")
    d.add_argument("--model", default=None,
                   help="YOLO .pt or .onnx (default: a clip's store.yaml model, else "
                        "models/person-yolov8s.pt)")
    d.add_argument("--out", required=True, help="MOTChallenge detections to write")
    d.add_argument("--imgsz", type=int, default=640, help="model input size (640)")
    d.add_argument("--conf", type=float, default=0.25, help="least confidence kept (0.25)")
    d.add_argument("--classes", type=int, nargs="+", default=None,
                   help="model classes that count as a person (default: classes named "
                        "'person', or all)")
    d.add_argument("--device", default=None, help="cpu, cuda:0 ... (default: GPU if any)")
    d.add_argument("--batch", type=int, default=8, help="frames per model call (8)")
    d.add_argument("--static-filter", action="store_true",
                   help="drop boxes that never move (shelf edges; see README)")
    d.set_defaults(func=cmd_detect)

    tr = sub.add_parser("train-detector", help="train a person detector on simulator frames")
    tr.add_argument("--out", default="models/walkout-sim.pt",
                    help="the .pt to write; the .onnx goes beside it")
    tr.add_argument("--frames", type=int, default=1500, help="simulated frames (1500)")
    tr.add_argument("--epochs", type=int, default=30, help="training epochs (30)")
    tr.add_argument("--imgsz", type=int, default=320, help="input size (320)")
    tr.add_argument("--batch", type=int, default=16, help="batch size (16)")
    tr.add_argument("--device", default=None, help="cpu, cuda:0 ... (default: GPU if any)")
    tr.add_argument("--seed", type=int, default=0, help="data and training seed (0)")
    tr.add_argument("--init", default=None,
                    help="fine-tune this trained model instead of starting from scratch")
    tr.add_argument("--crowd", type=float, default=0.0,
                    help="share of frames picked where two shoppers (nearly) touch (0)")
    tr.add_argument("--reach", type=float, default=0.0,
                    help="share of frames picked where a shopper's hand is in a shelf, "
                         "beside someone when possible (0)")
    tr.set_defaults(func=cmd_train_detector)

    r = sub.add_parser("run", help="store video + shelf weights -> receipts, events, tracks")
    r.add_argument("source", nargs="?", default=str(Path(__file__).resolve().parents[1]
                                                     / "sample_videos" / "pair"),
                   help="a labelled clip folder (its store.yaml and weights.csv are used) or a "
                        "video file (default: the shipped sample clip sample_videos/pair)")
    r.add_argument("--store", default=None, help="store.yaml (default: the clip's)")
    r.add_argument("--weights", default=None,
                   help="shelf weights, weights.csv (default: the clip's; none: video only)")
    r.add_argument("--model", default=None, help="detector model (default: the store's)")
    r.add_argument("--backend", choices=["auto", "torch", "onnx"], default="auto",
                   help="auto: the .onnx beside the model when onnxruntime is installed")
    r.add_argument("--device", default=None, help="cpu, cuda:0 ... (default: GPU if any)")
    r.add_argument("--out", default="walkout-out", help="output folder (walkout-out)")
    r.add_argument("--save-video", action="store_true", help="also write annotated.mp4")
    r.add_argument("--show", action="store_true", help="show the annotated video in a window")
    _ambiguous_below_option(r)
    r.set_defaults(func=cmd_run)

    lv = sub.add_parser("live", help="live demo: a webcam (or stream, or file) and a shelf scale")
    lv.add_argument("--source", default="0",
                    help="camera index, rtsp:// or http:// URL, or a video file played as a "
                         "camera (default 0)")
    lv.add_argument("--store", default=str(Path(__file__).resolve().parent / "stores"
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
    lv.add_argument("--backend", choices=["auto", "torch", "onnx"], default="auto")
    lv.add_argument("--device", default=None, help="cpu, cuda:0 ... (default: GPU if any)")
    lv.add_argument("--no-realtime", action="store_true",
                    help="a video file: hand over every frame instead of playing it at its "
                         "frame rate (tests, recordings)")
    _ambiguous_below_option(lv)
    lv.set_defaults(func=cmd_live)

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
    e.add_argument("--backend", choices=["auto", "torch", "onnx"], default="auto",
                   help="without --pred: the detector backend (see run)")
    e.add_argument("--device", default=None, help="without --pred: cpu, cuda:0 ...")
    e.add_argument("--json", default=None, help="write the scores as JSON")
    e.add_argument("--report", default=None, help="write report.md and plots into this folder")
    e.add_argument("--per-clip", action="store_true", help="a table row per clip too")
    e.set_defaults(func=cmd_eval)

    v = sub.add_parser("validate", help="validate a store.yaml")
    v.add_argument("store", help="path to store.yaml")
    v.set_defaults(func=cmd_validate)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except WalkoutError as exc:
        print(f"walkout: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("walkout: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
