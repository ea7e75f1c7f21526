"""Box overlap and one-to-one assignment, shared by the trackers and by zones.

Boxes are ``x1, y1, x2, y2`` pixels. :func:`linear_assignment` is the one place a tracker
pairs tracks with detections (house style: the empty case first, the threshold gate after
the Hungarian step).
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

from ..types import Detections


def iou_batch(a_xyxy: np.ndarray, b_xyxy: np.ndarray) -> np.ndarray:
    """``(N, M)`` intersection over union of two sets of ``x1, y1, x2, y2`` boxes."""
    return iou_arrays(np.asarray(a_xyxy, np.float64).reshape(-1, 4),
                np.asarray(b_xyxy, np.float64).reshape(-1, 4))


def iou_arrays(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """:func:`iou_batch` of ``(N, 4)`` and ``(M, 4)`` float64 arrays, with as few numpy
    calls as it takes (the tracker calls it every frame on a few boxes)."""
    wh = np.minimum(a[:, None, 2:], b[:, 2:])
    wh -= np.maximum(a[:, None, :2], b[:, :2])
    np.maximum(wh, 0.0, out=wh)
    inter = wh[..., 0] * wh[..., 1]
    da, db = a[:, 2:] - a[:, :2], b[:, 2:] - b[:, :2]
    union = (da[:, 0] * da[:, 1])[:, None] + db[:, 0] * db[:, 1]
    union -= inter
    np.maximum(union, 1e-12, out=union)
    inter /= union
    return inter


# ---- assignment ----------------------------------------------------------------------------
def linear_assignment(valid: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One-to-one pairs among the ``valid`` candidates of a score matrix, maximising the
    total ``score``. Returns ``(rows, cols)`` of the pairs kept.

    When no row and no column has more than one candidate, the candidates are the answer
    and the Hungarian step is skipped (SORT's shortcut); otherwise :func:`hungarian` runs.
    """
    rows, cols = np.nonzero(valid)
    return hungarian(valid, score) if has_choice(rows, cols) else (rows, cols)


def has_choice(rows, cols) -> bool:
    """Whether some row or column appears twice among candidate pairs ``(rows, cols)``
    (arrays or lists)."""
    if isinstance(rows, np.ndarray):
        rows, cols = rows.tolist(), cols.tolist()  # tiny: plain sets beat numpy here
    return len(set(rows)) < len(rows) or len(set(cols)) < len(cols)


def hungarian(valid: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """scipy's ``linear_sum_assignment`` maximising ``score``, keeping ``valid`` pairs only."""
    rows, cols = linear_sum_assignment(np.where(valid, -score, 1e6))
    ok = valid[rows, cols]
    return rows[ok], cols[ok]


def tracked(xyxy: np.ndarray, confidence: np.ndarray, class_id: np.ndarray, ids: list[int],
             det_index: list[int]) -> Detections:
    """Tracker output: boxes with ``tracker_id`` and ``data["det_index"]`` (house style:
    the index of the detection each track was updated with)."""
    n = len(ids)
    return Detections(
        xyxy=np.asarray(xyxy, np.float32).reshape(n, 4),
        confidence=np.asarray(confidence, np.float32).reshape(n),
        class_id=np.asarray(class_id, np.int64).reshape(n),
        tracker_id=np.asarray(ids, np.int64).reshape(n),
        data={"det_index": np.asarray(det_index, np.int64).reshape(n)},
    )


# Returned for frames with neither tracks nor detections; zero-size arrays cannot be
# changed through, so one shared instance is safe.
NO_TRACKS = tracked(np.zeros((0, 4)), [], [], [], [])
