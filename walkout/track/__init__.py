"""Multi-object tracking: a Kalman filter (filterpy) and Hungarian assignment (scipy).

Two trackers share one contract (house style: ``update(detections) -> Detections`` once a
frame, even with no detections, plus ``reset()``; ids are per instance, starting at 1):

- :class:`SortTracker` is the original SORT (Bewley et al., ICIP 2016), kept exact so that it
  reproduces SORT's published MOT15 numbers. It is the regression test of the filter and
  the assignment, and the ``sort`` preset.
- :class:`Tracker` is walkout's tracker (the ``default`` preset). On top of SORT it uses:

  * two association passes, the second over low-score detections that would otherwise be
    thrown away (the idea of ByteTrack, Zhang et al., ECCV 2022);
  * observation-centric momentum: the direction a track was last seen moving in is part of
    the association cost (OC-SORT, Cao et al., CVPR 2023);
  * observation-centric recovery: a track that missed frames is also matched on its last
    observed box, not only on its drifting prediction (OC-SORT);
  * observation-centric re-update: when a lost track is found again, its filter is rerun
    from the last observation over a straight virtual path to the new one, so the velocity
    that drifted while it was unseen is corrected (OC-SORT);
  * a size-adaptive constant-velocity filter on the box corners (noise scaled with the box,
    as ByteTrack / BoT-SORT), defined with filterpy's ``KalmanFilter`` (:func:`kalman_filter`)
    and run for all tracks at once in its factored form;
  * ByteTrack's IoU gates per pass (0.2 first, 0.5 low-score, 0.3 tentative) and OC-SORT's
    0.3 for recovery (every setting's source is in docs/tracking.md);
  * optional gating in floor metres when a store homography is known;
  * optional coasting (``coast_s``, off by default as in the published trackers): a missed
    confirmed track still reports its predicted box (with ``det_index`` -1); the store
    pipeline turns it on for 0.1 s so that a one-frame dropout does not make a shopper
    vanish.

The package: :mod:`.boxes` (IoU and assignment), :mod:`.kalman` (the filter maths),
:mod:`.sort` and :mod:`.tracker`; :func:`make_tracker` picks one by preset name.
"""

from __future__ import annotations

import numpy as np

from .boxes import has_choice, hungarian, iou_batch, linear_assignment
from .kalman import (
    STD_POSITION,
    STD_VELOCITY,
    batch_predict,
    batch_update,
    full_covariance,
    initial_covariance,
    kalman_filter,
    noise_scales,
    pack,
    process_matrix,
    process_noise,
    unpack,
    virtual_path,
)
from .sort import SortTracker
from .tracker import Tracker, TrackerConfig

PRESETS = ("default", "sort")


def make_tracker(preset: str = "default", *, frame_rate: float = 30.0,
                 homography: np.ndarray | None = None,
                 image_size: tuple[float, float] | None = None, **overrides):
    """A tracker by preset name: ``default`` (:class:`Tracker`) or ``sort`` (original SORT:
    ``max_age=1, min_hits=3, iou_threshold=0.3``, which uses neither the frame rate, the
    homography nor the image size)."""
    if preset == "sort":
        return SortTracker(**overrides)
    if preset == "default":
        return Tracker(frame_rate=frame_rate, homography=homography, image_size=image_size,
                       **overrides)
    raise ValueError(f"unknown tracker preset {preset!r} (expected one of: {', '.join(PRESETS)})")


__all__ = [
    "PRESETS",
    "STD_POSITION",
    "STD_VELOCITY",
    "SortTracker",
    "Tracker",
    "TrackerConfig",
    "batch_predict",
    "batch_update",
    "full_covariance",
    "has_choice",
    "hungarian",
    "initial_covariance",
    "iou_batch",
    "kalman_filter",
    "linear_assignment",
    "make_tracker",
    "noise_scales",
    "pack",
    "process_matrix",
    "process_noise",
    "unpack",
    "virtual_path",
]
