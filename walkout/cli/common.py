"""What the command groups share: argument types, the detector and fusion settings of a run,
and the display window."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import WalkoutError


def size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        msg = f"expected WIDTHxHEIGHT, e.g. 640x480, got {text!r}"
        raise argparse.ArgumentTypeError(msg) from None
    if w < 64 or h < 48:
        raise argparse.ArgumentTypeError(f"expected at least 64x48, got {text!r}")
    return w, h


def positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}")
    return value


def image_size(text: str) -> tuple[float, float]:
    """``WxH`` (e.g. ``640x480``): an image's width and height in pixels, both > 0."""
    parts = text.lower().split("x")
    try:
        w, h = (float(v) for v in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT such as 640x480, "
                                         f"got {text!r}") from None
    if not (0 < w < float("inf") and 0 < h < float("inf")):
        raise argparse.ArgumentTypeError(f"expected a width and height > 0, got {text!r}")
    return w, h


def make_detector(store, model: str | None, backend: str, device: str | None,
                  trust: bool = False):
    """The store's detector (or ``model``) on ``backend`` (see :func:`backend_model`). The
    store's model resolves relative to its store.yaml; ``trust`` (``--trust-model``), or
    the store's ``detector.trust`` for its own model, lets a .pt that is not shipped load."""
    from ..detect import Detector

    d = store.detector
    base = None if model or store.path is None else Path(store.path).parent
    trusted = trust or (d.trust and not model)
    return Detector(backend_model(model or d.model, backend, base),
                    classes=list(d.person_classes), conf=d.track_floor, imgsz=d.imgsz,
                    device=device, trusted=trusted)


def backend_model(model: str, backend: str, base=None):
    """The model file to load for ``backend``: ``auto`` prefers the ONNX export beside a
    ``.pt`` (ONNX Runtime is in the base install, torch is an extra), ``onnx`` needs one,
    ``torch`` takes the ``.pt`` as given. ``base``: the folder a store's model path is
    relative to (:func:`walkout.detect.resolve_model`)."""
    from ..detect import resolve_model

    path = resolve_model(model, base)
    if backend != "torch" and path.suffix == ".pt" and path.with_suffix(".onnx").is_file():
        return path.with_suffix(".onnx")
    if backend == "onnx" and path.suffix != ".onnx":
        raise WalkoutError(f"{path}: --backend onnx needs {path.with_suffix('.onnx').name} "
                           "beside it (walkout train-detector exports one)")
    if backend == "torch" and path.suffix == ".onnx":
        if not path.with_suffix(".pt").is_file():
            raise WalkoutError(f"{path}: --backend torch needs {path.with_suffix('.pt').name} "
                               "beside it (an ONNX model runs on ONNX Runtime)")
        return path.with_suffix(".pt")
    return path


def trust_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--trust-model", action="store_true",
                        help="load a .pt model that is not shipped with walkout (a .pt can "
                             "run code when loaded; its pickle is checked first)")


def backend_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--backend", choices=["auto", "torch", "onnx"], default="auto",
                        help="auto: the .onnx beside a .pt model, on ONNX Runtime; torch: the "
                             ".pt on ultralytics (the ultralytics extra)")


def fusion_params(args: argparse.Namespace):
    """The fusion settings of ``--ambiguous-below`` (None: the defaults)."""
    if args.ambiguous_below is None:
        return None
    from ..fusion import FusionParams

    if not 0.0 <= args.ambiguous_below <= 1.0:
        raise WalkoutError(f"--ambiguous-below: expected a confidence from 0 to 1, got "
                           f"{args.ambiguous_below:g}")
    return FusionParams(ambiguous_below=args.ambiguous_below)


def ambiguous_below_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ambiguous-below", type=float, default=None, metavar="C",
                        help="flag a receipt ambiguous when one of its items was decided with "
                             "a confidence under C, 0 to 1 (default 0.25; docs/cli.md: "
                             "the trade-off)")


def display_show(title: str):
    """A ``show(image) -> bool`` for a window, or None (with a clear note) without a display."""
    import os

    import cv2

    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY")
                                                  or os.environ.get("WAYLAND_DISPLAY")):
        print("walkout: --show: no display (DISPLAY is not set); running without a window",
              file=sys.stderr)
        return None
    try:
        cv2.namedWindow(title, cv2.WINDOW_NORMAL)
    except cv2.error as exc:
        print(f"walkout: --show: cannot open a window ({str(exc).splitlines()[0]}); running "
              "without one", file=sys.stderr)
        return None

    def show(img) -> bool:
        cv2.imshow(title, img)
        return (cv2.waitKey(1) & 0xFF) not in (ord("q"), 27)

    return show


def display_keys(title: str):
    """A ``show(image) -> key`` window ('' no key, None to stop), or None without a display."""
    import cv2

    show = display_show(title)
    if show is None:
        return None

    def show_keys(img):
        cv2.imshow(title, img)
        k = cv2.waitKey(1) & 0xFF
        if k in (ord("q"), 27):
            return None
        return chr(k) if k != 0xFF else ""

    return show_keys
