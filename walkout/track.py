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
  * a low IoU threshold (0.1, as the ``trackers`` ByteTrack): top-down shoppers are small
    boxes whose shape changes when an arm reaches out;
  * optional gating in floor metres when a store homography is known;
  * brief coasting: for up to ``coast`` frames (0.1 s) after a missed detection a confirmed
    track still reports its predicted box (with ``det_index`` -1), so a one-frame dropout
    does not make a shopper vanish.

Track lifecycle: *tentative* (until ``min_hits`` consecutive matches; dropped on a miss),
*confirmed* (given an id and reported while matched), *lost* (unmatched, still predicted and
matchable; reported for ``coast`` frames) and *removed* after ``max_age`` frames without a
match.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from itertools import accumulate, compress

import numpy as np
from filterpy.kalman import KalmanFilter
from scipy.optimize import linear_sum_assignment

from .types import Detections


# ---- boxes ---------------------------------------------------------------------------------
def iou_batch(a_xyxy: np.ndarray, b_xyxy: np.ndarray) -> np.ndarray:
    """``(N, M)`` intersection over union of two sets of ``x1, y1, x2, y2`` boxes."""
    return _iou(np.asarray(a_xyxy, np.float64).reshape(-1, 4),
                np.asarray(b_xyxy, np.float64).reshape(-1, 4))


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
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


def _tracked(xyxy: np.ndarray, confidence: np.ndarray, class_id: np.ndarray, ids: list[int],
             det_index: list[int]) -> Detections:
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
_NO_TRACKS = _tracked(np.zeros((0, 4)), [], [], [], [])


# ---- SORT, exactly -------------------------------------------------------------------------
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
        self.tracks: list[_SortTrack] = []
        self.frame_count = 0
        self._next_id = 1

    def update(self, detections: Detections) -> Detections:
        """Advance one frame. Must be called for every frame, even with no detections."""
        self.frame_count += 1
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
        return _tracked(np.array(out_boxes).reshape(-1, 4), out_conf, out_cls, out_ids, out_idx)

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


# ---- walkout's tracker ---------------------------------------------------------------------
STD_POSITION = 1.0 / 20  # position noise as a share of box size (ByteTrack's values)
STD_VELOCITY = 1.0 / 160  # velocity noise as a share of box size per frame


def _size_scale(xyxy: np.ndarray) -> np.ndarray:
    """``(N, 4)`` per-coordinate scale ``[w, h, w, h]`` of boxes, for the size-adaptive noise."""
    wh = np.maximum(xyxy[:, 2:4] - xyxy[:, :2], 1.0)
    return np.concatenate([wh, wh], axis=1)


def kalman_filter(xyxy: np.ndarray) -> KalmanFilter:
    """A filterpy filter for one box: state ``[x1, y1, x2, y2]`` and their velocities, pixels.

    Constant velocity (``x' = F x``), the box observed directly (``z = H x``). Noise scales
    with the box (a far, small box moves fewer pixels): measurement sigma ``w/20, h/20``,
    position process sigma the same, velocity process sigma ``w/160, h/160`` per frame,
    initial sigma twice the measurement's for position and ``10 w/160`` for velocity.
    :class:`Tracker` runs exactly these equations for all tracks at once
    (:func:`batch_predict`, :func:`batch_update`); a test checks they agree with filterpy.
    """
    kf = KalmanFilter(dim_x=8, dim_z=4)
    kf.F = np.eye(8)
    kf.F[:4, 4:] = np.eye(4)  # position += velocity (one frame)
    kf.H = np.eye(4, 8)
    z = np.asarray(xyxy, float).reshape(4)
    kf.x = np.r_[z, np.zeros(4)].reshape(8, 1)
    s = _size_scale(z[None])[0]
    kf.P = np.diag(np.r_[2 * STD_POSITION * s, 10 * STD_VELOCITY * s] ** 2)
    kf.Q = np.diag(np.r_[STD_POSITION * s, STD_VELOCITY * s] ** 2)
    kf.R = np.diag((STD_POSITION * s) ** 2)
    return kf


def process_noise(x: np.ndarray) -> np.ndarray:
    """``(N, 8)`` diagonal of Q for each filter (it scales with the predicted box)."""
    s = _size_scale(x[:, :4])
    return np.concatenate([STD_POSITION * s, STD_VELOCITY * s], axis=1) ** 2


# F, H, Q, R and the initial P are all block-diagonal over the four box coordinates, each
# block a position and its velocity, so P stays so: the 8-D filter is four independent 2-D
# filters. The tracker keeps, per coordinate, only the three distinct entries of each 2x2
# block, ``C = [p_pos_pos, p_pos_vel, p_vel_vel]`` as ``(N, 3, 4)``, and runs the same
# equations elementwise over all tracks. :func:`full_covariance` rebuilds filterpy's P.
def initial_covariance(boxes: np.ndarray) -> np.ndarray:
    s = _size_scale(boxes)
    C = np.zeros((len(boxes), 3, 4))
    C[:, 0] = (2 * STD_POSITION * s) ** 2
    C[:, 2] = (10 * STD_VELOCITY * s) ** 2
    return C


def full_covariance(C: np.ndarray) -> np.ndarray:
    """``(N, 8, 8)`` P from the factored ``(N, 3, 4)`` form."""
    P = np.zeros((len(C), 8, 8))
    i = np.arange(4)
    P[:, i, i] = C[:, 0]
    P[:, i, i + 4] = P[:, i + 4, i] = C[:, 1]
    P[:, i + 4, i + 4] = C[:, 2]
    return P


# The tracker packs each filter into one row of 20 numbers, ``S = [x (8), pp (4), pv (4),
# vv (4)]`` (:func:`pack`), so that a step over all filters is a handful of numpy calls:
# the prediction is one matrix product plus the box-scaled noise.
_F = np.eye(20)
for _i in range(4):
    _F[4 + _i, _i] = 1.0  # position += velocity
    _F[12 + _i, 8 + _i] = 2.0  # pp += 2 pv + vv
    _F[16 + _i, 8 + _i] = 1.0
    _F[16 + _i, 12 + _i] = 1.0  # pv += vv
_Q = np.zeros((2, 20))  # [w^2, h^2] -> the process noise added to pp and vv
_Q[0, [8, 10]] = _Q[1, [9, 11]] = STD_POSITION**2
_Q[0, [16, 18]] = _Q[1, [17, 19]] = STD_VELOCITY**2
_R = np.zeros((2, 4))  # [w^2, h^2] -> the measurement noise of x1, y1, x2, y2
_R[0, [0, 2]] = _R[1, [1, 3]] = STD_POSITION**2


def pack(x: np.ndarray, C: np.ndarray) -> np.ndarray:
    """``(N, 20)`` packed filters from states ``(N, 8)`` and factored covariances."""
    return np.hstack([x, C.reshape(len(C), 12)])


def unpack(S: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """States ``(N, 8)`` and factored covariances ``(N, 3, 4)`` of packed filters."""
    return S[:, :8], S[:, 8:].reshape(len(S), 3, 4)


def _wh2(S: np.ndarray) -> np.ndarray:
    wh = S[:, 2:4] - S[:, :2]
    np.maximum(wh, 1.0, out=wh)
    wh *= wh
    return wh


def batch_predict(S: np.ndarray) -> None:
    """Predict packed filters in place: ``x = F x``; ``P = F P F' + Q``, per coordinate
    ``pp += 2 pv + vv + q_pos``, ``pv += vv``, ``vv += q_vel``, with Q scaled by the
    predicted box."""
    np.matmul(S, _F, out=S)
    S += _wh2(S) @ _Q


def batch_update(S: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Packed filters updated with boxes ``z`` (xyxy), as a new array.

    Per coordinate: ``S = pp + r``, ``K = [pp, pv] / S``, ``x += K (z - pos)``,
    ``P -= K H P`` (filterpy's Joseph form gives the same P for the optimal K).
    """
    return _update_rows(S.copy(), z)


def _update_rows(S: np.ndarray, z: np.ndarray) -> np.ndarray:
    """:func:`batch_update` in place on ``S`` (rows the caller has already copied)."""
    S3 = S.reshape(-1, 5, 4)  # x, v, pp, pv, vv
    k = S3[:, 2:4] / (S3[:, 2] + _wh2(S) @ _R)[:, None, :]  # kp, kv
    S3[:, 0:2] += k * (z - S3[:, 0])[:, None, :]
    S3[:, 4] -= k[:, 1] * S3[:, 3]
    S3[:, 2:4] *= 1.0 - k[:, :1]
    return S


def virtual_path(S: list[float], z0: list[float], z1: list[float], gap: int) -> list[float]:
    """One packed filter (a list of 20 floats) rerun over ``gap`` missed frames, updated at
    each with a virtual box on the straight line from ``z0`` to ``z1``, then predicted
    once more: OC-SORT's re-update. The same equations as :func:`batch_predict` and
    :func:`batch_update`, in plain floats (a single filter is faster so than in numpy)."""
    x, v, pp, pv, vv = S[0:4], S[4:8], S[8:12], S[12:16], S[16:20]
    qp, qv = STD_POSITION**2, STD_VELOCITY**2
    for step in range(1, gap + 2):
        for i in range(4):
            x[i] += v[i]
        w, h = max(x[2] - x[0], 1.0), max(x[3] - x[1], 1.0)
        scale = (w * w, h * h, w * w, h * h)
        for i in range(4):
            pp[i] += 2 * pv[i] + vv[i] + qp * scale[i]
            pv[i] += vv[i]
            vv[i] += qv * scale[i]
        if step > gap:
            break
        u = step / (gap + 1)
        for i in range(4):
            den = pp[i] + qp * scale[i]
            kp, kv = pp[i] / den, pv[i] / den
            y = z0[i] + (z1[i] - z0[i]) * u - x[i]
            x[i] += kp * y
            v[i] += kv * y
            vv[i] -= kv * pv[i]
            pv[i] *= 1 - kp
            pp[i] *= 1 - kp
    return x + v + pp + pv + vv


@dataclass(frozen=True)
class TrackerConfig:
    """Settings of :class:`Tracker`; frames are at the video's frame rate."""

    max_age: int = 30  # frames (at 30 fps) a lost track stays matchable
    min_hits: int = 3  # consecutive matches before a track gets an id
    high_score: float = 0.6  # detections at or above it are matched first
    low_score: float = 0.1  # detections below it are ignored
    new_track_score: float = 0.65  # a track may start only from a detection this sure
    iou_threshold: float = 0.1  # every pass: minimum IoU (small, fast-changing boxes)
    momentum_weight: float = 0.2  # OC-SORT direction-consistency weight in the cost
    momentum_frames: int = 3  # observations back to measure a track's direction over
    output: str = "kalman"  # box reported: "kalman" (filtered) or "detection"
    coast: int = 3  # frames (at 30 fps) a missed track's prediction is still reported
    max_speed_mps: float = 3.0  # floor gating (with a homography): fastest walk, m/s
    gate_margin_m: float = 0.75  # floor gating: slack for box-centre jitter, metres


class Tracker:
    """walkout's multi-object tracker (see the module docstring for the ideas it uses).

    Args:
        config: a :class:`TrackerConfig`; keyword overrides are applied on top.
        frame_rate: frames per second of the video; ``max_age`` scales with it (given at
            30 fps).
        homography: optional ``(3, 3)`` image pixels -> floor metres; when given, pairs
            farther apart on the floor than a shopper can walk are never matched.

    The filters of all live tracks are held as parallel arrays, one row a track, so the
    arithmetic of a frame (prediction, IoU, update) is a handful of numpy calls whatever the
    number of tracks. The per-track bookkeeping (ids, hit streaks, frames missed) and the
    matches are plain lists: a store holds a few shoppers, and a list comprehension over a
    few tracks costs less than one numpy call (about a microsecond each) would.
    """

    def __init__(self, config: TrackerConfig | None = None, *, frame_rate: float = 30.0,
                 homography: np.ndarray | None = None, **overrides) -> None:
        cfg = replace(config or TrackerConfig(), **overrides)
        if cfg.output not in ("kalman", "detection"):
            raise ValueError(f"output: expected 'kalman' or 'detection', got {cfg.output!r}")
        self.config = cfg
        self.frame_rate = float(frame_rate)
        self.max_age = max(1, int(round(cfg.max_age * self.frame_rate / 30.0)))
        self.coast_frames = int(round(cfg.coast * self.frame_rate / 30.0))
        self.homography = None if homography is None else np.asarray(homography, float)
        self._H = None if homography is None else self.homography.tolist()
        # Scores are float32: compare them with the thresholds as float32 values, so that a
        # score of exactly 0.7 passes a threshold of 0.7.
        self._high, self._low, self._new = (float(np.float32(v)) for v in (
            cfg.high_score, cfg.low_score, cfg.new_track_score))
        self.reset()

    def reset(self) -> None:
        """Forget every track and restart ids at 1 (call between videos)."""
        # packed filters (see pack): state [x1, y1, x2, y2], velocities, factored covariance
        self.S = np.zeros((0, 20))
        self.S_obs = np.zeros((0, 20))  # each filter right after its last observation
        # a ring of the last k observed boxes (xyxy) of each track: observation j is in
        # column j % k, and a new track fills every column with its first box
        self.history = np.zeros((0, self.config.momentum_frames + 1, 4))
        self.ids: list[int] = []  # 0 while tentative
        self.hit_streak: list[int] = []  # consecutive frames matched
        self.missed: list[int] = []  # frames since the last match
        self.n_obs: list[int] = []  # observations so far
        self.frame_count = 0
        self._next_id = 1

    # -- one frame ---------------------------------------------------------------------------
    def update(self, detections: Detections) -> Detections:
        """Advance one frame and return the confirmed tracks matched in it.

        Must be called for every frame, even with no detections. The result holds the
        boxes with ``tracker_id``, and ``data["det_index"]``: the index of the input
        detection each track was updated with. Coasting tracks (missed for up to
        ``coast`` frames) follow with their predicted box, confidence 0 and index -1.
        """
        cfg = self.config
        self.frame_count += 1
        n, m = len(self.ids), len(detections)
        if n == 0 and m == 0:
            return _NO_TRACKS
        boxes = detections.xyxy.astype(np.float64)
        scores = detections.confidence.tolist()
        if n:
            self._predict()
        free_t, free_d = [True] * n, [True] * m
        matches: list[tuple[int, int]] = []  # (track row, detection index), in match order
        confirmed = [i for i, tid in enumerate(self.ids) if tid]
        if n and m:
            high = [j for j, s in enumerate(scores) if s >= self._high]
            args = (free_t, free_d, matches, boxes, detections.confidence)
            pred = self.S[:, :4]
            iou = _iou(pred, boxes)
            candidates = self._candidates(iou, pred, boxes)
            # 1. confirmed and lost tracks vs high-score detections, IoU + momentum (OC-SORT)
            self._stage(confirmed, high, iou, *candidates, *args, momentum=True)
            # 2. still-unmatched tracks vs low-score detections (ByteTrack)
            low = [j for j, s in enumerate(scores) if self._low <= s < self._high]
            if low:
                self._stage(confirmed, low, iou, *candidates, *args)
            # 3. recovery: lost tracks matched on their last observed box (OC-SORT)
            lost = [i for i in confirmed if free_t[i] and self.missed[i]]
            if lost and any(free_d[j] for j in high):
                last = self._last_box(range(n))
                last_iou = _iou(last, boxes)
                self._stage(lost, high, last_iou, *self._candidates(last_iou, last, boxes),
                            *args)
            # 4. tentative tracks vs the rest of the high-score detections
            if len(confirmed) < n:
                tentative = [i for i, tid in enumerate(self.ids) if not tid]
                self._stage(tentative, high, iou, *candidates, *args)
        self._apply_matches(matches, boxes)
        # lifecycle: tentative tracks die on their first miss, lost ones after max_age
        alive = [k <= self.max_age and (tid > 0 or not free) for k, tid, free in
                 zip(self.missed, self.ids, free_t)]
        if not all(alive):
            row = list(accumulate(alive, initial=-1))[1:]  # old row -> row among the kept
            matches = [(row[r], d) for r, d in matches]  # matched tracks are all alive
            self._keep(alive)
        # new tentative tracks from confident unmatched detections
        starts = [j for j, s in enumerate(scores) if free_d[j] and s >= self._new]
        if starts:
            matches += [(len(self.ids) + k, j) for k, j in enumerate(starts)]
            self._add(boxes[starts])
        # confirm: enough consecutive hits, or the first frames of a video (as SORT)
        early = self.frame_count <= cfg.min_hits
        ids = self.ids
        for i, tid in enumerate(ids):
            if not tid and (early or self.hit_streak[i] >= cfg.min_hits):
                ids[i] = self._next_id
                self._next_id += 1
        rows = [r for r, _ in matches if ids[r]]
        dets = [d for r, d in matches if ids[r]]
        conf = [scores[d] for d in dets]
        if cfg.output == "detection":
            out = boxes[dets]
        if self.coast_frames:  # briefly missed: report the prediction
            coast = [i for i, (k, tid) in enumerate(zip(self.missed, ids))
                     if tid and 0 < k <= self.coast_frames]
            if coast:
                if cfg.output == "detection":
                    out = np.concatenate([out, self.S[coast, :4]])
                rows += coast
                dets += [-1] * len(coast)
                conf += [0.0] * len(coast)
        if cfg.output == "kalman":
            out = self.S[rows, :4]
        classes = detections.class_id.tolist()
        return Detections._trusted(
            out.astype(np.float32), np.array(conf, np.float32),
            np.array([classes[d] if d >= 0 else 0 for d in dets], np.int64),
            np.array([ids[r] for r in rows], np.int64),
            {"det_index": np.array(dets, np.int64)})

    # -- helpers -------------------------------------------------------------------------------
    def _predict(self) -> None:
        S = self.S
        batch_predict(S)
        small = (S[:, 2:4] - S[:, :2]) < 1.0  # a box may not turn inside out
        if small.any():
            r, c = np.nonzero(small)
            S[r, c + 2] = S[r, c] + 1.0
            S[r, c + 6] = S[r, c + 4]

    def _candidates(self, sim: np.ndarray, ref: np.ndarray, boxes: np.ndarray
                    ) -> tuple[np.ndarray, list[tuple[int, int]]]:
        """The pairs (track row, detection) that may match on similarity ``sim`` (IoU)
        between ``ref`` (track boxes) and ``boxes``: at least the IoU threshold and, with a
        homography, within walking reach on the floor. Returns them as a boolean matrix and
        as a list, in row-major order."""
        valid = sim >= self.config.iou_threshold
        r, c = np.nonzero(valid)
        pairs = list(zip(r.tolist(), c.tolist()))
        if pairs and self.homography is not None:
            pairs = self._gate(valid, pairs, ref, boxes)
        return valid, pairs

    def _stage(self, rows: list[int], cols: list[int], sim: np.ndarray, valid: np.ndarray,
               pairs: list[tuple[int, int]], free_t: list[bool], free_d: list[bool],
               matches: list, boxes: np.ndarray, scores: np.ndarray, momentum: bool = False
               ) -> None:
        """One association pass between the free tracks among ``rows`` and the free
        detections among ``cols``, over the candidate ``pairs`` (see :meth:`_candidates`)
        and similarity ``sim``, in place."""
        rows = [i for i in rows if free_t[i]]
        if not rows:
            return
        cols = [j for j in cols if free_d[j]]
        if not cols:
            return
        rs, cs = set(rows), set(cols)
        found = [(i, j) for i, j in pairs if i in rs and j in cs]
        if not found:
            return
        if has_choice(*zip(*found)):  # otherwise the candidates are the matches
            if len(rows) == len(free_t) and len(cols) == len(free_d):
                s, ok = sim, valid  # every track and every detection (a usual first pass)
            else:
                ix = np.ix_(rows, cols)
                s, ok = sim[ix], valid[ix]
            if momentum and self.config.momentum_weight:  # direction matters only here
                s = s.copy()
                at_r = {t: k for k, t in enumerate(rows)}
                at_c = {d: k for k, d in enumerate(cols)}
                for (i, j), term in zip(found, self._momentum(found, boxes, scores)):
                    s[at_r[i], at_c[j]] += term  # other pairs cannot match: no need
            r, c = hungarian(ok, s)
            found = [(rows[i], cols[j]) for i, j in zip(r.tolist(), c.tolist())]
        for i, j in found:
            free_t[i] = free_d[j] = False
        matches += found

    def _apply_matches(self, matches: list[tuple[int, int]], boxes: np.ndarray) -> None:
        missed = self.missed = [k + 1 for k in self.missed]
        self.hit_streak = streak = [h if k == 1 else 0 for h, k in zip(self.hit_streak, missed)]
        if not matches:
            return
        rows = [r for r, _ in matches]
        z = boxes[[d for _, d in matches]]
        for k, r in enumerate(rows):
            if missed[r] > 1:
                self._reupdate(r, z[k], missed[r] - 1)
        self.S[rows] = self.S_obs[rows] = _update_rows(self.S[rows], z)
        ring = self.history.shape[1]
        self.history[rows, [self.n_obs[r] % ring for r in rows]] = z
        for r in rows:
            missed[r] = 0
            streak[r] += 1
            self.n_obs[r] += 1

    def _last_box(self, rows) -> np.ndarray:
        """``(len(rows), 4)`` the last observed box of each track in ``rows``."""
        ring = self.history.shape[1]
        rows = list(rows)
        return self.history[rows, [(self.n_obs[r] - 1) % ring for r in rows]]

    def _reupdate(self, r: int, z: np.ndarray, gap: int) -> None:
        """Observation-centric re-update (OC-SORT): the track was unseen for ``gap`` frames.
        Rerun its filter from the state at its last observation, updating at each missed
        frame with a virtual box on the straight line to the new observation; the real
        update with ``z`` follows in the caller."""
        self.S[r] = virtual_path(self.S_obs[r].tolist(), self._last_box([r])[0].tolist(),
                                 z.tolist(), gap)

    def _keep(self, alive: list[bool]) -> None:
        mask = np.array(alive)
        for name in ("S", "S_obs", "history"):
            setattr(self, name, getattr(self, name)[mask])
        for name in ("ids", "hit_streak", "missed", "n_obs"):
            setattr(self, name, list(compress(getattr(self, name), alive)))

    def _add(self, boxes: np.ndarray) -> None:
        n = len(boxes)
        S = pack(np.concatenate([boxes, np.zeros((n, 4))], axis=1), initial_covariance(boxes))
        self.S = np.concatenate([self.S, S])
        self.S_obs = np.concatenate([self.S_obs, S])
        ring = np.repeat(boxes[:, None], self.history.shape[1], axis=1)
        self.history = np.concatenate([self.history, ring])
        self.ids += [0] * n
        self.hit_streak += [1] * n
        self.missed += [0] * n
        self.n_obs += [1] * n

    def _momentum(self, pairs: list[tuple[int, int]], boxes: np.ndarray, scores: np.ndarray
                  ) -> list[float]:
        """OC-SORT's direction consistency of candidate ``pairs`` (track row, detection):
        ``(pi/2 - angle) / pi = asin(cos angle) / pi`` between the direction the track
        moved over its last observations and the direction from its last observation to
        the detection, weighted by the detection score. A track that has not moved yet
        adds nothing. Only the few candidate pairs are computed, in plain floats."""
        ring = self.history.shape[1]
        weight = ((self.config.momentum_weight / np.pi) * scores).tolist()
        dets = boxes.tolist()
        tracks: dict[int, tuple[complex, complex]] = {}
        terms = []
        for i, j in pairs:
            if i not in tracks:  # its last and its oldest observed centres
                k, h = self.n_obs[i], self.history[i].tolist()
                (a0, a1, a2, a3), (b0, b1, b2, b3) = h[(k - 1) % ring], h[k % ring]
                last = complex((a0 + a2) / 2, (a1 + a3) / 2)
                tracks[i] = last, last - complex((b0 + b2) / 2, (b1 + b3) / 2)
            last, move = tracks[i]
            x0, y0, x1, y1 = dets[j]
            d = complex((x0 + x1) / 2, (y0 + y1) / 2) - last
            # in complex numbers: the real part of conj(move) * d is the dot product
            cos = (move.conjugate() * d).real / max(abs(move) * abs(d), 1e-9)
            terms.append(math.asin(min(max(cos, -1.0), 1.0)) * weight[j])
        return terms

    def _gate(self, valid: np.ndarray, pairs: list[tuple[int, int]], ref: np.ndarray,
              boxes: np.ndarray) -> list[tuple[int, int]]:
        """The candidate ``pairs`` (track row, detection) a shopper could have walked
        between since the track was last seen, clearing the others in ``valid``: box
        centres projected to floor metres with the store homography, against
        ``max_speed_mps`` plus a margin for box jitter. Only the few candidate pairs are
        projected, in plain floats."""
        cfg = self.config
        (a, b, c), (d, e, f), (g, h, k) = self._H

        def floor(box: list[float]) -> tuple[float, float]:
            x, y = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
            w = g * x + h * y + k
            return (a * x + b * y + c) / w, (d * x + e * y + f) / w

        refs, dets = ref.tolist(), boxes.tolist()
        kept = []
        for i, j in pairs:
            (x0, y0), (x1, y1) = floor(refs[i]), floor(dets[j])
            reach = cfg.max_speed_mps * (self.missed[i] + 1) / self.frame_rate \
                + cfg.gate_margin_m
            if math.hypot(x1 - x0, y1 - y0) > reach:
                valid[i, j] = False
            else:
                kept.append((i, j))
        return kept


PRESETS = ("default", "sort")


def make_tracker(preset: str = "default", *, frame_rate: float = 30.0,
                 homography: np.ndarray | None = None, **overrides):
    """A tracker by preset name: ``default`` (:class:`Tracker`) or ``sort`` (original SORT:
    ``max_age=1, min_hits=3, iou_threshold=0.3``)."""
    if preset == "sort":
        return SortTracker(**overrides)
    if preset == "default":
        return Tracker(frame_rate=frame_rate, homography=homography, **overrides)
    raise ValueError(f"unknown tracker preset {preset!r} (expected one of: {', '.join(PRESETS)})")
