"""Peer trackers for side-by-side benchmarks: the four box trackers of roboflow's ``trackers``.

``trackers`` (PyPI, Apache-2.0, written against 2.6.1) is optional: it is imported lazily, and
:func:`available` returns an empty list when it is not installed.

Each peer runs with its library defaults, except ``frame_rate`` (a constructor argument of all
four, used to scale ``lost_track_buffer``) and, for BoT-SORT, ``enable_cmc=False``: with it the
tracker builds no ``CMC`` object (``tracker.cmc is None``) and ``update`` skips the
camera-motion step, which in any case also needs an image and we pass none (``frame=None``).
So BoT-SORT here is motion + IoU only, like the other three.

What a peer "outputs" in a frame is the ``sv.Detections`` that ``update`` returns, keeping the
rows with ``tracker_id >= 0``; rows with ``-1`` are detections not (yet) on a confirmed track.
The boxes are the input detection boxes, not Kalman estimates, and coasting tracks (alive but
unmatched this frame) are not reported. Track ids are the library's, starting at 0.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

PEERS: tuple[str, ...] = (
    "trackers-SORT",
    "trackers-ByteTrack",
    "trackers-OC-SORT",
    "trackers-BoT-SORT",
)

# Peer name -> class exported by the top-level ``trackers`` package.
_CLASSES: dict[str, str] = {
    "trackers-SORT": "SORTTracker",
    "trackers-ByteTrack": "ByteTrackTracker",
    "trackers-OC-SORT": "OCSORTTracker",
    "trackers-BoT-SORT": "BoTSORTTracker",
}

Row = tuple[int, int, float, float, float, float]


def available() -> list[str]:
    """Names from :data:`PEERS` whose tracker class can be imported here."""
    try:
        import trackers
    except ImportError:
        return []
    return [name for name in PEERS if hasattr(trackers, _CLASSES[name])]


def _make(name: str, frame_rate: float) -> Any:
    """A fresh, reset tracker for peer ``name`` (library defaults plus ``frame_rate``)."""
    import trackers

    if name not in _CLASSES:
        raise ValueError(f"unknown peer {name!r}; expected one of {PEERS}")
    kwargs: dict[str, Any] = {"frame_rate": frame_rate}
    if name == "trackers-BoT-SORT":
        kwargs["enable_cmc"] = False  # no camera-motion compensation (see module docstring)
    tracker = getattr(trackers, _CLASSES[name])(**kwargs)
    tracker.reset()
    return tracker


def run_peer(
    name: str,
    frames: list[tuple[int, np.ndarray, np.ndarray]],
    frame_rate: float = 30.0,
) -> tuple[list[Row], float]:
    """Track ``frames`` with peer ``name``.

    frames: in order, (frame_number_1_based, xyxy float (N,4) pixels, scores (N,)); N may be 0.
    Returns (rows, seconds) where rows are (frame, track_id, x, y, w, h) MOTChallenge
    top-left+size of every track the peer outputs in that frame, and seconds is the wall time
    spent inside the peer's update calls only (time.perf_counter around each update call,
    summed). Every frame, empty ones included, is passed to ``update``.
    """
    import numpy as np
    import supervision as sv

    tracker = _make(name, frame_rate)
    rows: list[Row] = []
    seconds = 0.0
    for frame, xyxy, scores in frames:
        boxes = np.asarray(xyxy, dtype=np.float64).reshape(-1, 4)
        detections = sv.Detections(
            xyxy=boxes,
            confidence=np.asarray(scores, dtype=np.float64).reshape(-1),
            class_id=np.zeros(len(boxes), dtype=int),
        )
        t0 = time.perf_counter()
        out = tracker.update(detections)
        seconds += time.perf_counter() - t0
        if out.tracker_id is None:
            continue
        for (x1, y1, x2, y2), tid in zip(out.xyxy.tolist(), out.tracker_id.tolist(), strict=True):
            if tid >= 0:
                rows.append((frame, tid, x1, y1, x2 - x1, y2 - y1))
    return rows, seconds
