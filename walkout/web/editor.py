"""The store editor's server side: a camera's frame to draw on, and a drawn store saved as a
store.yaml that ``walkout validate`` accepts (it is checked by the same code before it is
put in place).

The page draws in the frame's pixels: shelves, their plates and reach zones, the entrance,
the exit and regions to ignore, and four or more floor points whose positions in metres the
user types. What is not drawn comes from a **base** store: the run's own store.yaml (its
``run.json``), else the shipped webcam store: the catalogue of products, the sensors and
the detector. The floor points give ``camera.homography`` (pixels to floor metres, a
least-squares fit through every point; RANSAC would drop points a user placed on purpose).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from ..errors import WalkoutError
from ..io import RUN_JSON, write_text_atomic

EDITOR = "editor"            # the folder in OUT_DIR that uploads and saved stores go to
# a phone's minute of 1080p video is 100-200 MB; a still or a few seconds of video is what
# the editor needs: a frame to draw on
MAX_UPLOAD = 64 * 1024 * 1024
UPLOAD_TYPES = {"image/png": ".png", "image/jpeg": ".jpg", "video/mp4": ".mp4",
                "video/quicktime": ".mov", "video/x-msvideo": ".avi",
                "video/webm": ".webm", "video/x-matroska": ".mkv"}
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,80}\.ya?ml")
WEBCAM_STORE = Path(__file__).resolve().parents[1] / "stores" / "webcam.yaml"
MIN_FLOOR_POINTS = 4


class EditorError(WalkoutError):
    """A request the editor cannot serve; ``status`` is the HTTP status that says why."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def _base_path(out: Path) -> Path:
    try:
        store = json.loads((out / RUN_JSON).read_text(encoding="utf-8")).get("store")
    except (OSError, ValueError, AttributeError):
        store = None
    if store and Path(store).is_file():
        return Path(store)
    return WEBCAM_STORE


def base_store(out: Path) -> dict:
    """The base the drawing goes onto: its catalogue (for the plates' products), its path,
    and its camera's frame rate."""
    from ..config import load_store

    path = _base_path(out)
    store = load_store(path)
    if store.world is not None:
        raise EditorError(f"{path}: a store of several cameras (the editor draws one camera's "
                          "store)")
    return {"path": str(path), "fps": store.camera.fps,
            "catalogue": [{"sku": p.sku, "name": p.name} for p in store.catalogue]}


# ---- the frame ---------------------------------------------------------------------------------
def upload(out: Path, content_type: str, data: bytes) -> Path:
    """Keep an uploaded image or video as ``OUT_DIR/editor/upload.<ext>``."""
    ext = UPLOAD_TYPES.get(content_type.split(";")[0].strip().lower())
    if ext is None:
        raise EditorError(f"Content-Type {content_type or 'none'}: expected an image or a "
                          f"video ({', '.join(sorted(UPLOAD_TYPES))})", 415)
    if len(data) > MAX_UPLOAD:
        raise EditorError(f"{len(data)} bytes (expected at most {MAX_UPLOAD})", 413)
    folder = out / EDITOR
    folder.mkdir(exist_ok=True)
    for old in folder.glob("upload.*"):
        old.unlink()
    path = folder / f"upload{ext}"
    tmp = folder / f".upload{ext}.tmp"
    tmp.write_bytes(data)
    tmp.replace(path)
    if _first_frame(path) is None:
        path.unlink()
        raise EditorError(f"the uploaded {ext[1:]} file has no readable image", 400)
    return path


def _first_frame(path_or_index) -> np.ndarray | None:
    import cv2

    if isinstance(path_or_index, Path) and path_or_index.suffix in (".png", ".jpg"):
        return cv2.imread(str(path_or_index))
    cap = cv2.VideoCapture(path_or_index if isinstance(path_or_index, int)
                           else str(path_or_index))
    try:
        ok, image = cap.read()
    finally:
        cap.release()
    return image if ok else None


def frame(out: Path, source: str) -> bytes:
    """A JPEG of the frame to draw on: ``run`` the run's video, ``upload`` the last upload,
    ``camera:N`` a frame grabbed from camera N of this machine."""
    import cv2

    if source == "run":
        from .state import Evidence

        video = Evidence(out)._video()
        if video is None:
            raise EditorError("this run has no video readable from here (upload a frame)", 404)
        image = _first_frame(video)
    elif source == "upload":
        found = sorted((out / EDITOR).glob("upload.*"))
        if not found:
            raise EditorError("nothing uploaded yet", 404)
        image = _first_frame(found[0])
    elif re.fullmatch(r"camera:\d{1,2}", source):
        image = _first_frame(int(source.split(":")[1]))
    else:
        raise EditorError(f"source {source!r}: expected run, upload or camera:N")
    if image is None:
        raise EditorError(f"source {source}: no frame could be read", 404)
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90])
    if not ok:
        raise EditorError(f"source {source}: the frame could not be encoded", 500)
    return buf.tobytes()


# ---- saving ------------------------------------------------------------------------------------
def _poly(value, where: str) -> list[list[float]]:
    if not isinstance(value, list) or len(value) < 3:
        raise EditorError(f"{where}: expected a polygon of 3 or more [x, y] points")
    try:
        pts = [[round(float(x), 1), round(float(y), 1)] for x, y in value]
    except (TypeError, ValueError):
        raise EditorError(f"{where}: expected [x, y] points of numbers") from None
    return pts


# one unit of a packaged product weighs within about 1% of its label (and a load cell
# reads no finer than a gram): the spread given to a product added in the editor
UNIT_SPREAD = 0.01


def _product(q, where: str) -> dict:
    """A product added in the editor (sku, name, weight in grams, price)."""
    if not isinstance(q, dict):
        raise EditorError(f"{where}: expected an object")
    try:
        weight, price = float(q.get("weight_g")), float(q.get("price"))
    except (TypeError, ValueError):
        raise EditorError(f"{where}: weight_g, price: expected numbers") from None
    return {"sku": str(q.get("sku", "")).strip(), "name": str(q.get("name", "")).strip(),
            "weight_g": weight, "weight_sd_g": round(max(1.0, UNIT_SPREAD * weight), 2),
            "price": price}


def _count(value, where: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise EditorError(f"{where}: expected a whole number of units") from None


def homography(points) -> list[list[float]]:
    """Pixels to floor metres from ``[[u, v, x, y], ...]`` (4 or more points): a
    least-squares fit through all of them."""
    import cv2

    if not isinstance(points, list) or len(points) < MIN_FLOOR_POINTS:
        raise EditorError(f"floor_points: expected {MIN_FLOOR_POINTS} or more points with "
                          "their floor positions")
    try:
        arr = np.array([[float(v) for v in p] for p in points], float)
    except (TypeError, ValueError):
        raise EditorError("floor_points: expected [u, v, x, y] numbers") from None
    if arr.shape[1] != 4 or not np.isfinite(arr).all():
        raise EditorError("floor_points: expected [u, v, x, y] numbers")
    H, _ = cv2.findHomography(arr[:, :2], arr[:, 2:], 0)
    if H is None or not np.isfinite(H).all() or abs(np.linalg.det(H)) < 1e-12:
        raise EditorError("floor_points: no floor calibration fits them (four points, no "
                          "three on one line, in the image and on the floor)")
    H = H / H[2, 2]
    return [[float(f"{v:.6g}") for v in row] for row in H]


def build(out: Path, draft: dict, width: int, height: int) -> dict:
    """The store.yaml tree of a drawing on the base store (see the module doc)."""
    from ..config import load_store

    if not isinstance(draft, dict):
        raise EditorError("store: expected an object")
    base_path = _base_path(out)
    raw = load_store(base_path).to_dict()
    raw["name"] = str(draft.get("name") or "drawn in walkout serve")[:100]
    raw["camera"] = {"width": int(width), "height": int(height), "fps": raw["camera"]["fps"]}
    if draft.get("floor_points"):
        raw["camera"]["homography"] = homography(draft["floor_points"])
    model = Path(raw["detector"]["model"])
    if not model.is_absolute():   # the saved store lives elsewhere: keep the base's model
        from ..detect import resolve_model

        raw["detector"]["model"] = str(resolve_model(str(model), base_path.parent))
    raw["detector"].pop("ignore", None)
    ignore = [_poly(q, f"ignore[{k}]") for k, q in enumerate(draft.get("ignore") or [])]
    if ignore:
        raw["detector"]["ignore"] = ignore
    shelves = []
    for k, s in enumerate(draft.get("shelves") or []):
        where = f"shelves[{k}]"
        if not isinstance(s, dict):
            raise EditorError(f"{where}: expected an object")
        plates = [{"id": str(q.get("id", "")), "sku": str(q.get("sku", "")),
                   "units": _count(q.get("units", 0), f"{where}.plates[{j}].units"),
                   "polygon": _poly(q.get("polygon"), f"{where}.plates[{j}].polygon")}
                  for j, q in enumerate(s.get("plates") or []) if isinstance(q, dict)]
        if s.get("reach_zone") is None:
            raise EditorError(f"{where} ({s.get('id')}): no reach zone drawn (where shoppers "
                              "stand to reach into it)")
        shelves.append({"id": str(s.get("id", "")),
                        "polygon": _poly(s.get("polygon"), f"{where}.polygon"),
                        "reach_zone": _poly(s.get("reach_zone"), f"{where}.reach_zone"),
                        "plates": plates})
    raw["shelves"] = shelves
    raw["catalogue"] = raw["catalogue"] + [_product(q, f"products[{k}]") for k, q in
                                           enumerate(draft.get("products") or [])]
    zones = draft.get("zones") or {}
    raw["zones"] = {d: _poly(zones.get(d), f"zones.{d}") for d in ("entrance", "exit")}
    return raw


def save(out: Path, body: dict) -> Path:
    """Save a drawing as ``OUT_DIR/editor/<name>``: written beside, loaded back by the code
    ``walkout validate`` runs, then put in place (atomically); nothing is left on error."""
    from ..cli.common import backend_model
    from ..config import load_store
    from ..config.write import dump_yaml

    name = str(body.get("name") or "store.yaml")
    if not NAME.fullmatch(name):
        raise EditorError(f"name {name!r}: expected a file name ending in .yaml (letters, "
                          "digits, '.', '_', '-')")
    try:
        width, height = int(body["width"]), int(body["height"])
    except (KeyError, TypeError, ValueError):
        raise EditorError("width, height: expected the frame's size in pixels") from None
    raw = build(out, body.get("store"), width, height)
    folder = out / EDITOR
    folder.mkdir(exist_ok=True)
    target = folder / name
    trial = folder / f".{name}.check.yaml"
    text = ("# drawn in walkout serve's store editor; docs/store-yaml.md documents every key\n"
            + dump_yaml(raw))
    write_text_atomic(trial, text)
    try:
        store = load_store(trial)
        backend_model(store.detector.model, "auto", folder)   # as walkout validate does
    except WalkoutError as exc:
        raise EditorError(str(exc).replace(str(trial), str(target))) from None
    finally:
        trial.unlink(missing_ok=True)
    write_text_atomic(target, text)
    return target
