"""Commands that run one stage of the line on files: ``detect`` (video -> person boxes),
``track`` (boxes -> tracks), ``floor`` (every camera of a multi-camera store -> people on
the floor), ``weight-events`` (shelf weights -> weight and item events)."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path

from ..errors import WalkoutError
from .common import backend_model, backend_option, image_size, positive, trust_option


def cmd_track(args: argparse.Namespace) -> int:
    import time

    import numpy as np

    from ..config import load_store
    from ..io import (
        check_out_file,
        format_mot_row,
        mot_seqinfo,
        read_mot_detections,
        write_text_atomic,
    )
    from ..track import make_tracker
    from ..types import Detections

    check_out_file(args.out)  # output paths first
    det = read_mot_detections(args.det)
    # frame rate and image size: the options, else the sequence's seqinfo.ini, else the
    # store's camera (image size), else 30 fps and no image size
    info = mot_seqinfo(args.det) or {}
    homography, image_size = None, info.get("image_size")
    if args.store:
        camera = load_store(args.store).camera
        homography = camera.homography
        image_size = image_size or (camera.width, camera.height)
    image_size = args.image_size or image_size
    frame_rate = args.frame_rate or info.get("frame_rate", 30.0)
    tracker = make_tracker(args.preset, frame_rate=frame_rate, homography=homography,
                           image_size=image_size)
    n_frames = int(det[:, 0].max()) if len(det) else 0  # at most io.MAX_FRAME
    # the rows of each frame that has any (frames are in order); the others share one empty
    # Detections, so a long stretch without boxes costs little time and no memory
    frames, first = np.unique(det[:, 0].astype(np.int64), return_index=True)
    spans = dict(zip(frames.tolist(), zip(first.tolist(), [*first[1:].tolist(), len(det)])))
    none = Detections(np.zeros((0, 4)), np.zeros(0), np.zeros(0, np.int64))
    lines = []
    t0 = time.perf_counter()
    for f in range(1, n_frames + 1):
        if f not in spans:
            out = tracker.update(none)
        else:
            r = det[slice(*spans[f])]
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


def cmd_floor(args: argparse.Namespace) -> int:
    import time

    from ..config import load_store
    from ..io import check_out_dir, format_mot_row, write_lines_atomic
    from ..multicam import floor_tracks, open_cameras
    from .common import make_detector

    folder = Path(args.folder)
    out = check_out_dir(args.out)  # output paths first
    store = load_store(args.store or folder / "store.yaml")
    feeds = open_cameras(store, folder)
    detector = make_detector(store, args.model, args.backend, args.device, args.trust_model)
    floor = ["t,shopper,x,y\n"]
    rows: dict[str, list[str]] = {f.spec.id: [] for f in feeds}
    ids: set[int] = set()
    n = 0

    def stopped(cam: str, t: float) -> None:
        print(f"camera {cam}: its video ended at {t:.2f} s; going on with the others",
              file=sys.stderr)

    t0 = time.perf_counter()
    for t, people, seen in floor_tracks(store, feeds, detector, on_stop=stopped):
        n += 1
        for tid, x, y in people:
            floor.append(f"{t:.3f},{tid},{x:.3f},{y:.3f}\n")
            ids.add(tid)
        for cam, (index, boxes) in seen.items():
            rows[cam] += [format_mot_row(index + 1, tid, (b[0], b[1], b[2] - b[0], b[3] - b[1]))
                          + "\n" for tid, b in boxes]
    seconds = time.perf_counter() - t0
    out.mkdir(parents=True, exist_ok=True)
    write_lines_atomic(out / "tracks_floor.csv", floor)
    for cam, lines in rows.items():
        write_lines_atomic(out / f"tracks_{cam}.txt", lines)
    print(f"{out}: {len(ids)} people on the floor over {n} ticks from {len(feeds)} cameras "
          f"({n / seconds if seconds > 0 else 0:.1f} ticks/s): tracks_floor.csv, "
          + ", ".join(f"tracks_{c}.txt" for c in rows))
    return 0


def cmd_weight_events(args: argparse.Namespace) -> int:
    from ..config import load_store
    from ..io import check_out_file, event_record, write_text_atomic
    from ..sensors import (
        ItemIdentifier,
        Planogram,
        ReadStats,
        WeightEventDetector,
        check_plates,
        iter_weights,
        shelves_by_prefix,
    )

    check_out_file(args.out)  # output paths first
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
        from ..sensors.live import iter_live, open_lines

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
    from ..config import load_store
    from ..detect import Detector, StaticBoxFilter
    from ..io import check_out_file, format_mot_row, write_text_atomic
    from ..sources import open_source

    check_out_file(args.out)  # output paths first
    src_path = Path(args.source)
    store_yaml = Path(args.store) if args.store else src_path / "store.yaml"
    # the model and its settings: the store's (a clip's own store.yaml), unless --model
    # names another; else the real-footage person model at ultralytics' defaults. Options
    # given override either.
    model, classes, conf, imgsz = "models/person-yolov8s.pt", None, 0.25, 640
    base, trusted = None, args.trust_model
    if (args.store or store_yaml.is_file()) and not args.model:
        d = load_store(store_yaml).detector
        model, classes, conf, imgsz = d.model, list(d.person_classes), d.confidence, d.imgsz
        base, trusted = store_yaml.parent, trusted or d.trust
    detector = Detector(backend_model(args.model or model, args.backend, base),
                        classes=args.classes or classes,
                        conf=conf if args.conf is None else args.conf,
                        imgsz=args.imgsz or imgsz, device=args.device,
                        trusted=trusted).load()
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
          f"{detector.path.name}, imgsz {detector.settings.imgsz})")
    return 0


def add_parsers(sub) -> None:
    d = sub.add_parser("detect", help="person detections of a video, image folder or clip")
    d.add_argument("source", help="a video file, a folder of images, or a clip folder")
    d.add_argument("--model", default=None,
                   help="YOLO .pt or .onnx (default: the store's model, else "
                        "models/person-yolov8s.pt)")
    d.add_argument("--store", default=None,
                   help="store.yaml whose model and detector settings to use (default: a "
                        "clip's own; not with --model)")
    d.add_argument("--out", required=True, help="MOTChallenge detections to write")
    d.add_argument("--imgsz", type=int, default=None,
                   help="model input size (default: the store's, else 640)")
    d.add_argument("--conf", type=float, default=None,
                   help="least confidence kept (default: the store's, else 0.25)")
    d.add_argument("--classes", type=int, nargs="+", default=None,
                   help="model classes that count as a person (default: the store's, else "
                        "classes named 'person', or all)")
    backend_option(d)
    trust_option(d)
    d.add_argument("--device", default=None, help="cpu, cuda:0 ... (default: GPU if any)")
    d.add_argument("--batch", type=int, default=8, help="frames per model call (8)")
    d.add_argument("--static-filter", action="store_true",
                   help="drop boxes that never move (shelf edges; see docs/cli.md)")
    d.set_defaults(func=cmd_detect)

    t = sub.add_parser("track", help="track MOTChallenge detections into MOTChallenge tracks")
    t.add_argument("--det", required=True, help="detections: frame,-1,x,y,w,h,score,...")
    t.add_argument("--out", required=True, help="tracks file to write (written atomically)")
    t.add_argument("--preset", choices=["default", "sort"], default="default",
                   help="default: walkout's tracker; sort: the original SORT")
    t.add_argument("--frame-rate", type=positive, default=None,
                   help="video frame rate; the lost-track buffer scales with it (default: "
                        "the sequence's seqinfo.ini, else 30)")
    t.add_argument("--image-size", type=image_size, default=None, metavar="WxH",
                   help="image width x height in pixels; a track that walked out through "
                        "the border is then ended at once (default: the sequence's "
                        "seqinfo.ini, else the store's camera, else unknown)")
    t.add_argument("--store", default=None,
                   help="store.yaml whose homography enables floor-metre gating")
    t.set_defaults(func=cmd_track)

    f = sub.add_parser("floor", help="people on the floor from every camera of a "
                                     "multi-camera store (tracks_floor.csv, tracks_<cam>.txt)")
    f.add_argument("folder", help="a folder with a store.yaml that lists cameras: and each "
                                  "camera's video (its source, or <id>.mp4)")
    f.add_argument("--store", default=None, help="the store.yaml (default: FOLDER/store.yaml)")
    f.add_argument("--out", required=True, help="folder for the outputs")
    f.add_argument("--model", default=None, help="YOLO .pt or .onnx (default: the store's)")
    backend_option(f)
    trust_option(f)
    f.add_argument("--device", default=None, help="cpu, cuda:0 ... (default: GPU if any)")
    f.set_defaults(func=cmd_floor)

    w = sub.add_parser("weight-events", help="shelf weights -> weight and item events")
    w.add_argument("input", help="weights.csv, an AiFi plate_data .jsonl, a clip folder, or "
                                 "a live source udp://HOST:PORT | serial:///dev/ttyUSB0")
    w.add_argument("--format", choices=["csv", "aifi"], default=None,
                   help="input format (default: from the suffix; .jsonl is aifi)")
    w.add_argument("--store", default=None, help="store.yaml: shelves, plates, catalogue")
    w.add_argument("--products", default=None, help="AiFi products.jsonl (with --planogram)")
    w.add_argument("--planogram", default=None, help="AiFi planogram.jsonl (with --products)")
    w.add_argument("--seconds", type=positive, default=None,
                   help="live sources: stop after this many seconds (default: never)")
    w.add_argument("--out", required=True,
                   help="events.jsonl to write (files: atomically at the end; live: "
                        "appended and flushed per event)")
    w.set_defaults(func=cmd_weight_events)
