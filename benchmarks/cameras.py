"""Several cameras on this machine's CPU: (a) detection, one batched ONNX run per tick
against one run per camera frame, side by side in one run; (b) the whole line for a store of
N cameras (`walkout run FOLDER`) on the `busy` sample clip seen by N cameras: times real
time, and the share of the time spent outside detection.

    python benchmarks/cameras.py [--cameras 1 2 4] [--ticks 40] [--imgsz 320] [--json out.json]
                                 [--skip-line]

The cameras are the shipped sample clips (single, pair, busy; a fourth repeats single), all
640x480, read ahead into memory so that decoding is not timed. For each camera count the
same ticks go through `Detector` twice: one frame a call (what one camera's run does) and all
the tick's frames in one call (walkout batches them in one ONNX run). Reported per camera
count: ticks/s and camera frames/s for both, how many 10 fps cameras that rate carries in
real time, and the ratio. Each timing is the best of two passes after a warm-up. The
numbers are machine-specific; the ratio is what carries over.

(b) builds a folder of N copies of the clip's video as N cameras, each calibrated by the
clip's floor homography, with the simulator's store in world metres and the clip's weights,
and runs it once per N (targets: 2 cameras at 10 fps at least 1x real time, at most 15% of
the time outside detection).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from walkout.detect import Detector
from walkout.sources import open_source

ROOT = Path(__file__).resolve().parents[1]
CLIPS = ["single", "pair", "busy", "single"]


def frames_of(clip: str, start: int, n: int) -> list[np.ndarray]:
    out = []
    for fr in open_source(ROOT / "sample_videos" / clip):
        if fr.index >= start:
            out.append(fr.image)
        if len(out) == n:
            break
    return out


def best_of(passes: int, fn) -> float:
    best = float("inf")
    for _ in range(passes):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cameras", type=int, nargs="+", default=[1, 2, 4])
    ap.add_argument("--ticks", type=int, default=40)
    ap.add_argument("--imgsz", type=int, default=320, help="the sim stores' imgsz")
    ap.add_argument("--json", default=None)
    ap.add_argument("--skip-line", action="store_true", help="detection only, not (b)")
    a = ap.parse_args()
    det = Detector(ROOT / "models" / "walkout-sim.onnx", imgsz=a.imgsz)
    n_max = max(a.cameras)
    # 8 s in, where the shoppers are inside; the fourth camera starts later
    views = [frames_of(CLIPS[k % len(CLIPS)], 80 + 20 * (k // len(CLIPS)), a.ticks)
             for k in range(n_max)]
    det(views[0][0])  # load and warm up
    rows = []
    print(f"{'cameras':>8} {'one a call: frames/s':>21} {'batched: frames/s':>18} "
          f"{'ratio':>6} {'10 fps cameras (batched)':>25}")
    for n in a.cameras:
        ticks = [[views[k][i] for k in range(n)] for i in range(a.ticks)]

        def one_a_call(ticks=ticks):
            for tick in ticks:
                for f in tick:
                    det(f)

        def batched(ticks=ticks):
            for tick in ticks:
                det(tick)

        one_a_call()  # warm-up at this batch size
        batched()
        t_one, t_batch = best_of(2, one_a_call), best_of(2, batched)
        fps_one, fps_batch = n * a.ticks / t_one, n * a.ticks / t_batch
        rows.append({"cameras": n, "frames_per_s_one_a_call": round(fps_one, 1),
                     "frames_per_s_batched": round(fps_batch, 1),
                     "ratio": round(fps_batch / fps_one, 3),
                     "cameras_at_10fps": round(fps_batch / 10.0, 1)})
        print(f"{n:>8} {fps_one:>21.1f} {fps_batch:>18.1f} {fps_batch / fps_one:>6.2f} "
              f"{fps_batch / 10.0:>25.1f}")
    line = [] if a.skip_line else whole_line(a.cameras)
    if a.json:
        Path(a.json).write_text(json.dumps({"imgsz": a.imgsz, "ticks": a.ticks,
                                            "rows": rows, "line": line}, indent=2))
    return 0


def whole_line(counts: list[int]) -> list[dict]:
    """(b): `run_cameras` on the busy clip seen by each number of cameras."""
    import shutil
    import tempfile

    import yaml

    from walkout.config import load_store
    from walkout.multicam import run_cameras
    from walkout.sim.layout import SIM_TO_WORLD, world_layout

    clip = ROOT / "sample_videos" / "busy"
    base = load_store(clip / "store.yaml")
    plain = type("Plain", (yaml.SafeDumper,), {"ignore_aliases": lambda self, data: True})
    rows = []
    print(f"\n{'cameras':>8} {'ticks':>6} {'x real time':>12} {'outside detection':>18}")
    for n in counts:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            cams = []
            for k in range(n):
                shutil.copy(clip / "video.mp4", folder / f"c{k}.mp4")
                cams.append({"id": f"c{k}", "width": base.camera.width,
                             "height": base.camera.height, "fps": base.camera.fps,
                             "calibration": {"homography": (
                                 SIM_TO_WORLD @ np.asarray(base.camera.homography)).tolist()}})
            d = base.to_dict()
            raw = {"cameras": cams, "detector": d["detector"], "catalogue": d["catalogue"],
                   "sensors": d["sensors"],
                   **world_layout({p.id: p.units for s in base.shelves for p in s.plates})}
            raw["detector"]["model"] = str(ROOT / base.detector.model)
            (folder / "store.yaml").write_text(yaml.dump(raw, Dumper=plain, sort_keys=False))
            store = load_store(folder / "store.yaml")
            det = Detector(ROOT / "models" / "walkout-sim.onnx", classes=[0],
                           conf=store.detector.track_floor, imgsz=store.detector.imgsz)
            res = run_cameras(folder, store, folder / "out", det, weights=clip / "weights.csv")
        ms = res.timing.ms_per_frame()
        outside = 1 - ms.get("detect", 0.0) / max(sum(ms.values()), 1e-9)
        speed = res.video_s / max(res.wall_s, 1e-9)
        rows.append({"cameras": n, "ticks": res.frames, "x_real_time": round(speed, 2),
                     "outside_detection": round(outside, 3)})
        print(f"{n:>8} {res.frames:>6} {speed:>12.2f} {100 * outside:>17.1f}%")
    return rows


if __name__ == "__main__":
    raise SystemExit(main())
