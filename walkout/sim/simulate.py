"""`walkout simulate`: write one labelled clip for a preset and a seed."""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np

from ..config import dump_store
from ..errors import InputError
from ..io import ClipPaths, format_mot_row, format_weights_csv, write_text_atomic
from .layout import View, store_config
from .render import Renderer
from .scenario import PRESETS, Scenario, make_scenario
from .weights import NoiseModel, synthesize

log = logging.getLogger(__name__)


def _streams(preset: str, seed: int) -> tuple[np.random.Generator, np.random.Generator]:
    """Independent random streams for the weights and the pictures, so that a change to
    the rendering never changes the weights or the ground truth."""
    key = PRESETS.index(preset)
    return np.random.default_rng([seed, key, 1]), np.random.default_rng([seed, key, 2])


def gt_events(sc: Scenario) -> list[dict]:
    return [
        {"t": round(r.t_change, 3), "shopper": str(sh.id), "shelf": r.spot.shelf_id,
         "plate": r.spot.plate_id, "sku": r.sku, "qty": r.qty}
        for sh, r in sc.reaches if r.qty != 0
    ]


def gt_receipts(sc: Scenario, events: list[dict]) -> dict:
    items: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for e in events:
        items[e["shopper"]][e["sku"]] += e["qty"]
    receipts = []
    for sh in sorted(sc.shoppers, key=lambda s: s.exited_t):
        lines = {k: v for k, v in sorted(items[str(sh.id)].items()) if v != 0}
        receipts.append({"shopper": str(sh.id), "entered_t": sh.entered_t,
                         "exited_t": sh.exited_t, "items": lines})
    return {"receipts": receipts}


def weight_stream(preset: str, seed: int, model: NoiseModel | None = None,
                  duration: float | None = None, shoppers: int | None = None):
    """The shelf side of a clip without the video: ``(store, t, grams, gt events)``.

    With the default noise model it gives exactly the weights ``simulate`` writes (before
    their rounding to 0.1 g) for the same preset and seed.
    """
    sc = make_scenario(preset, seed, duration, shoppers)
    w_rng, _ = _streams(preset, seed)
    units = {pid: len(u) for pid, u in sc.units.items()}
    cfg = store_config(View(640, 480), 10.0, units, name=f"sim-{preset}-seed{seed}")
    t, grams = synthesize(sc, w_rng, cfg.plate_ids, model or NoiseModel())
    return cfg, t, grams, gt_events(sc)


def simulate(preset: str, seed: int, out: str | Path, duration: float | None = None,
             shoppers: int | None = None, fps: float = 10.0, size: tuple[int, int] = (640, 480),
             progress: bool = False) -> ClipPaths:
    """Simulate ``preset`` with ``seed`` and write a labelled clip into ``out``.

    Files are first written to a temp folder inside ``out`` and moved into place only when
    all of them are complete, so a failure never leaves a half-written clip behind.
    """
    if not fps > 0:
        raise InputError(f"--fps: expected frames per second > 0, got {fps:g}")
    sc = make_scenario(preset, seed, duration, shoppers)
    w_rng, r_rng = _streams(preset, seed)
    view = View(*size)
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: exists and is not a folder (expected an output folder)")
    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".walkout-sim-", dir=out))
    try:
        staged = ClipPaths(tmp)
        units = {pid: len(u) for pid, u in sc.units.items()}
        cfg = store_config(view, fps, units, name=f"sim-{preset}-seed{seed}")
        dump_store(cfg, staged.store)
        t, grams = synthesize(sc, w_rng, cfg.plate_ids)
        write_text_atomic(staged.weights, format_weights_csv(t, grams, cfg.plate_ids))
        events = gt_events(sc)
        write_text_atomic(staged.gt_events, "".join(json.dumps(e) + "\n" for e in events))
        write_text_atomic(staged.gt_receipts, json.dumps(gt_receipts(sc, events), indent=2)
                          + "\n")
        rows = _render(sc, view, fps, r_rng, staged.video, progress)
        write_text_atomic(staged.gt_tracks, "".join(r + "\n" for r in rows))
        final = ClipPaths(out)
        final.gt_tracks.parent.mkdir(exist_ok=True)
        for name in ("store", "weights", "video", "gt_tracks", "gt_events", "gt_receipts"):
            getattr(staged, name).replace(getattr(final, name))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    log.info("wrote %s: %d shoppers, %d events, %.0f s", out, len(sc.shoppers), len(events),
             sc.duration)
    return final


def _render(sc: Scenario, view: View, fps: float, rng: np.random.Generator, video: Path,
            progress: bool) -> list[str]:
    n_frames = int(round(sc.duration * fps))
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), fps,
                             (view.width, view.height))
    if not writer.isOpened():
        raise InputError(f"{video}: OpenCV cannot write mp4v video here")
    renderer = Renderer(sc, view, rng)
    rows = []
    frames = range(n_frames)
    if progress:
        from tqdm import tqdm

        frames = tqdm(frames, desc="render", unit="frame")
    try:
        for k in frames:
            img, boxes = renderer.frame(k / fps)
            writer.write(img)
            for sid in sorted(boxes):
                x0, y0, x1, y1 = boxes[sid]
                rows.append(format_mot_row(k + 1, sid, (x0, y0, x1 - x0, y1 - y0)))
    finally:
        writer.release()
    return rows
