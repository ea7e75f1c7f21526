"""`walkout simulate`: write one labelled clip for a preset and a seed, in the presets'
world or in a drawn one (:mod:`.world`)."""

from __future__ import annotations

import itertools
import json
import logging
import shutil
import tempfile
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np

from ..config import dump_store, dump_yaml
from ..errors import InputError
from ..io import ClipPaths, format_mot_row, format_weights_csv, write_text_atomic
from .layout import View, store_config
from .render import Renderer
from .scenario import PRESETS, Scenario, make_scenario
from .weights import NoiseModel, synthesize
from .world import PRESET_WORLD, World, camera_view, draw_world

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


def _world(world: int | World | None) -> World:
    if world is None:
        return PRESET_WORLD
    return world if isinstance(world, World) else draw_world(world)


def _name(preset: str, seed: int, world: World) -> str:
    return f"sim-{preset}-seed{seed}" + ("" if world.number is None else f"-world{world.number}")


def weight_stream(preset: str, seed: int, model: NoiseModel | None = None,
                  duration: float | None = None, shoppers: int | None = None,
                  world: int | World | None = None):
    """The shelf side of a clip without the video: ``(store, t, grams, gt events)``.

    With the default noise model (in a drawn world: the world's) it gives exactly the
    weights ``simulate`` writes (before their rounding to 0.1 g) for the same preset, seed
    and world; ``t`` is on the sensor clock.
    """
    world = _world(world)
    sc = make_scenario(preset, seed, duration, shoppers, world)
    w_rng, _ = _streams(preset, seed)
    units = {pid: len(u) for pid, u in sc.units.items()}
    cfg = store_config(View(640, 480), 10.0, units, name=_name(preset, seed, world),
                       clock_offset_s=world.stated_offset_s)
    t, grams = synthesize(sc, w_rng, cfg.plate_ids, model or world.noise_model())
    return cfg, _sensor_clock(t, world), grams, gt_events(sc)


def _sensor_clock(t: np.ndarray, world: World) -> np.ndarray:
    """Sample times on the video clock -> what the scale's clock stamps them with."""
    return t - world.clock_offset_s if world.clock_offset_s else t


def world_record(sc: Scenario, view: View) -> dict:
    """What ``gt/world.json`` holds: the world's draw and what it came to in this clip."""
    gaps = []  # between the weight changes of one shopper
    for sh in sc.shoppers:
        ts = sorted(r.t_change for r in sh.reaches if r.qty != 0)
        gaps += [b - a for a, b in itertools.pairwise(ts)]
    clothes = {}
    for sh in sc.shoppers:
        b = sh.body
        clothes.setdefault((b.shirt, b.sleeve, b.hair, b.cap, b.bag), []).append(str(sh.id))
    return {
        "world": sc.world.to_json(),
        "view": {"pixels_per_metre": round(view.ppm, 3),
                 "floor_origin_px": [round(view.ox, 1), round(view.oy, 1)],
                 "body_scale": round(view.body_scale, 3)},
        "shoppers": [{"id": str(sh.id), "speed_ms": round(sh.speed, 3),
                      "shoulder_m": round(sh.body.shoulder_w, 3), "reaches": len(sh.reaches)}
                     for sh in sc.shoppers],
        "min_reach_gap_s": round(min(gaps), 3) if gaps else None,
        "dressed_alike": [ids for ids in clothes.values() if len(ids) > 1],
    }


def simulate(preset: str, seed: int, out: str | Path, duration: float | None = None,
             shoppers: int | None = None, fps: float = 10.0, size: tuple[int, int] = (640, 480),
             progress: bool = False, world: int | World | None = None,
             cameras: int = 1) -> ClipPaths | Path:
    """Simulate ``preset`` with ``seed`` and write a labelled clip into ``out``; ``world``
    None is the presets' world, a number draws that world (:func:`.world.draw_world`),
    recorded in ``gt/world.json``. ``cameras`` > 1 writes the scene seen by that many
    cameras (:func:`simulate_cameras`) and returns the folder.

    Files are first written to a temp folder inside ``out`` and moved into place only when
    all of them are complete, so a failure never leaves a half-written clip behind.
    """
    if not fps > 0:
        raise InputError(f"--fps: expected frames per second > 0, got {fps:g}")
    if cameras != 1:
        return simulate_cameras(preset, seed, out, cameras, duration, shoppers, fps, size,
                                progress, world)
    world = _world(world)
    sc = make_scenario(preset, seed, duration, shoppers, world)
    w_rng, r_rng = _streams(preset, seed)
    view = camera_view(world, *size)
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: exists and is not a folder (expected an output folder)")
    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".walkout-sim-", dir=out))
    try:
        staged = ClipPaths(tmp)
        units = {pid: len(u) for pid, u in sc.units.items()}
        cfg = store_config(view, fps, units, name=_name(preset, seed, world),
                           clock_offset_s=world.stated_offset_s)
        dump_store(cfg, staged.store)
        t, grams = synthesize(sc, w_rng, cfg.plate_ids, world.noise_model())
        write_text_atomic(staged.weights,
                          format_weights_csv(_sensor_clock(t, world), grams, cfg.plate_ids))
        events = gt_events(sc)
        write_text_atomic(staged.gt_events, "".join(json.dumps(e) + "\n" for e in events))
        write_text_atomic(staged.gt_receipts, json.dumps(gt_receipts(sc, events), indent=2)
                          + "\n")
        rows = _render(sc, view, fps, r_rng, staged.video, progress)
        write_text_atomic(staged.gt_tracks, "".join(r + "\n" for r in rows))
        names = ["store", "weights", "video", "gt_tracks", "gt_events", "gt_receipts"]
        if world.number is not None:
            write_text_atomic(world_path(staged), json.dumps(world_record(sc, view), indent=2)
                              + "\n")
        final = ClipPaths(out)
        final.gt_tracks.parent.mkdir(exist_ok=True)
        for name in names:
            getattr(staged, name).replace(getattr(final, name))
        if world.number is not None:
            world_path(staged).replace(world_path(final))
        elif world_path(final).exists():  # a clip of a drawn world made over by a preset's
            world_path(final).unlink()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    log.info("wrote %s: %d shoppers, %d events, %.0f s", out, len(sc.shoppers), len(events),
             sc.duration)
    return final


def world_path(clip: ClipPaths) -> Path:
    """``gt/world.json``: the drawn world of a clip (absent for the presets' world)."""
    return clip.root / "gt" / "world.json"


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


# the detector for the simulator's perspective views (models/README.md)
VIEWS_MODEL = "models/walkout-sim-views.onnx"


def cameras_store(single, cams, fps: float, units: dict[str, int]) -> dict:
    """The ``cameras:`` store.yaml (as a dict) of the simulated store seen by ``cams``
    (:func:`.views.rig`): the one-camera store ``single``'s catalogue and sensors, the
    shelves and doors in world metres, the views' detector."""
    from .layout import world_layout

    flat = single.to_dict()
    return {"name": f"{single.name}-cameras{len(cams)}",
            "cameras": [{**c.to_yaml(), "fps": fps} for c in cams],
            "detector": {**flat["detector"], "model": VIEWS_MODEL},
            "catalogue": flat["catalogue"], **world_layout(units), "sensors": flat["sensors"]}


def simulate_cameras(preset: str, seed: int, out: str | Path, cameras: int,
                     duration: float | None = None, shoppers: int | None = None,
                     fps: float = 10.0, size: tuple[int, int] = (640, 480),
                     progress: bool = False, world: int | World | None = None) -> Path:
    """The scene of ``preset`` and ``seed`` (the same shoppers, items and weights as the
    single-camera clip) seen by ``cameras`` perspective cameras (:mod:`.views`): a folder
    ``walkout run`` reads as a store of several cameras.

    It holds ``store.yaml`` (the cameras' calibrations, the shelves and doors in world
    metres), ``weights.csv``, ``<camera>.mp4`` per camera, and under ``gt/`` the events and
    receipts, ``tracks_<camera>.txt`` (MOT rows of each camera's seen shoppers) and
    ``tracks_floor.csv`` (t, shopper, x, y in world metres, every shopper in the store).
    Written to a temp folder inside ``out`` and moved into place when complete.
    """
    from ..config import load_store
    from .layout import to_world
    from .views import CAMERAS_MAX, rig

    if not 1 <= cameras <= CAMERAS_MAX:
        raise InputError(f"--cameras: expected 1 to {CAMERAS_MAX}, got {cameras}")
    world = _world(world)
    sc = make_scenario(preset, seed, duration, shoppers, world)
    w_rng, r_rng = _streams(preset, seed)
    cams = rig(cameras, world, *size)
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: exists and is not a folder (expected an output folder)")
    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".walkout-sim-", dir=out))
    try:
        units = {pid: len(u) for pid, u in sc.units.items()}
        single = store_config(View(*size), fps, units, name=_name(preset, seed, world),
                              clock_offset_s=world.stated_offset_s)
        write_text_atomic(tmp / "store.yaml", dump_yaml(cameras_store(single, cams, fps, units)))
        load_store(tmp / "store.yaml")   # what it writes is what walkout reads
        t, grams = synthesize(sc, w_rng, single.plate_ids, world.noise_model())
        write_text_atomic(tmp / "weights.csv",
                          format_weights_csv(_sensor_clock(t, world), grams, single.plate_ids))
        (tmp / "gt").mkdir()
        events = gt_events(sc)
        write_text_atomic(tmp / "gt" / "events.jsonl",
                          "".join(json.dumps(e) + "\n" for e in events))
        write_text_atomic(tmp / "gt" / "receipts.json",
                          json.dumps(gt_receipts(sc, events), indent=2) + "\n")
        rows, floor = _render_views(sc, cams, fps, r_rng, tmp, progress, to_world)
        for cam in cams:
            write_text_atomic(tmp / "gt" / f"tracks_{cam.id}.txt",
                              "".join(r + "\n" for r in rows[cam.id]))
        write_text_atomic(tmp / "gt" / "tracks_floor.csv", "t,shopper,x,y\n" + "".join(floor))
        if world.number is not None:
            write_text_atomic(tmp / "gt" / "world.json",
                              json.dumps(world_record(sc, View(*size)), indent=2) + "\n")
        for path in sorted(tmp.rglob("*")):
            if path.is_file():
                dest = out / path.relative_to(tmp)
                dest.parent.mkdir(parents=True, exist_ok=True)
                path.replace(dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    log.info("wrote %s: %d cameras, %d shoppers, %d events, %.0f s", out, cameras,
             len(sc.shoppers), len(events), sc.duration)
    return out


def _render_views(sc: Scenario, cams, fps: float, rng: np.random.Generator, folder: Path,
                  progress: bool, to_world) -> tuple[dict[str, list[str]], list[str]]:
    from .views import ViewsRenderer

    n_frames = int(round(sc.duration * fps))
    size = (cams[0].width, cams[0].height)
    writers = {c.id: cv2.VideoWriter(str(folder / f"{c.id}.mp4"),
                                     cv2.VideoWriter_fourcc(*"mp4v"), fps, size) for c in cams}
    if not all(w.isOpened() for w in writers.values()):
        raise InputError(f"{folder}: OpenCV cannot write mp4v video here")
    renderer = ViewsRenderer(sc, cams, rng)
    rows: dict[str, list[str]] = {c.id: [] for c in cams}
    floor = []
    frames = range(n_frames)
    if progress:
        from tqdm import tqdm

        frames = tqdm(frames, desc="render", unit="frame")
    try:
        for k in frames:
            t = k / fps
            for cam, (img, boxes) in zip(cams, renderer.frames(t)):
                writers[cam.id].write(img)
                for sid in sorted(boxes):
                    x0, y0, x1, y1 = boxes[sid]
                    rows[cam.id].append(format_mot_row(k + 1, sid, (x0, y0, x1 - x0, y1 - y0)))
            for sh in sorted(sc.shoppers, key=lambda s: s.id):
                state = sh.position(t)
                if state is not None:
                    x, y, _ = to_world(state[0])[0]
                    floor.append(f"{t:.3f},{sh.id},{x:.3f},{y:.3f}\n")
    finally:
        for w in writers.values():
            w.release()
    return rows, floor
