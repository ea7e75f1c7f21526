"""Person detection: ultralytics YOLO (torch) or ONNX Runtime -> :class:`Detections`.

torch and ultralytics are imported on first use only, so ``import walkout`` stays light.
No machine here reaches a model hub: :func:`ultralytics_offline` sets ultralytics up to
run offline (``YOLO_OFFLINE``, a writable settings folder, a local font) before importing
it.

Two backends give the same boxes:

- ``torch``: ultralytics ``predict`` on a ``.pt`` model, on CUDA in fp16 when a GPU is
  there, else on the CPU;
- ``onnx``: an exported ``.onnx`` run by ONNX Runtime (the base install), without
  torch: walkout's own letterbox, decoding and non-maximum suppression.

The torch backend needs the ``ultralytics`` extra (``pip install 'walkout[ultralytics]'``);
without it, asking for a ``.pt`` fails with one line that says so.

Only the classes that count as a person are kept: by default the classes named
``person`` in the model, or every class of a model that has none (the shipped real-footage
model has two classes, Normal and Fall, both a person). NMS runs across those classes,
since two classes on one person are one person.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .errors import InputError, MissingExtraError
from .trust import check_checkpoint
from .types import Detections

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[1]  # the project: models/ lives here


HUB_NAME = re.compile(r"yolo[\w.-]*\.pt")  # yolo11n.pt, yolov8s.pt, ...


def resolve_model(path: str | Path, base: str | Path | None = None) -> Path:
    """A model path: absolute, or relative to ``base`` (the folder of the store.yaml that
    names it) or, without one, to the current folder; then relative to the project
    (``models/person-yolov8s.pt``) and its ``models/``. A store's model never resolves
    against the current folder, so a file there cannot stand in for it. A bare ultralytics
    release name (``yolo11n.pt``) that is not here is passed through for ultralytics to
    download; that needs internet."""
    p = Path(path).expanduser()
    first = p if p.is_absolute() or base is None else Path(base) / p
    if first.is_file():
        return first
    for root in (ROOT, ROOT / "models"):
        q = root / p
        if not p.is_absolute() and q.is_file():
            return q
    if HUB_NAME.fullmatch(str(path)):
        return p  # an ultralytics release asset: downloaded on first use, with internet
    raise InputError(f"{path}: model file not found (expected a YOLO .pt or .onnx; shipped "
                     f"models are in {ROOT / 'models'})")


def ultralytics_offline(allow_download: bool = False):
    """Import ultralytics set up for machines without internet; returns ``YOLO``. With
    ``allow_download`` it may fetch a release model (when this machine has internet)."""
    if allow_download:
        os.environ["YOLO_OFFLINE"] = "0"
    else:
        os.environ.setdefault("YOLO_OFFLINE", "1")
    cfg = Path(os.environ.setdefault(
        "YOLO_CONFIG_DIR", str(Path(tempfile.gettempdir()) / "walkout-ultralytics")))
    require_ultralytics(".pt models, training and export")
    font = cfg / "Ultralytics" / "Arial.ttf"
    if not font.is_file():  # otherwise training and plotting try to download it
        import matplotlib

        font.parent.mkdir(parents=True, exist_ok=True)
        src = Path(matplotlib.__file__).parent / "mpl-data" / "fonts" / "ttf" / "DejaVuSans.ttf"
        shutil.copy(src, font)
    from ultralytics import YOLO

    return YOLO


def require_ultralytics(what: str) -> None:
    """One line naming the extra when ultralytics (and torch) are not installed."""
    import importlib.util

    if importlib.util.find_spec("ultralytics") is None or \
            importlib.util.find_spec("torch") is None:
        raise MissingExtraError(f"{what}: needs the ultralytics extra (ultralytics and torch are "
                           "not installed): pip install 'walkout[ultralytics]', or use an "
                           ".onnx model")


def first_words(text: str, limit: int = 100) -> str:
    """The first line of ``text``, cut at a word boundary to at most ``limit`` characters."""
    line = (text.strip().splitlines() or [""])[0].strip()
    if len(line) <= limit:
        return line
    cut = line[:limit].rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:") + " ..."


def pick_device() -> str:
    """``cuda:0`` when torch sees a GPU, else ``cpu``."""
    import torch

    return "cuda:0" if torch.cuda.is_available() else "cpu"


def person_classes(names: dict[int, str]) -> tuple[int, ...]:
    """Classes named ``person``; a model with none is all person (e.g. Normal/Fall)."""
    hits = tuple(k for k, v in names.items() if str(v).lower() == "person")
    return hits or tuple(sorted(names))


@dataclass
class Thresholds:
    conf: float = 0.25  # least confidence kept
    iou: float = 0.45  # NMS: boxes overlapping more than this are one
    imgsz: int = 640  # the model's input size (the longer side, letterboxed)
    max_det: int = 100


class Detector:
    """Persons in frames, from a YOLO model.

    Args:
        model: a ``.pt`` (torch backend) or ``.onnx`` (ONNX Runtime) file, as a path or
            relative to the project (``models/person-yolov8s.pt``).
        trusted: load a ``.pt`` that is not a shipped model (after checking its pickle;
            :mod:`walkout.trust`). A shipped one, or an ``.onnx``, needs no trust.
        classes: model classes that count as a person (default: see the module docstring).
        conf, iou, imgsz, max_det: thresholds and input size.
        device: ``cpu``, ``cuda:0`` ... (default: a GPU when there is one).
        threads: CPU threads for the model (default: the runtime's own choice, every
            core); a worker of ``walkout batch`` gets one per CPU it holds.

    Call it with one BGR frame (returns :class:`Detections`) or a list of frames (returns
    a list). Boxes are in the frame's pixels.
    """

    def __init__(self, model: str | Path, classes: Sequence[int] | None = None,
                 conf: float = 0.25, iou: float = 0.45, imgsz: int = 640, max_det: int = 100,
                 device: str | None = None, trusted: bool = False,
                 threads: int | None = None) -> None:
        self.path = resolve_model(model)
        self.threads = threads
        self.trusted = trusted  # a .pt that is not a shipped model may load (walkout.trust)
        self.backend = "onnx" if self.path.suffix == ".onnx" else "torch"
        self.settings = Thresholds(conf, iou, imgsz, max_det)
        self._classes = None if classes is None else tuple(int(c) for c in classes)
        self._device = device
        self._model = None

    # -- loading ---------------------------------------------------------------------------
    def load(self) -> Detector:
        """Load the model now (it loads on the first frame otherwise): a bad model file
        fails here, before any output is written."""
        self._load()
        return self

    def _load(self) -> None:
        if self._model is not None:
            return
        if self.backend == "onnx":
            model = _OnnxModel(self.path, self.threads)
            names = model.names
        else:
            download = not self.path.is_file()
            require_ultralytics(str(self.path))
            if not download:  # a pickle: only a shipped or trusted one (walkout.trust)
                said = check_checkpoint(self.path, self.trusted)
                if said:
                    log.warning(said)
            YOLO = ultralytics_offline(allow_download=download)
            try:
                model = YOLO(str(self.path), task="detect")
                names = dict(model.names)
            except Exception as exc:  # ultralytics raises many kinds on a bad file
                what = "could not be downloaded (no internet?)" if download else \
                    "not a YOLO model"
                raise InputError(f"{self.path}: {what} ({type(exc).__name__}: "
                                 f"{first_words(str(exc))})") from None
            self._device = self._device or pick_device()
            if self.threads and not str(self._device).startswith("cuda"):
                import torch

                torch.set_num_threads(self.threads)
        classes = self._classes if self._classes is not None else person_classes(names)
        unknown = [c for c in classes if c not in names]
        if unknown:
            raise InputError(f"{self.path}: classes {unknown} are not in the model "
                             f"(it has {dict(names)})")
        self.names, self.classes, self._model = names, classes, model

    # -- running ---------------------------------------------------------------------------
    def __call__(self, frames):
        single = isinstance(frames, np.ndarray) and frames.ndim == 3
        batch = [frames] if single else list(frames)
        self._load()
        if not batch:
            return []
        out = self._onnx(batch) if self.backend == "onnx" else self._torch(batch)
        return out[0] if single else out

    def _torch(self, batch: list[np.ndarray]) -> list[Detections]:
        s = self.settings
        extra = {"half": True} if str(self._device).startswith("cuda") else {}  # fp16 on GPU
        results = self._model.predict(batch, imgsz=s.imgsz, conf=s.conf, iou=s.iou,
                                      classes=list(self.classes), agnostic_nms=True,
                                      max_det=s.max_det, device=self._device, verbose=False,
                                      **extra)
        out = []
        for r in results:
            b = r.boxes
            out.append(Detections(b.xyxy.cpu().numpy(), b.conf.cpu().numpy(),
                                  b.cls.cpu().numpy().astype(np.int64)))
        return out

    def _onnx(self, batch: list[np.ndarray]) -> list[Detections]:
        s = self.settings
        return self._model.detect_batch(batch, s.imgsz, s.conf, s.iou, self.classes,
                                        s.max_det)


# ---- ONNX Runtime backend ------------------------------------------------------------------
def letterbox(img: np.ndarray, imgsz: int, fixed: tuple[int, int] | None = None,
              stride: int = 32) -> tuple[np.ndarray, float, tuple[int, int]]:
    """Resize keeping the aspect ratio so the longer side is ``imgsz``, then pad with grey
    114, as ultralytics does: the shorter side up to a multiple of ``stride`` (a model
    with dynamic input), or to the model's ``fixed`` (h, w). Returns the image, the scale
    and the (x, y) padding of the top-left corner."""
    h, w = img.shape[:2]
    h_out, w_out = fixed or (imgsz, imgsz)
    r = min(h_out / h, w_out / w)
    nw, nh = int(round(w * r)), int(round(h * r))
    dw, dh = w_out - nw, h_out - nh
    if fixed is None:
        dw, dh = dw % stride, dh % stride
    if (nh, nw) != (h, w):
        img = cv2.resize(img, (nw, nh), interpolation=cv2.INTER_LINEAR)
    top, bottom = int(round(dh / 2 - 0.1)), int(round(dh / 2 + 0.1))
    left, right = int(round(dw / 2 - 0.1)), int(round(dw / 2 + 0.1))
    img = cv2.copyMakeBorder(img, top, bottom, left, right, cv2.BORDER_CONSTANT,
                             value=(114, 114, 114))
    return img, r, (left, top)


def nms(boxes: np.ndarray, scores: np.ndarray, iou: float) -> np.ndarray:
    """Indices kept by greedy non-maximum suppression, best first."""
    order = np.argsort(-scores, kind="stable")
    keep = []
    x1, y1, x2, y2 = boxes.T
    area = (x2 - x1) * (y2 - y1)
    while len(order):
        i = order[0]
        keep.append(i)
        rest = order[1:]
        w = np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest])
        h = np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest])
        inter = np.maximum(w, 0) * np.maximum(h, 0)
        order = rest[inter / (area[i] + area[rest] - inter + 1e-9) <= iou]
    return np.asarray(keep, np.int64)


class _OnnxModel:
    def __init__(self, path: Path, threads: int | None = None) -> None:
        try:
            import onnxruntime as ort
        except ImportError:
            raise MissingExtraError(f"{path}: onnxruntime is not installed (it is part of the base "
                               "install: pip install walkout)") from None
        try:
            options = ort.SessionOptions()
            if threads:
                options.intra_op_num_threads = threads
            self.session = ort.InferenceSession(str(path), options, providers=_providers(ort))
        except Exception as exc:
            raise InputError(f"{path}: not an ONNX model ({type(exc).__name__}: "
                             f"{first_words(str(exc))})") from None
        inp = self.session.get_inputs()[0]
        self.input = inp.name
        # a model exported with a fixed batch of 1 takes one image a run
        self.max_batch = inp.shape[0] if isinstance(inp.shape[0], int) else None
        self.shape = tuple(int(x) if isinstance(x, int) else 0 for x in inp.shape[2:4])
        meta = self.session.get_modelmeta().custom_metadata_map
        names = meta.get("names")
        if names:  # ultralytics writes a python dict literal
            import ast

            self.names = {int(k): str(v) for k, v in ast.literal_eval(names).items()}
        else:
            n_out = self.session.get_outputs()[0].shape[1]
            self.names = {i: str(i) for i in range(int(n_out) - 4)}

    def detect(self, img: np.ndarray, imgsz: int, conf: float, iou: float,
               classes: tuple[int, ...], max_det: int) -> Detections:
        return self.detect_batch([img], imgsz, conf, iou, classes, max_det)[0]

    def detect_batch(self, imgs: list[np.ndarray], imgsz: int, conf: float, iou: float,
                     classes: tuple[int, ...], max_det: int) -> list[Detections]:
        """Detections of each image, with one model run per letterbox shape (the frames of
        one tick from cameras of one size are one run): the same boxes as one image at a
        time, since every image is letterboxed exactly as it would be alone."""
        boxed = [letterbox(img, imgsz, self.shape if all(self.shape) else None)
                 for img in imgs]
        out: list[Detections | None] = [None] * len(imgs)
        groups: dict[tuple[int, ...], list[int]] = {}
        for k, (lb, _, _) in enumerate(boxed):
            groups.setdefault(lb.shape, []).append(k)
        step = self.max_batch or len(imgs)
        runs = [ks[i:i + step] for ks in groups.values() for i in range(0, len(ks), step)]
        for ks in runs:
            x = cv2.dnn.blobFromImages([boxed[k][0] for k in ks], 1 / 255.0, swapRB=True)
            preds = self.session.run(None, {self.input: x})[0]  # (batch, 4 + classes, anchors)
            for k, pred in zip(ks, preds, strict=True):
                _, r, pad = boxed[k]
                out[k] = self._boxes(pred.T, r, pad, imgs[k].shape[:2], conf, iou, classes,
                                     max_det)
        return out

    @staticmethod
    def _boxes(pred: np.ndarray, r: float, pad: tuple[int, int], hw: tuple[int, int],
               conf: float, iou: float, classes: tuple[int, ...], max_det: int) -> Detections:
        """One image's raw predictions (anchors, 4 + classes) as its detections."""
        px, py = pad
        # as ultralytics: each box takes its best class, then the classes are filtered
        best = pred[:, 4:].argmax(1)
        score = pred[np.arange(len(pred)), 4 + best]
        ok = (score > conf) & np.isin(best, classes)
        pred, best, score = pred[ok], best[ok], score[ok]
        cx, cy, w, h = pred[:, 0], pred[:, 1], pred[:, 2], pred[:, 3]
        boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
        keep = nms(boxes, score, iou)[:max_det]
        boxes = (boxes[keep] - [px, py, px, py]) / r
        H, W = hw
        boxes = np.clip(boxes, 0, [W, H, W, H])
        return Detections(boxes, score[keep], best[keep].astype(np.int64))


def _providers(ort) -> list[str]:
    have = ort.get_available_providers()
    return [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in have]


# ---- static false positives ----------------------------------------------------------------
class StaticBoxFilter:
    """Drop detections that never move: a shelf edge or a poster the model takes for a
    person fires at the same place frame after frame; a shopper moves.

    Each new detection that overlaps no known *site* by ``iou`` starts one, anchored on
    its box. Every frame, a site counts as seen if some detection overlaps its anchor by
    ``iou`` or more. A site becomes *static* once it is at least ``window_s`` old, was
    seen in at least ``share`` of the frames since, and the boxes that saw it overlapped
    the anchor by ``tight`` or more on median (a fixture's box barely jitters; a person
    standing at a shelf still shifts and reaches). Detections on a static site are dropped
    from then on. A site unseen for ``forget_s`` is forgotten.
    """

    def __init__(self, window_s: float = 10.0, iou: float = 0.7, share: float = 0.8,
                 tight: float = 0.9, forget_s: float = 30.0) -> None:
        self.window_s, self.iou, self.share = window_s, iou, share
        self.tight, self.forget_s = tight, forget_s
        self.reset()

    def reset(self) -> None:
        self.sites: list[dict] = []
        self.frames = 0

    def update(self, dets: Detections, t: float) -> Detections:
        from .track import iou_batch

        self.frames += 1
        self.sites = [s for s in self.sites if t - s["last_t"] <= self.forget_s]
        anchors = np.array([s["anchor"] for s in self.sites]).reshape(-1, 4)
        overlap = iou_batch(dets.xyxy, anchors)
        keep = np.ones(len(dets), bool)
        for j, site in enumerate(self.sites):
            hit = overlap[:, j] >= self.iou
            if not hit.any():
                continue
            site["seen"] += 1
            site["last_t"] = t
            site["ious"].append(float(overlap[hit, j].max()))
            if (not site["static"] and t - site["t0"] >= self.window_s
                    and site["seen"] >= self.share * (self.frames - site["frame0"] + 1)
                    and float(np.median(site["ious"])) >= self.tight):
                site["static"] = True
            if site["static"]:
                keep &= ~hit
        for i in np.flatnonzero(~(overlap >= self.iou).any(1)):
            self.sites.append({"anchor": dets.xyxy[i].astype(float), "t0": t, "last_t": t,
                               "frame0": self.frames, "seen": 1, "ious": [1.0],
                               "static": False})
        return dets[keep]
