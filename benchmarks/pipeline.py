"""End to end: `walkout run` on fresh simulated clips, scored by `walkout eval`; speed
side by side with ultralytics `model.track`; memory over a long clip.

    python benchmarks/pipeline.py [--seeds 700 701 ...] [--presets single pair busy]
                                  [--world random] [--work DIR] [--long 600] [--skip-speed]
                                  [--json out.json]

(a) Accuracy. Fresh seeds (700-709 by default; the pipeline's defaults were set on the
    three seed-0 sample clips) of every preset are simulated into --work (kept, so a rerun
    skips simulation while the simulator plans the same labels), run through the pipeline
    (sim model, ONNX backend when onnxruntime is installed) and scored with
    walkout.evaluate, per preset. Targets: single and pair
    receipt F1 1.0 with every receipt exact; busy F1 >= 0.97, exact >= 0.9, flagged <= 10%.
    With --world random each clip is simulated in a drawn world (`walkout simulate
    --world random`: seed s in world s; seeds 960-969 by default, on which nothing was
    chosen, like 1160-1169, 1170-1189 single and pair, 1180-1189 busy and 1190-1199, while 900-959,
    970-999, 1100-1159 and 1170-1179 busy were studied clip by
    clip): random timing, bodies, camera, light, image quality, load cells and clock
    offset. A clip with a wrong receipt is printed with its world's main parameters.
    --detection adds the detector's own precision and recall per clip (IoU 0.5 against
    gt/tracks.txt, at the store's confidence), to tell a detection loss from the rest.
(b) Speed on the CPU, one run, the same 640x480 10 fps clip (busy, seed 700) and model:
    walkout's pipeline with the ONNX backend and with the torch backend (per-stage ms per
    frame), against ultralytics `model.track` (ByteTrack, same weights and imgsz),
    detection + tracking only. Target: >= 1.0x real time, and everything but detection
    <= 10% of the frame time.
(c) Memory. A busy clip of --long seconds (600 = 10 minutes, 6,000 frames; 3600 for the
    hour of the target) is processed into an output folder, as `walkout run` does, and the
    resident set size read at 2 minutes and at the end of the video; the peak is reported
    too. Target: RSS at the end within 5 MB of RSS at 2 minutes.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from walkout.cli import make_detector
from walkout.config import load_store
from walkout.evaluate import Evaluation, evaluate_clip, load_prediction, load_truth
from walkout.io import ClipPaths, read_jsonl, read_mot
from walkout.pipeline import Pipeline, by_time, on_video_clock, run
from walkout.report import score_text
from walkout.sensors import iter_weights
from walkout.sim import make_scenario, simulate
from walkout.sim.simulate import gt_events, world_path
from walkout.sim.world import PRESET_WORLD, draw_world
from walkout.sources import open_source, prefetch

ROOT = Path(__file__).resolve().parents[1]


def clip(work: Path, preset: str, seed: int, duration: float | None = None,
         world: int | None = None) -> Path:
    """The clip of ``preset`` and ``seed`` (in drawn world ``world``, or the presets' one)
    in ``work``: simulated unless a clip there already has the labels and world today's
    simulator plans (a clip kept from an older simulator is made again rather than
    silently scored)."""
    name = (f"{preset}-{seed}" + (f"-{int(duration)}s" if duration else "")
            + ("" if world is None else f"-world{world}"))
    root = work / "clips" / name
    events = root / "gt" / "events.jsonl"
    w = None if world is None else draw_world(world)
    have_world = (world_path(ClipPaths(root)).is_file() and w is not None
                  and json.loads(world_path(ClipPaths(root)).read_text())["world"]
                  == json.loads(json.dumps(w.to_json())))
    if not ((root / "gt" / "receipts.json").is_file() and events.is_file()
            and (world is None or have_world)
            and read_jsonl(events) == gt_events(make_scenario(preset, seed, duration,
                                                              world=w or PRESET_WORLD))):
        simulate(preset, seed, root, duration=duration, world=w)
    return root


def world_summary(root: Path) -> str:
    """The main parameters of a clip's drawn world, on one line (empty for a preset's)."""
    path = world_path(ClipPaths(root))
    if not path.is_file():
        return ""
    rec = json.loads(path.read_text())
    w = rec["world"]
    lc = w["load_cells"]
    return (f"camera {w['camera_h_m']} m fov {w['fov_deg']} ({rec['view']['pixels_per_metre']}"
            f" px/m, bodies x{rec['view']['body_scale']}), light x{w['brightness']}, blur "
            f"{w['blur_px'][0]} px, noise {w['noise_sd'][0]}, jpeg {w['jpeg_quality']}; "
            f"speed {w['speed_ms']} m/s, min reach gap {rec['min_reach_gap_s']} s, hold "
            f"{w['hold_s']} s, one-by-one {w['one_by_one']}, room gap {w['room_gap_m']} m, "
            f"alike {rec['dressed_alike']}; cells white {lc['white_g']} g wobble "
            f"{lc['wobble_g']} g tare {lc['tare_g']} g, clock offset {w['clock_offset_s']} s "
            f"(stated {w['stated_offset_s']})")


def detection(root: Path, store, backend: str) -> dict:
    """The detector alone on a clip: precision and recall of its boxes at IoU 0.5."""
    from detection import match  # benchmarks/detection.py, beside this script

    det = make_detector(store, None, backend, "cpu")
    gt = read_mot(root / "gt" / "tracks.txt")
    n_gt = n_found = n_pred = 0
    for fr in open_source(root):
        g = gt[gt[:, 0] == fr.index + 1]
        boxes = np.c_[g[:, 2], g[:, 3], g[:, 2] + g[:, 4], g[:, 3] + g[:, 5]]
        d = det(fr.image)
        found, _ = match(boxes, d.xyxy)
        n_gt, n_found, n_pred = n_gt + len(boxes), n_found + int(found.sum()), n_pred + len(d)
    return {"det_precision": n_found / n_pred if n_pred else float("nan"),
            "det_recall": n_found / n_gt if n_gt else float("nan")}


def accuracy(work: Path, presets: list[str], seeds: list[int], backend: str,
             random_world: bool = False, with_detection: bool = False) -> dict:
    out = {}
    for preset in presets:
        results, dets = [], []
        for seed in seeds:
            root = clip(work, preset, seed, world=seed if random_world else None)
            store = load_store(root / "store.yaml")
            pred = work / "pred" / root.name
            if pred.exists():
                for f in pred.iterdir():
                    f.unlink()
            run(root, store, pred, make_detector(store, None, backend, "cpu"),
                weights=root / "weights.csv")
            r = evaluate_clip(load_truth(root), load_prediction(pred))
            results.append(r)
            s = r.scores()
            bad = [d for d in r.diffs if d["errors"]]
            print(f"  {root.name:<10} F1 {s['receipt_f1']:.3f} exact "
                  f"{s['exact_receipt_rate']:.3f} flagged {s['flagged_rate']:.3f} "
                  f"IDF1 {s['idf1']:.3f}" + (f"  wrong: {bad}" if bad else ""), flush=True)
            if with_detection:
                ds = detection(root, store, backend)
                dets.append(ds)
                print(f"    detector precision {ds['det_precision']:.3f} recall "
                      f"{ds['det_recall']:.3f}", flush=True)
            if bad and random_world:
                print(f"    world: {world_summary(root)}", flush=True)
        summary = Evaluation(results).summary()
        out[preset] = {k: summary[k] for k in (
            "receipt_precision", "receipt_recall", "receipt_f1", "exact_receipt_rate",
            "event_precision", "event_recall", "attribution_accuracy", "flagged_rate", "hota",
            "idf1", "mota")}
        out[preset]["clips"] = len(results)
        if dets:
            out[preset]["per_clip_detection"] = dets
    return out


def pipeline_speed(root: Path, backend: str) -> dict:
    store = load_store(root / "store.yaml")
    det = make_detector(store, None, backend, "cpu")
    with tempfile.TemporaryDirectory() as tmp:
        res = run(root, store, tmp, det, weights=root / "weights.csv")
    ms = res.timing.ms_per_frame()
    total = 1000 * res.wall_s / res.frames
    rest = total - ms["detect"]
    return {"backend": det.backend, "frames": res.frames, "fps": res.frames / res.wall_s,
            "realtime": res.video_s / res.wall_s, "ms_per_frame": round(total, 3),
            "stages_ms": {k: round(v, 3) for k, v in ms.items()},
            "non_detect_share": rest / total}


def ultralytics_track(root: Path, imgsz: int) -> dict:
    from walkout.detect import ultralytics_offline

    ultralytics_offline()
    from ultralytics import YOLO

    model = YOLO(str(ROOT / "models" / "walkout-sim.pt"))
    video = str(root / "video.mp4")
    for k, _ in enumerate(model.predict(video, imgsz=imgsz, device="cpu", verbose=False,
                                         stream=True)):  # warm up
        if k == 10:
            break
    t0 = time.perf_counter()
    n = 0
    for _ in model.track(video, imgsz=imgsz, device="cpu", tracker="bytetrack.yaml",
                         stream=True, verbose=False, persist=True):
        n += 1
    wall = time.perf_counter() - t0
    return {"backend": "ultralytics model.track (bytetrack)", "frames": n, "fps": n / wall,
            "realtime": n / 10.0 / wall, "ms_per_frame": round(1000 * wall / n, 3)}


def rss_mb() -> tuple[float, float]:
    """Current and peak resident set size, MB (Linux /proc)."""
    vals = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(("VmRSS:", "VmHWM:")):
            vals[line.split(":")[0]] = int(line.split()[1]) / 1024
    return vals.get("VmRSS", float("nan")), vals.get("VmHWM", float("nan"))


def memory(work: Path, seconds: float, backend: str) -> dict:
    root = clip(work, "busy", 750, duration=seconds)
    store = load_store(root / "store.yaml")
    marks = {}
    blocks = on_video_clock(iter_weights(root / "weights.csv"), 0.0, 0.1)
    with tempfile.TemporaryDirectory() as out:
        pipe = Pipeline(store, make_detector(store, None, backend, "cpu"), out)
        t0 = time.perf_counter()
        for item in by_time(prefetch(open_source(root)), blocks):
            if hasattr(item, "image"):
                pipe.frame(item)
                for mark in (120.0, seconds - 0.1):
                    if mark not in marks and item.t >= mark:
                        marks[mark] = rss_mb()
            else:
                pipe.weights(item)
        pipe.finish()
        pipe.write_outputs(out)
        wall = time.perf_counter() - t0
    (r2, _), (r_end, peak) = marks[120.0], marks[seconds - 0.1]
    return {"video_s": seconds, "wall_s": round(wall, 1), "rss_mb_at_2min": round(r2, 1),
            "rss_mb_at_end": round(r_end, 1), "peak_rss_mb": round(peak, 1),
            "receipts": len(pipe.carts.receipts)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=None,
                    help="clip seeds (700-709; with --world random 960-969)")
    ap.add_argument("--presets", nargs="+", default=["single", "pair", "busy"])
    ap.add_argument("--work", default=str(Path(tempfile.gettempdir()) / "walkout-bench"))
    ap.add_argument("--long", type=float, default=600.0, help="memory clip length, s (600)")
    ap.add_argument("--backend", default="auto")
    ap.add_argument("--skip-speed", action="store_true")
    ap.add_argument("--skip-memory", action="store_true")
    ap.add_argument("--skip-accuracy", action="store_true")
    ap.add_argument("--world", choices=["presets", "random"], default="presets",
                    help="accuracy in the presets' world or in drawn worlds (world = seed)")
    ap.add_argument("--detection", action="store_true",
                    help="also score the detector alone on every clip")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    random_world = args.world == "random"
    if args.seeds is None:
        args.seeds = list(range(960, 970) if random_world else range(700, 710))
    work = Path(args.work)
    report: dict = {"cores": os.cpu_count()}
    if not args.skip_accuracy:
        print(f"(a) accuracy on fresh seeds {args.seeds[0]}-{args.seeds[-1]}"
              + (" in drawn worlds (world = seed)" if random_world else ""))
        report["world"] = args.world
        report["accuracy"] = accuracy(work, args.presets, args.seeds, args.backend,
                                      random_world, args.detection)
        cols = ("clips", "receipt_f1", "exact_receipt_rate", "flagged_rate", "event_precision",
                "event_recall", "attribution_accuracy", "hota", "idf1")
        print(f"\n{'preset':<8}" + "".join(f"{c[:10]:>11}" for c in cols))
        for preset, s in report["accuracy"].items():
            print(f"{preset:<8}" + "".join(f"{score_text(s[c], '{}'):>11}" if c == "clips"
                                           else f"{score_text(s[c]):>11}" for c in cols))
    if not args.skip_speed:
        import importlib.util

        if importlib.util.find_spec("lap") is None:  # before minutes of work are lost
            print("benchmarks/pipeline.py: the speed comparison runs ultralytics' ByteTrack, "
                  "which needs the package lap (pip install -e '.[bench]'), or pass "
                  "--skip-speed", file=sys.stderr)
            return 2
        root = clip(work, "busy", args.seeds[0])
        rows = [pipeline_speed(root, "onnx"), pipeline_speed(root, "torch"),
                ultralytics_track(root, 320)]
        report["speed"] = rows
        print(f"\n(b) speed, {root.name} (640x480, 10 fps), CPU, {os.cpu_count()} cores")
        print(f"{'':<40}{'fps':>8}{'x real time':>13}{'ms/frame':>10}  stages (ms/frame)")
        for r in rows:
            stages = "  ".join(f"{k} {v:.2f}" for k, v in r.get("stages_ms", {}).items())
            share = (f"  non-detection {100 * r['non_detect_share']:.1f}%"
                     if "non_detect_share" in r else "")
            print(f"{'walkout ' + r['backend'] if 'stages_ms' in r else r['backend']:<40}"
                  f"{r['fps']:>8.1f}{r['realtime']:>13.2f}{r['ms_per_frame']:>10.2f}  "
                  f"{stages}{share}")
    if not args.skip_memory:  # in a fresh process, so nothing above counts in its memory
        import multiprocessing

        with multiprocessing.get_context("spawn").Pool(1) as pool:
            m = pool.apply(memory, (work, args.long, args.backend))
        report["memory"] = m
        grew = m["rss_mb_at_end"] - m["rss_mb_at_2min"]
        print(f"\n(c) memory over a {m['video_s']:.0f} s busy clip: RSS {m['rss_mb_at_2min']} MB "
              f"at 2 min, {m['rss_mb_at_end']} MB at the end (+{grew:.1f} MB: "
              f"{'meets' if grew <= 5 else 'misses'} the 5 MB target), peak "
              f"{m['peak_rss_mb']} MB ({m['receipts']} receipts, {m['wall_s']} s)")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
