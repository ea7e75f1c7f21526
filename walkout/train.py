"""`walkout train-detector`: a person detector trained on simulator frames, fully offline.

1. **Data.** Frames of random presets and seeds (seeds from 10,000 up, never used by the
   benchmarks or tests; a share of them in drawn worlds, :mod:`walkout.sim.world`, numbered
   from 10,000 up too: other cameras, light, image quality and bodies), each saved as a
   JPEG at a random quality (the clips are mp4 and carry compression artefacts) with a
   YOLO label file holding the ground-truth boxes of the visible shoppers. A tenth of the
   scenarios go to validation.
2. **Training.** ultralytics from the `yolov8n.yaml` architecture, no pretrained weights
   (no machine here can download any), with the offline settings of
   :func:`walkout.detect.ultralytics_offline`.
3. **Export.** The best checkpoint is copied to ``--out`` and exported to ONNX beside it.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path

import cv2
import numpy as np

from .errors import InputError

log = logging.getLogger(__name__)
TRAIN_SEED0 = 10_000  # training scenarios use seeds from here on


def make_yolo_dataset(root: str | Path, frames: int, seed: int = 0,
                      size: tuple[int, int] = (640, 480), per_scenario: int = 12,
                      val_share: float = 0.1, crowd_share: float = 0.0,
                      reach_share: float = 0.0, world_share: float = 0.0,
                      cameras: int = 1, progress: bool = False) -> Path:
    """Write ``frames`` labelled simulator frames as a YOLO dataset; returns its yaml.

    ``crowd_share`` of the frames are picked among the moments when two shoppers are
    closest (boxes within 10 px), the hard case of telling touching shoppers apart.
    ``reach_share`` of them (after those) among the moments when a shopper's arm is out in
    a shelf, with someone beside them when there is (boxes within 20 px): the box must
    take in the arm, and the arm must not go to the neighbour's box. ``world_share`` of the
    scenarios happen in a drawn world (camera height and lens, light, blur, noise, JPEG,
    bodies) rather than the presets' one. ``cameras`` > 1 takes the frames of the
    simulator's several perspective views of one scene (:mod:`walkout.sim.views`), every
    camera's frame of a moment (no crowd or reach picking there: the oblique views see
    people side by side and hidden behind one another all the time).
    """
    from .sim.render import Renderer, gt_boxes
    from .sim.scenario import PRESETS, make_scenario
    from .sim.world import PRESET_WORLD, camera_view, draw_world

    root = Path(root)
    rng = np.random.default_rng(seed)
    for split in ("train", "val"):
        (root / "images" / split).mkdir(parents=True, exist_ok=True)
        (root / "labels" / split).mkdir(parents=True, exist_ok=True)
    n_scen = max(1, -(-frames // per_scenario))
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=frames, desc="simulate", unit="frame")
    k = 0
    for s in range(n_scen):
        preset = str(rng.choice(PRESETS, p=[0.2, 0.3, 0.5]))
        number = TRAIN_SEED0 + seed * 1000 + s
        world = (draw_world(number) if world_share > 0 and rng.random() < world_share
                 else PRESET_WORLD)  # no draw without worlds: older datasets stay as made
        sc = make_scenario(preset, number, world=world)
        view = camera_view(world, *size)
        split = "val" if rng.random() < val_share else "train"
        if cameras > 1:
            k = _views_frames(root / "images" / split, root / "labels" / split, sc,
                              cameras, size, np.random.default_rng([seed, s]), rng,
                              min(per_scenario, frames - k), f"{preset}-{s:05d}", k, bar)
            if k >= frames:
                break
            continue
        renderer = Renderer(sc, view, np.random.default_rng([seed, s]))
        n = min(per_scenario, frames - k)
        times = rng.uniform(0, sc.duration, n)
        n_crowd = int(round(crowd_share * n))
        if n_crowd:
            pool = rng.uniform(0, sc.duration, 20 * n)
            gap = np.array([_closest_gap(gt_boxes(sc, view, float(t))) for t in pool])
            close = pool[gap < 10.0]
            m = min(n_crowd, len(close))
            times[:m] = rng.choice(close, m, replace=False)
        n_reach = min(int(round(reach_share * n)), n - n_crowd)
        if n_reach:
            picked = _reach_times(sc, view, rng, n_reach)
            times[n_crowd:n_crowd + len(picked)] = picked
        for t in np.sort(times):
            img, boxes = renderer.frame(float(t))
            _write_frame(root / "images" / split, root / "labels" / split,
                         f"{preset}-{s:05d}-{k:06d}", img, boxes, int(rng.integers(35, 90)))
            k += 1
            if bar is not None:
                bar.update(1)
        if k >= frames:
            break
    if bar is not None:
        bar.close()
    if not any((root / "images" / "val").iterdir()):  # tiny runs: validate on a train frame
        first = next((root / "images" / "train").iterdir())
        shutil.copy(first, root / "images" / "val" / first.name)
        shutil.copy(root / "labels" / "train" / f"{first.stem}.txt",
                    root / "labels" / "val" / f"{first.stem}.txt")
    yaml_path = root / "data.yaml"
    yaml_path.write_text(f"path: {root.resolve()}\ntrain: images/train\nval: images/val\n"
                         "names:\n  0: person\n")
    return yaml_path


def _write_frame(images: Path, labels: Path, name: str, img: np.ndarray, boxes: dict,
                 quality: int) -> None:
    h, w = img.shape[:2]
    cv2.imwrite(str(images / f"{name}.jpg"), img, [cv2.IMWRITE_JPEG_QUALITY, quality])
    lines = []
    for x0, y0, x1, y1 in boxes.values():
        cx, cy = (x0 + x1) / 2 / w, (y0 + y1) / 2 / h
        lines.append(f"0 {cx:.6f} {cy:.6f} {(x1 - x0) / w:.6f} {(y1 - y0) / h:.6f}")
    (labels / f"{name}.txt").write_text("\n".join(lines))


def _views_frames(images: Path, labels: Path, sc, cameras: int, size: tuple[int, int],
                  draw_rng: np.random.Generator, rng: np.random.Generator, n: int, stem: str,
                  k: int, bar) -> int:
    """Write about ``n`` frames of the ``cameras`` views of ``sc`` (every view of a few
    moments); returns the running frame count."""
    from .sim.views import ViewsRenderer, rig

    renderer = ViewsRenderer(sc, rig(cameras, sc.world, *size), draw_rng)
    for t in np.sort(rng.uniform(0, sc.duration, max(1, n // cameras))):
        for img, boxes in renderer.frames(float(t)):
            _write_frame(images, labels, f"{stem}-{k:06d}", img, boxes,
                         int(rng.integers(35, 90)))
            k += 1
            if bar is not None:
                bar.update(1)
    return k


def _reach_times(sc, view, rng: np.random.Generator, n: int) -> np.ndarray:
    """Up to ``n`` times at which a shopper's hand is in a shelf (between ``t_in`` and
    ``t_out`` of a reach), those with another shopper within 20 px of the reacher first."""
    from .sim.render import gt_boxes

    pool = [(sh.id, float(rng.uniform(r.t_in, r.t_out)))
            for sh in sc.shoppers for r in sh.reaches if r.t_out > r.t_in]
    if not pool:
        return np.zeros(0)
    beside, alone = [], []
    for sid, t in pool:
        boxes = gt_boxes(sc, view, t)
        if sid not in boxes:
            continue
        near = {sid: boxes[sid], **{k: b for k, b in boxes.items() if k != sid}}
        (beside if len(near) > 1 and _gap_to_first(near) < 20.0 else alone).append(t)
    order = list(rng.permutation(beside)) + list(rng.permutation(alone))
    return np.array(order[:n], float)


def _gap_to_first(boxes: dict) -> float:
    """Pixels from the first box to the nearest other one (negative when they overlap)."""
    b = np.array(list(boxes.values()), float).reshape(-1, 4)
    gx = np.maximum(b[0, 0], b[1:, 0]) - np.minimum(b[0, 2], b[1:, 2])
    gy = np.maximum(b[0, 1], b[1:, 1]) - np.minimum(b[0, 3], b[1:, 3])
    return float(np.maximum(gx, gy).min())


def _closest_gap(boxes: dict) -> float:
    """Pixels between the two closest boxes (negative when they overlap); inf if < 2."""
    b = np.array(list(boxes.values()), float).reshape(-1, 4)
    if len(b) < 2:
        return float("inf")
    gx = np.maximum(b[:, None, 0], b[None, :, 0]) - np.minimum(b[:, None, 2], b[None, :, 2])
    gy = np.maximum(b[:, None, 1], b[None, :, 1]) - np.minimum(b[:, None, 3], b[None, :, 3])
    gap = np.maximum(gx, gy)
    np.fill_diagonal(gap, np.inf)
    return float(gap.min())


def train_detector(out: str | Path, frames: int = 1500, epochs: int = 30, imgsz: int = 320,
                   device: str | None = None, batch: int = 16, seed: int = 0,
                   workdir: str | Path | None = None, init: str | Path | None = None,
                   crowd_share: float = 0.0, reach_share: float = 0.0,
                   world_share: float = 0.0, cameras: int = 1, progress: bool = False) -> Path:
    """Simulate, train and export; returns the path of the trained ``.pt``. The data and
    the training runs go to ``workdir`` (kept), or to a scratch folder removed at the end."""
    out = Path(out)
    if out.suffix != ".pt":
        raise InputError(f"--out: expected a .pt path, got {out}")
    if frames < 2 or epochs < 1 or imgsz < 32:
        raise InputError("expected --frames >= 2, --epochs >= 1 and --imgsz >= 32")
    from .sim.views import CAMERAS_MAX

    if not 1 <= cameras <= CAMERAS_MAX:
        raise InputError(f"--cameras: expected 1 to {CAMERAS_MAX}, got {cameras}")
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="walkout-train-"))
    try:
        return _train(out, work, frames, epochs, imgsz, device, batch, seed, init,
                      crowd_share, reach_share, world_share, cameras, progress)
    finally:
        if workdir is None:  # our own scratch folder: the data and runs go with it
            shutil.rmtree(work, ignore_errors=True)


def _train(out: Path, work: Path, frames: int, epochs: int, imgsz: int, device: str | None,
           batch: int, seed: int, init: str | Path | None, crowd_share: float,
           reach_share: float, world_share: float, cameras: int, progress: bool) -> Path:
    from .detect import pick_device, ultralytics_offline

    data = make_yolo_dataset(work / "data", frames, seed, crowd_share=crowd_share,
                             reach_share=reach_share, world_share=world_share,
                             cameras=cameras, progress=progress)
    YOLO = ultralytics_offline()
    device = device or pick_device()
    if init is not None:  # fine-tune a trained model rather than start from scratch
        from .detect import resolve_model

        init = resolve_model(init)
    model = YOLO(str(init) if init is not None else "yolov8n.yaml")
    model.train(data=str(data), epochs=epochs, imgsz=imgsz, batch=batch, device=device,
                project=str(work), name="run", exist_ok=True, pretrained=init is not None,
                seed=seed,
                deterministic=True, workers=2, plots=False, verbose=progress,
                amp=device != "cpu", patience=max(10, epochs // 3),
                mosaic=1.0, close_mosaic=max(1, epochs // 5), fliplr=0.5,
                # seen from above a person may lie any way round in the frame; an oblique
                # camera always sees them upright
                flipud=0.5 if cameras == 1 else 0.0,
                degrees=0.0, hsv_v=0.3)
    best = work / "run" / "weights" / "best.pt"
    if not best.is_file():
        raise InputError(f"{best}: training produced no checkpoint")
    shutil.copy(best, out)
    onnx = YOLO(str(out)).export(format="onnx", imgsz=imgsz, simplify=True, dynamic=True)
    shutil.move(str(onnx), out.with_suffix(".onnx"))
    log.info("trained %s (and %s) in %s", out, out.with_suffix(".onnx"), work)
    return out
