"""The original SORT (Bewley et al., ICIP 2016), kept exact so that it reproduces SORT's
published MOT15 numbers: the regression test of the filter and the assignment, and the
``sort`` preset of :func:`walkout.track.make_tracker`."""

from __future__ import annotations

import math

import numpy as np
from filterpy.kalman import KalmanFilter
from scipy.optimize import linear_sum_assignment

from ..types import Detections
from .boxes import iou_batch, tracked


def _sort_z(xyxy: np.ndarray) -> np.ndarray:
    """SORT's measurement: centre u, v, scale s (area) and aspect ratio r, as ``(4, 1)``."""
    w, h = xyxy[2] - xyxy[0], xyxy[3] - xyxy[1]
    return np.array([xyxy[0] + w / 2.0, xyxy[1] + h / 2.0, w * h, w / float(h)]).reshape(4, 1)


def _sort_box(x: np.ndarray) -> np.ndarray:
    w = math.sqrt(x[2, 0] * x[3, 0]) if x[2, 0] * x[3, 0] > 0 else float("nan")
    h = x[2, 0] / w
    return np.array([x[0, 0] - w / 2.0, x[1, 0] - h / 2.0, x[0, 0] + w / 2.0, x[1, 0] + h / 2.0])


class _SortTrack:
    """One SORT track: a constant-velocity filter on ``[u, v, s, r, u', v', s']``."""

    def __init__(self, xyxy: np.ndarray, track_id: int) -> None:
        kf = KalmanFilter(dim_x=7, dim_z=4)
        kf.F = np.array([[1, 0, 0, 0, 1, 0, 0], [0, 1, 0, 0, 0, 1, 0], [0, 0, 1, 0, 0, 0, 1],
                         [0, 0, 0, 1, 0, 0, 0], [0, 0, 0, 0, 1, 0, 0], [0, 0, 0, 0, 0, 1, 0],
                         [0, 0, 0, 0, 0, 0, 1]], float)
        kf.H = np.eye(4, 7)
        kf.R[2:, 2:] *= 10.0
        kf.P[4:, 4:] *= 1000.0  # unobserved velocities start very uncertain
        kf.P *= 10.0
        kf.Q[-1, -1] *= 0.01
        kf.Q[4:, 4:] *= 0.01
        kf.x[:4] = _sort_z(xyxy)
        self.kf = kf
        self.id = track_id
        self.time_since_update = 0
        self.hits = 0
        self.hit_streak = 0
        self.det_index = -1
        self.score = 0.0
        self.class_id = 0

    def predict(self) -> np.ndarray:
        if self.kf.x[6, 0] + self.kf.x[2, 0] <= 0:  # the area may not shrink below zero
            self.kf.x[6, 0] = 0.0
        self.kf.predict()  # x = Fx; P = FPF' + Q
        if self.time_since_update > 0:
            self.hit_streak = 0
        self.time_since_update += 1
        return _sort_box(self.kf.x)

    def update(self, xyxy: np.ndarray) -> None:
        self.time_since_update = 0
        self.hits += 1
        self.hit_streak += 1
        self.kf.update(_sort_z(xyxy))  # K = PH'(HPH' + R)^-1; x = x + K(z - Hx)


class SortTracker:
    """The original SORT: IoU-only Hungarian matching of Kalman predictions to detections.

    Args:
        max_age: frames a track survives without a match.
        min_hits: consecutive matches before a track is reported (except in the first
            ``min_hits`` frames of a video, as in SORT).
        iou_threshold: minimum IoU of a match.
    """

    def __init__(self, max_age: int = 1, min_hits: int = 3, iou_threshold: float = 0.3) -> None:
        self.max_age, self.min_hits, self.iou_threshold = max_age, min_hits, iou_threshold
        self.reset()

    def reset(self) -> None:
        """Forget every track and restart ids at 1 (call between videos)."""
        self._none = tracked(np.zeros((0, 4)), [], [], [], [])  # shared by empty frames
        self.tracks: list[_SortTrack] = []
        self.frame_count = 0
        self._next_id = 1

    def update(self, detections: Detections) -> Detections:
        """Advance one frame. Must be called for every frame, even with no detections."""
        self.frame_count += 1
        if not self.tracks and not len(detections):  # an empty store: nothing to do
            return self._none
        dets = detections.xyxy.astype(np.float64)
        preds = np.array([t.predict() for t in self.tracks]).reshape(-1, 4)
        alive = ~np.isnan(preds).any(axis=1)
        self.tracks = [t for t, ok in zip(self.tracks, alive) if ok]
        preds = preds[alive]
        matches, unmatched_d, _ = self._associate(dets, preds)
        for d, t in matches:
            trk = self.tracks[t]
            trk.update(dets[d])
            trk.det_index, trk.score = int(d), float(detections.confidence[d])
            trk.class_id = int(detections.class_id[d])
        for d in unmatched_d:
            trk = _SortTrack(dets[d], self._next_id)
            self._next_id += 1
            trk.det_index, trk.score = int(d), float(detections.confidence[d])
            trk.class_id = int(detections.class_id[d])
            self.tracks.append(trk)
        out_boxes, out_ids, out_idx, out_conf, out_cls = [], [], [], [], []
        for trk in reversed(self.tracks):  # SORT reports newest first
            if trk.time_since_update < 1 and (
                trk.hit_streak >= self.min_hits or self.frame_count <= self.min_hits
            ):
                out_boxes.append(_sort_box(trk.kf.x))
                out_ids.append(trk.id)
                out_idx.append(trk.det_index)
                out_conf.append(trk.score)
                out_cls.append(trk.class_id)
        self.tracks = [t for t in self.tracks if t.time_since_update <= self.max_age]
        return tracked(np.array(out_boxes).reshape(-1, 4), out_conf, out_cls, out_ids, out_idx)

    def _associate(self, dets: np.ndarray, preds: np.ndarray):
        if len(preds) == 0:
            return np.empty((0, 2), int), np.arange(len(dets)), np.empty(0, int)
        iou = iou_batch(dets, preds)
        if min(iou.shape) > 0:
            a = (iou > self.iou_threshold).astype(np.int32)
            if a.sum(1).max() == 1 and a.sum(0).max() == 1:
                pairs = np.stack(np.where(a), axis=1)
            else:
                pairs = np.stack(linear_sum_assignment(-iou), axis=1)
        else:
            pairs = np.empty((0, 2), int)
        matches = [p for p in pairs if iou[p[0], p[1]] >= self.iou_threshold]
        matched_d = {int(p[0]) for p in matches}
        matched_t = {int(p[1]) for p in matches}
        unmatched_d = np.array([d for d in range(len(dets)) if d not in matched_d], int)
        unmatched_t = np.array([t for t in range(len(preds)) if t not in matched_t], int)
        return np.array(matches, int).reshape(-1, 2), unmatched_d, unmatched_t
