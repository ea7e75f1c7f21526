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

import numpy as np
from filterpy.kalman import KalmanFilter
from scipy.optimize import linear_sum_assignment

from .types import Detections


# ---- boxes ---------------------------------------------------------------------------------
def iou_batch(a_xyxy: np.ndarray, b_xyxy: np.ndarray) -> np.ndarray:
    """``(N, M)`` intersection over union of two sets of ``x1, y1, x2, y2`` boxes."""
    a = np.asarray(a_xyxy, np.float64).reshape(-1, 4)
    b = np.asarray(b_xyxy, np.float64).reshape(-1, 4)
    wh = np.minimum(a[:, None, 2:], b[None, :, 2:]) - np.maximum(a[:, None, :2], b[None, :, :2])
    np.maximum(wh, 0.0, out=wh)
    inter = wh[..., 0] * wh[..., 1]
    da, db = a[:, 2:] - a[:, :2], b[:, 2:] - b[:, :2]
    union = (da[:, 0] * da[:, 1])[:, None] + (db[:, 0] * db[:, 1])[None, :] - inter
    return inter / np.maximum(union, 1e-12)


# ---- assignment ----------------------------------------------------------------------------
def linear_assignment(valid: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One-to-one pairs among the ``valid`` candidates of a score matrix, maximising the
    total ``score``. Returns ``(rows, cols)`` of the pairs kept.

    When no row and no column has more than one candidate, the candidates are the answer
    and the Hungarian step is skipped (SORT's shortcut); otherwise :func:`hungarian` runs.
    """
    rows, cols = np.nonzero(valid)
    return hungarian(valid, score) if has_choice(rows, cols) else (rows, cols)


def has_choice(rows: np.ndarray, cols: np.ndarray) -> bool:
    """Whether some row or column appears twice among candidate pairs ``(rows, cols)``."""
    rl, cl = rows.tolist(), cols.tolist()  # tiny: plain sets beat numpy here
    return len(set(rl)) < len(rl) or len(set(cl)) < len(cl)


def hungarian(valid: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """scipy's ``linear_sum_assignment`` maximising ``score``, keeping ``valid`` pairs only."""
    rows, cols = linear_sum_assignment(np.where(valid, -score, 1e6))
    ok = valid[rows, cols]
    return rows[ok], cols[ok]


def _complex_centres(boxes: np.ndarray) -> np.ndarray:
    """Box centres as complex numbers ``x + iy``."""
    c = (boxes[:, :2] + boxes[:, 2:]) / 2  # a fresh contiguous (N, 2): view its rows
    return c.view(np.complex128)[:, 0]


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
    new_track_score: float = 0.7  # a track may start only from a detection this sure
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

    All live tracks are held as parallel arrays, one row a track, so each step of a frame
    is a handful of numpy operations whatever the number of tracks.
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
        self.reset()

    def reset(self) -> None:
        """Forget every track and restart ids at 1 (call between videos)."""
        k = self.config.momentum_frames + 1
        # packed filters (see pack): state [x1, y1, x2, y2], velocities, factored covariance
        self.S = np.zeros((0, 20))
        self.S_obs = np.zeros((0, 20))  # each filter right after its last observation
        self.last_box = np.zeros((0, 4))  # last observed box, xyxy
        # the last k observed centres, oldest first, as complex numbers x + iy
        self.centres = np.zeros((0, k), complex)
        self.move = np.zeros(0, complex)  # conj(last centre - oldest): how a track moves
        self.move_norm = np.zeros(0)
        self.ids = np.zeros(0, np.int64)  # 0 while tentative
        self.hit_streak = np.zeros(0, np.int64)
        self.missed = np.zeros(0, np.int64)  # frames since the last match
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
        scores = detections.confidence
        if n:
            S = self.S
            batch_predict(S)
            small = (S[:, 2:4] - S[:, :2]) < 1.0  # a box may not turn inside out
            if small.any():
                r, c = np.nonzero(small)
                S[r, c + 2] = S[r, c] + 1.0
                S[r, c + 6] = S[r, c + 4]
        high = scores >= cfg.high_score
        free_t = np.ones(n, bool)
        free_d = np.ones(m, bool)
        matches: list[tuple[np.ndarray, np.ndarray]] = []
        confirmed = self.ids > 0
        if n and m:
            iou = iou_batch(self.S[:, :4], boxes)
            # 1. confirmed and lost tracks vs high-score detections, IoU + momentum (OC-SORT)
            self._stage(confirmed, high, iou, cfg.iou_threshold, free_t, free_d, matches,
                        boxes, scores, momentum=True)
            # 2. still-unmatched tracks vs low-score detections (ByteTrack)
            low = ~high & (scores >= cfg.low_score)
            if low.any():
                self._stage(confirmed, low, iou, cfg.iou_threshold, free_t, free_d, matches,
                            boxes, scores)
            # 3. recovery: lost tracks matched on their last observed box (OC-SORT)
            lost = confirmed & (self.missed > 0) & free_t
            if lost.any() and (high & free_d).any():
                last_iou = iou_batch(self.last_box, boxes)
                self._stage(lost, high, last_iou, cfg.iou_threshold, free_t, free_d, matches,
                            boxes, scores, ref=self.last_box)
            # 4. tentative tracks vs the rest of the high-score detections
            if not confirmed.all():
                self._stage(~confirmed, high, iou, cfg.iou_threshold, free_t, free_d, matches,
                            boxes, scores)
        if matches:
            rows = np.concatenate([r for r, _ in matches])
            dets = np.concatenate([d for _, d in matches])
        else:
            rows = dets = np.empty(0, np.int64)
        self._apply_matches(rows, dets, boxes)
        # lifecycle: tentative tracks die on their first miss, lost ones after max_age
        dead = (self.missed > self.max_age) | (~confirmed & free_t)
        if dead.any():
            alive = ~dead
            keep = alive[rows]
            rows, dets = (np.cumsum(alive) - 1)[rows[keep]], dets[keep]
            self._keep(alive)
        # new tentative tracks from confident unmatched detections
        starts = np.flatnonzero(free_d & (scores >= cfg.new_track_score))
        if len(starts):
            rows = np.concatenate([rows, len(self.ids) + np.arange(len(starts))])
            dets = np.concatenate([dets, starts])
            self._add(boxes[starts])
        # confirm: enough consecutive hits, or the first frames of a video (as SORT)
        ready = (self.ids == 0) & ((self.hit_streak >= cfg.min_hits)
                                   | (self.frame_count <= cfg.min_hits))
        if ready.any():
            k = int(ready.sum())
            self.ids[ready] = np.arange(self._next_id, self._next_id + k)
            self._next_id += k
        report = self.ids[rows] > 0
        rows, dets = rows[report], dets[report]
        out = self.S[rows, :4] if cfg.output == "kalman" else boxes[dets]
        conf, cls = scores[dets], detections.class_id[dets]
        if self.coast_frames and self.missed.any():  # briefly missed: report the prediction
            # missed for 1 .. coast frames: as unsigned, missed - 1 wraps 0 to a huge value
            coast = np.flatnonzero(((self.missed - 1).astype(np.uint64) < self.coast_frames)
                                   & (self.ids > 0))
            if len(coast):
                rows = np.concatenate([rows, coast])
                dets = np.concatenate([dets, np.full(len(coast), -1)])
                out = np.concatenate([out, self.S[coast, :4]])
                conf = np.concatenate([conf, np.zeros(len(coast), conf.dtype)])
                cls = np.concatenate([cls, np.zeros(len(coast), cls.dtype)])
        return Detections._trusted(out.astype(np.float32), conf.astype(np.float32, copy=False),
                                   cls.astype(np.int64, copy=False), self.ids[rows],
                                   {"det_index": dets.astype(np.int64, copy=False)})

    # -- helpers -------------------------------------------------------------------------------
    def _stage(self, t_mask: np.ndarray, d_mask: np.ndarray, sim: np.ndarray, threshold: float,
               free_t: np.ndarray, free_d: np.ndarray, matches: list, boxes: np.ndarray,
               scores: np.ndarray, momentum: bool = False, ref: np.ndarray | None = None
               ) -> None:
        """One association pass between the free tracks of ``t_mask`` and the free
        detections of ``d_mask`` on similarity ``sim`` (IoU), in place."""
        rows = np.flatnonzero(t_mask & free_t)
        if not len(rows):
            return
        cols = np.flatnonzero(d_mask & free_d)
        if not len(cols):
            return
        s = sim[rows[:, None], cols]
        valid = s >= threshold
        if self.homography is not None and valid.any():
            self._gate(valid, self.S[:, :4] if ref is None else ref, boxes, rows, cols)
        r, c = np.nonzero(valid)
        if not len(r):
            return
        if has_choice(r, c):  # otherwise the candidates are the matches
            if momentum and self.config.momentum_weight:  # direction matters only here
                s = s + self._momentum(rows, boxes[cols], scores[cols])
            r, c = hungarian(valid, s)
        if len(r):
            free_t[rows[r]] = False
            free_d[cols[c]] = False
            matches.append((rows[r], cols[c]))

    def _apply_matches(self, rows: np.ndarray, dets: np.ndarray, boxes: np.ndarray) -> None:
        self.missed += 1
        self.hit_streak[self.missed > 1] = 0
        if not len(rows):
            return
        z = boxes[dets]
        gap = self.missed[rows] - 1
        if gap.any():
            for k in np.flatnonzero(gap):
                self._reupdate(rows[k], z[k], int(gap[k]))
        self.S[rows] = self.S_obs[rows] = _update_rows(self.S[rows], z)
        self.last_box[rows] = z
        self.missed[rows] = 0
        self.hit_streak[rows] += 1
        c = self.centres[rows]
        c[:, :-1] = c[:, 1:]
        c[:, -1] = _complex_centres(z)
        self.centres[rows] = c
        move = c[:, -1] - c[:, 0]  # the direction each track has moved in (momentum)
        self.move[rows] = move.conj()
        self.move_norm[rows] = np.abs(move)

    def _reupdate(self, r: int, z: np.ndarray, gap: int) -> None:
        """Observation-centric re-update (OC-SORT): the track was unseen for ``gap`` frames.
        Rerun its filter from the state at its last observation, updating at each missed
        frame with a virtual box on the straight line to the new observation; the real
        update with ``z`` follows in the caller."""
        self.S[r] = virtual_path(self.S_obs[r].tolist(), self.last_box[r].tolist(),
                                 z.tolist(), gap)

    def _keep(self, mask: np.ndarray) -> None:
        for name in ("S", "S_obs", "last_box", "centres", "move", "move_norm", "ids",
                     "hit_streak", "missed"):
            setattr(self, name, getattr(self, name)[mask])

    def _add(self, boxes: np.ndarray) -> None:
        n = len(boxes)
        S = pack(np.concatenate([boxes, np.zeros((n, 4))], axis=1), initial_covariance(boxes))
        self.S = np.concatenate([self.S, S])
        self.S_obs = np.concatenate([self.S_obs, S])
        self.last_box = np.concatenate([self.last_box, boxes])
        k = self.centres.shape[1]
        c = _complex_centres(boxes)[:, None]
        self.centres = np.concatenate([self.centres, np.repeat(c, k, axis=1)])
        self.move = np.concatenate([self.move, np.zeros(n, complex)])
        self.move_norm = np.concatenate([self.move_norm, np.zeros(n)])
        self.ids = np.concatenate([self.ids, np.zeros(n, np.int64)])
        self.hit_streak = np.concatenate([self.hit_streak, np.ones(n, np.int64)])
        self.missed = np.concatenate([self.missed, np.zeros(n, np.int64)])

    def _momentum(self, rows: np.ndarray, det_boxes: np.ndarray, det_scores: np.ndarray
                  ) -> np.ndarray:
        """OC-SORT's direction consistency: ``(pi/2 - angle) / pi = asin(cos angle) / pi``
        between the direction a track moved over its last observations and the direction
        from its last observation to each detection, weighted by the detection score. A
        track that has not moved yet adds nothing."""
        # in complex numbers: the real part of conj(move) * d is the dot product
        d = _complex_centres(det_boxes)[None, :] - self.centres[rows, -1][:, None]
        cos = (self.move[rows][:, None] * d).real
        cos /= np.maximum(self.move_norm[rows][:, None] * np.abs(d), 1e-9)
        np.maximum(cos, -1.0, out=cos)  # rounding may step outside [-1, 1]
        np.minimum(cos, 1.0, out=cos)
        angle_term = np.arcsin(cos, out=cos)
        return angle_term * ((self.config.momentum_weight / np.pi) * det_scores)[None, :]

    def _gate(self, valid: np.ndarray, ref: np.ndarray, boxes: np.ndarray, rows: np.ndarray,
              cols: np.ndarray) -> None:
        """Drop, in place, candidate pairs a shopper could not have walked between since
        the track was last seen: box centres projected to floor metres with the store
        homography, against ``max_speed_mps`` plus a margin for box jitter. Only the few
        candidate pairs are projected, in plain floats."""
        cfg = self.config
        (a, b, c), (d, e, f), (g, h, k) = self._H

        def floor(box: list[float]) -> tuple[float, float]:
            x, y = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
            w = g * x + h * y + k
            return (a * x + b * y + c) / w, (d * x + e * y + f) / w

        ii, jj = np.nonzero(valid)
        refs, dets = ref[rows[ii]].tolist(), boxes[cols[jj]].tolist()
        missed = self.missed[rows[ii]].tolist()
        for i, j, r, q, m in zip(ii.tolist(), jj.tolist(), refs, dets, missed):
            (x0, y0), (x1, y1) = floor(r), floor(q)
            reach = cfg.max_speed_mps * (m + 1) / self.frame_rate + cfg.gate_margin_m
            if math.hypot(x1 - x0, y1 - y0) > reach:
                valid[i, j] = False


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
