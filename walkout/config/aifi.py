"""AiFi's store metadata as a ``cameras:`` store.yaml (``walkout aifi-store``).

AiFi's autonomous-checkout dataset describes its store in four JSON files
(``Gondolas.json``, ``Shelves.json``, ``Plates.json``, ``calibration.json``). What they
mean was worked out from the data alone (docs/notes.md, "what AiFi's store metadata
means"; ``tests/test_geometry.py`` checks the camera conventions):

- the planogram is in metres. A gondola's translation is the left (x-min) end of the
  front of its back panel, on the floor, turned about ``z`` by its rotation (radians). A
  shelf is relative to its gondola: its translation is the left end of its front edge
  (16 in toward -y, the aisle), on its board; ``dim_x`` runs along the front, ``dim_y``
  into the shelf and ``dim_z`` is the clear height to the next shelf. A plate is relative
  to its shelf, ``translation.x`` from the shelf's left end, ``dim_x`` wide. That is the
  box a store.yaml shelf is (:class:`walkout.config.world.ShelfBox`, yaw 0: front along
  +x, aisle at -y);
- ``calibration.json`` is in inches. ``K`` is in fractions of the image (row 0 times its
  width, row 1 times its height), ``Tw`` the camera-to-world pose (OpenCV camera axes,
  ``x_world = R x_cam + t``), ``dist_coeffs`` OpenCV's distortion. Keys ``1``-``12`` are
  the ceiling cameras; the ``-depth`` keys are depth sensors, not cameras walkout reads;
- nothing in the metadata says where the doors are: they are given on the command line
  (``--entrance``, ``--exit``: floor polygons in the planogram's metres).

Shelf ids are AiFi's ``g<gondola>s<shelf>``, plate ids ``g<gondola>s<shelf>p<plate>``
(:func:`walkout.sensors.items.aifi_shelf_id`), so ``walkout weight-events --format aifi``
and a run on this store name the same plates.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError

INCH = 0.0254   # metres: calibration.json is in inches (its cameras hang 94-99 in up)
# A ceiling camera whose optical axis is within this of straight down sees a shopper's head
# and shoulders where they stand ("overhead"); a more tilted one sees them at their feet
# ("oblique"). 30 degrees off vertical moves the head of a 1.7 m person about 1 m from
# their feet in the picture of a camera 2.5 m up: beyond that the feet are the better read.
OVERHEAD_MAX_DEG = 30.0
# A product of unknown weight stands in for every plate the planogram does not stock (or
# every plate, without one): 100 g, the order of a snack or a drink can, with a wide
# spread so that no count is read off its weight with confidence.
UNKNOWN = {"sku": "unknown", "name": "Unknown product (not in the planogram)",
           "weight_g": 100, "weight_sd_g": 50, "price": 0}

# The doors of the store the metadata describes (AiFi's NanoStore), which the metadata does
# not give. Both are swing doors in the glass front wall, seen in cps-test-01's videos: the
# entrance at the row's near end, beside camera 1 (x 4.45 m), the exit at the far end,
# beside the back wall (x -1.63 m, calibration.json's ``world_ltrb``). The front wall runs
# along y = -1.55 m: the even ceiling cameras hang on it (y -1.39 to -1.54 m). Each zone is
# the doorway's stretch of wall, give or take half a metre (where the door is along the wall
# is known to that), and 0.4 m either side of it: a step through a door at walking speed
# (1.2 m/s) spends at least half a second inside, five frames at 10 fps.
FRONT_WALL_Y = -1.55
NANOSTORE_ENTRANCE = [[3.3, FRONT_WALL_Y - 0.4], [4.9, FRONT_WALL_Y - 0.4],
                      [4.9, FRONT_WALL_Y + 0.4], [3.3, FRONT_WALL_Y + 0.4]]
NANOSTORE_EXIT = [[-1.63, FRONT_WALL_Y - 0.4], [-0.3, FRONT_WALL_Y - 0.4],
                  [-0.3, FRONT_WALL_Y + 0.4], [-1.63, FRONT_WALL_Y + 0.4]]


def _load(path: Path, key: str) -> list:
    try:
        doc = json.loads(path.read_text())
        items = doc[key]
    except FileNotFoundError:
        raise InputError(f"{path}: file not found (expected AiFi store metadata)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: cannot read it as JSON ({exc})") from None
    except (KeyError, TypeError):
        raise InputError(f"{path}: expected a JSON object with a {key!r} list") from None
    if not isinstance(items, list):
        raise InputError(f"{path}: {key}: expected a list")
    return items


def _pose(item: dict, where: str) -> tuple[np.ndarray, float, tuple[float, float, float]]:
    """(translation (3,), yaw about z in radians, (dim_x, dim_y, dim_z)) of one entry."""
    try:
        c = item["coordinates"]
        tr, rot = c["transform"]["translation"], c["transform"]["rotation"]
        t = np.array([float(tr["x"]), float(tr["y"]), float(tr["z"])])
        if float(rot.get("x", 0)) or float(rot.get("y", 0)):
            raise InputError(f"{where}: rotation: expected a turn about z only")
        return t, float(rot.get("z", 0)), (float(c["dim_x"]), float(c["dim_y"]),
                                           float(c["dim_z"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"{where}: expected coordinates.transform.translation/rotation "
                         f"and dim_x, dim_y, dim_z ({exc!r})") from None


def _turn(yaw: float, v: np.ndarray) -> np.ndarray:
    c, s = math.cos(yaw), math.sin(yaw)
    return np.array([c * v[0] - s * v[1], s * v[0] + c * v[1], v[2]])


def _ids(item: dict, where: str, *keys: str) -> tuple[int, ...]:
    """Integer ids along nested keys, e.g. ``id.gondola_id.id`` and ``id.shelf_index``."""
    out = []
    for key in keys:
        v: Any = item
        try:
            for k in key.split("."):
                v = v[k]
            out.append(int(v))
        except (KeyError, TypeError, ValueError):
            raise InputError(f"{where}: {key}: expected an integer id") from None
    return tuple(out)


def aifi_shelves(meta: Path, plate_sku: dict[str, str | None] | None = None) -> list[dict]:
    """The store.yaml ``shelves`` (world metres) of AiFi's planogram in ``meta``; a plate's
    sku from ``plate_sku`` (AiFi plate id -> sku), else :data:`UNKNOWN`'s."""
    from ..sensors.items import aifi_plate_id, aifi_shelf_id

    gondolas = {}
    for i, g in enumerate(_load(meta / "Gondolas.json", "gondolas")):
        where = f"{meta / 'Gondolas.json'}: gondolas[{i}]"
        (gid,) = _ids(g, where, "id.id")
        gondolas[gid] = _pose(g, where)
    plates: dict[tuple[int, int], list[tuple[int, float, float]]] = {}
    for i, p in enumerate(_load(meta / "Plates.json", "plates")):
        where = f"{meta / 'Plates.json'}: plates[{i}]"
        gid, sidx, pidx = _ids(p, where, "id.shelf_id.gondola_id.id", "id.shelf_id.shelf_index",
                               "id.plate_index")
        t, _, (dx, _, _) = _pose(p, where)
        plates.setdefault((gid, sidx), []).append((pidx, float(t[0]), float(t[0]) + dx))
    shelves = []
    for i, s in enumerate(_load(meta / "Shelves.json", "shelves")):
        where = f"{meta / 'Shelves.json'}: shelves[{i}]"
        gid, sidx = _ids(s, where, "id.gondola_id.id", "id.shelf_index")
        if gid not in gondolas:
            raise InputError(f"{where}: id.gondola_id.id: gondola {gid} is not in Gondolas.json")
        g_t, g_yaw, _ = gondolas[gid]
        t, yaw, size = _pose(s, where)
        if not plates.get((gid, sidx)):
            continue   # a shelf without load cells holds nothing walkout can weigh
        origin = g_t + _turn(g_yaw, t)
        spans = []
        for pidx, x0, x1 in sorted(plates[(gid, sidx)]):
            pid = aifi_plate_id(gid, sidx, pidx)
            sku = (plate_sku or {}).get(pid) or UNKNOWN["sku"]
            spans.append({"id": pid, "sku": sku,
                          "span": [round(max(x0, 0.0), 6), round(min(x1, size[0]), 6)]})
        shelves.append({"id": aifi_shelf_id(gid, sidx), "gondola": f"g{gid}",
                        "origin": [round(float(v), 6) for v in origin],
                        "size": [round(v, 6) for v in size],
                        "yaw_deg": round(math.degrees(g_yaw + yaw), 6), "plates": spans})
    shelves.sort(key=lambda d: tuple(int(x) for x in d["id"][1:].split("s")))
    return shelves


def _video_format(path: Path) -> tuple[int, int, float]:
    import cv2

    if not path.is_file():
        raise InputError(f"{path}: file not found (expected this camera's video)")
    cap = cv2.VideoCapture(str(path))
    try:
        w, h = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        fps = float(cap.get(cv2.CAP_PROP_FPS))
    finally:
        cap.release()
    if w <= 0 or h <= 0 or not fps > 0:
        raise InputError(f"{path}: cannot read its frame size and rate (expected a video)")
    return w, h, fps


def aifi_camera(calib: dict, key: str, video: Path, source: str, where: str) -> dict:
    """The store.yaml entry of AiFi camera ``key`` (``calibration.json``'s ``cameras``)
    whose frames are ``video``: pixels from the video's size, metres from inches."""
    try:
        c = calib[key]
        K = np.asarray(c["K"], float).reshape(3, 3)
        Tw = np.asarray(c["Tw"], float).reshape(4, 4)
        dist = [float(v) for v in c.get("dist_coeffs", [0, 0, 0, 0, 0])]
    except KeyError:
        raise InputError(f"{where}: cameras: no camera {key!r} (it has "
                         f"{', '.join(k for k in calib if 'depth' not in k)})") from None
    except (TypeError, ValueError) as exc:
        raise InputError(f"{where}: cameras.{key}: expected K (3x3), Tw (4x4) and "
                         f"dist_coeffs ({exc})") from None
    w, h, fps = _video_format(video)
    Kp = np.diag([w, h, 1.0]) @ K            # fractions of the image -> pixels
    R = Tw[:3, :3]
    down = math.degrees(math.acos(float(np.clip(-R[2, 2], -1.0, 1.0))))  # axis vs straight down
    return {"id": f"cam{key}", "source": source, "width": w, "height": h, "fps": round(fps, 6),
            "view": "overhead" if down <= OVERHEAD_MAX_DEG else "oblique",
            "calibration": {"K": np.round(Kp, 6).tolist(), "dist": dist,
                            "R": np.round(R, 9).tolist(),
                            "t": np.round(Tw[:3, 3] * INCH, 6).tolist()}}


def aifi_store(meta: str | Path, cameras: list[str], videos: str | Path, out: str | Path,
               entrance: list[list[float]], exit: list[list[float]],
               products: str | Path | None = None, planogram: str | Path | None = None,
               model: str = "models/person-yolov8s.onnx") -> dict:
    """The ``cameras:`` store.yaml (a dict) of AiFi's store in ``meta`` seen by the
    calibrated ``cameras`` (keys of ``calibration.json``), camera ``N`` reading
    ``videos/camN.mp4``; ``out`` is where it will be written (video paths are relative to
    its folder). ``products`` and ``planogram`` (AiFi's ``products.jsonl`` and
    ``planogram.jsonl``) stock the plates; without them every plate holds :data:`UNKNOWN`."""
    from ..sensors.items import Planogram

    meta, videos, out = Path(meta), Path(videos), Path(out)
    if not meta.is_dir():
        raise InputError(f"{meta}: not a folder (expected AiFi's store metadata folder)")
    if (products is None) != (planogram is None):
        raise InputError("--products and --planogram: expected both or neither")
    plate_sku, catalogue = None, []
    if products is not None:
        plan = Planogram.from_aifi(products, planogram)
        plate_sku = plan.plate_sku
        catalogue = [{"sku": p.sku, "name": p.name, "weight_g": round(p.weight_g, 3),
                      "weight_sd_g": round(p.weight_sd_g, 3), "price": p.price}
                     for p in plan.products.values()]
    shelves = aifi_shelves(meta, plate_sku)
    if any(p["sku"] == UNKNOWN["sku"] for s in shelves for p in s["plates"]):
        catalogue.append(dict(UNKNOWN))
    cpath = meta / "calibration.json"
    try:
        calib = json.loads(cpath.read_text())["cameras"]
    except FileNotFoundError:
        raise InputError(f"{cpath}: file not found (expected AiFi's camera calibration)") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"{cpath}: expected a JSON object with a 'cameras' mapping "
                         f"({exc!r})") from None
    cams = []
    for key in cameras:
        video = videos / f"cam{key}.mp4"
        try:
            source = os.path.relpath(os.path.abspath(video), os.path.abspath(out.parent))
        except ValueError:   # another drive (Windows)
            source = os.path.abspath(video)
        cams.append(aifi_camera(calib, str(key), video, source, str(cpath)))
    return {"name": f"aifi {videos.absolute().name}, cameras {' '.join(map(str, cameras))}",
            "cameras": cams,
            "sensors": {"rate_hz": 60, "clock_offset_s": 0},   # AiFi's plates run at 60 Hz
            "detector": {"model": model, "person_classes": [0, 1], "confidence": 0.25,
                         "imgsz": 640},
            "catalogue": catalogue, "shelves": shelves,
            "zones": {"entrance": entrance, "exit": exit}}


def draw_overlays(store, out_dir: Path, frame: int = 0) -> list[Path]:
    """Each camera's frame ``frame`` with the store drawn on it as that camera's
    calibration sees it (shelves white, their plates grey, the reach zones yellow, the
    entrance green, the exit red), written as ``out_dir/<camera>.png``: where the drawing
    misses the picture, the calibration does not fit the video."""
    import cv2

    from .world import OUTSIDE

    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for cam in store.world.cameras:
        path = store.path.parent / (cam.source or f"{cam.id}.mp4")
        cap = cv2.VideoCapture(str(path))
        try:
            cap.set(cv2.CAP_PROP_POS_FRAMES, frame)
            ok, img = cap.read()
        finally:
            cap.release()
        if not ok:
            raise InputError(f"{path}: cannot read frame {frame} (expected camera {cam.id}'s "
                             "video)")
        view = store.view(cam.id)
        lines = []   # (polygon, colour, width), drawn in order
        for s in view.shelves:
            lines.append((s.reach_zone, (0, 200, 255), 1))
            lines += [(p.polygon, (150, 150, 150), 1) for p in s.plates if p.polygon is not None]
            lines.append((s.polygon, (255, 255, 255), 1))
        lines += [(view.zones.entrance, (0, 200, 0), 2), (view.zones.exit, (0, 0, 230), 2)]
        for p, colour, width in lines:
            if not np.array_equal(p, OUTSIDE):
                cv2.polylines(img, [np.round(p).astype(np.int32)], True, colour, width,
                              cv2.LINE_AA)
        cv2.putText(img, f"camera {cam.id}", (8, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.6,
                    (255, 255, 255), 2, cv2.LINE_AA)
        target = out_dir / f"{cam.id}.png"
        cv2.imwrite(str(target), img)
        written.append(target)
    return written
