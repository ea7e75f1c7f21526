"""How fast the simulator makes labelled clips, per stage, for each preset.

    python benchmarks/simulate.py [--seed 0] [--world N] [--json out.json]

Stages: planning (paths, timelines, stock), weights (60 Hz load cells), rendering and
encoding the video. Frames/s is rendered frames over the rendering stage's wall time.
With --world N the clips are made in drawn world N (its JPEG pass costs rendering time).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from walkout.sim import make_scenario
from walkout.sim.layout import plate_spots
from walkout.sim.render import Renderer
from walkout.sim.weights import synthesize
from walkout.sim.world import PRESET_WORLD, camera_view, draw_world


def bench(preset: str, seed: int, world: int | None = None) -> dict:
    w = PRESET_WORLD if world is None else draw_world(world)
    t0 = time.perf_counter()
    sc = make_scenario(preset, seed, world=w)
    t1 = time.perf_counter()
    synthesize(sc, np.random.default_rng(1), [sp.plate_id for sp in plate_spots()],
               w.noise_model())
    t2 = time.perf_counter()
    view = camera_view(w, 640, 480)
    renderer = Renderer(sc, view, np.random.default_rng(2))
    n = round(sc.duration * 10)
    with tempfile.TemporaryDirectory() as tmp:
        writer = cv2.VideoWriter(str(Path(tmp) / "v.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 10,
                                 (640, 480))
        for k in range(n):
            writer.write(renderer.frame(k / 10)[0])
        writer.release()
    t3 = time.perf_counter()
    return {"preset": preset, "seconds_of_clip": sc.duration, "frames": n,
            "plan_s": round(t1 - t0, 3), "weights_s": round(t2 - t1, 3),
            "render_s": round(t3 - t2, 3), "render_fps": round(n / (t3 - t2), 1),
            "realtime_factor": round(sc.duration / (t3 - t0), 2)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--world", type=int, default=None, help="a drawn world (default: presets')")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    rows = [bench(p, args.seed, args.world) for p in ("single", "pair", "busy")]
    cols = list(rows[0])
    print("  ".join(f"{c:>15}" for c in cols))
    for r in rows:
        print("  ".join(f"{r[c]!s:>15}" for c in cols))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
