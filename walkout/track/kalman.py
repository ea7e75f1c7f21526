"""The Kalman filter of walkout's tracker: a size-adaptive constant-velocity filter on the
box corners, defined with filterpy (:func:`kalman_filter`) and run for all tracks at once
in its factored form (:func:`batch_predict`, :func:`batch_update`); a test checks that the
two agree."""

from __future__ import annotations

import numpy as np
from filterpy.kalman import KalmanFilter

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


def noise_scales(frame_rate: float) -> tuple[float, float]:
    """Variance factors ``(position, velocity)`` of the process noise at ``frame_rate``,
    relative to the 30 fps that ByteTrack's noise values were set at. A walker's speed
    changes as a random walk in time (a continuous white-noise acceleration): over a frame
    interval ``dt`` the position's share of that noise grows as ``dt`` in variance and the
    velocity, counted in pixels per frame, as ``dt**3``. At 30 fps both are 1."""
    r = 30.0 / frame_rate
    return r, r**3


def process_matrix(frame_rate: float = 30.0) -> np.ndarray:
    """``(2, 20)`` map from ``[w^2, h^2]`` to the process noise added to a packed filter
    (:func:`batch_predict`) at ``frame_rate``."""
    a, b = noise_scales(frame_rate)
    Q = _Q.copy()
    Q[:, 8:12] *= a
    Q[:, 16:20] *= b
    return Q


def batch_predict(S: np.ndarray, Q: np.ndarray = _Q) -> None:
    """Predict packed filters in place: ``x = F x``; ``P = F P F' + Q``, per coordinate
    ``pp += 2 pv + vv + q_pos``, ``pv += vv``, ``vv += q_vel``, with Q scaled by the
    predicted box (``Q`` from :func:`process_matrix`; 30 fps by default)."""
    np.matmul(S, _F, out=S)
    S += _wh2(S) @ Q


def batch_update(S: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Packed filters updated with boxes ``z`` (xyxy), as a new array.

    Per coordinate: ``S = pp + r``, ``K = [pp, pv] / S``, ``x += K (z - pos)``,
    ``P -= K H P`` (filterpy's Joseph form gives the same P for the optimal K).
    """
    return update_rows(S.copy(), z)


def update_rows(S: np.ndarray, z: np.ndarray) -> np.ndarray:
    """:func:`batch_update` in place on ``S`` (rows the caller has already copied)."""
    S3 = S.reshape(-1, 5, 4)  # x, v, pp, pv, vv
    k = S3[:, 2:4] / (S3[:, 2] + _wh2(S) @ _R)[:, None, :]  # kp, kv
    S3[:, 0:2] += k * (z - S3[:, 0])[:, None, :]
    S3[:, 4] -= k[:, 1] * S3[:, 3]
    S3[:, 2:4] *= 1.0 - k[:, :1]
    return S


def virtual_path(S: list[float], z0: list[float], z1: list[float], gap: int,
                 frame_rate: float = 30.0) -> list[float]:
    """One packed filter (a list of 20 floats) rerun over ``gap`` missed frames, updated at
    each with a virtual box on the straight line from ``z0`` to ``z1``, then predicted
    once more: OC-SORT's re-update. The same equations as :func:`batch_predict` and
    :func:`batch_update`, in plain floats (a single filter is faster so than in numpy)."""
    x, v, pp, pv, vv = S[0:4], S[4:8], S[8:12], S[12:16], S[16:20]
    a, b = noise_scales(frame_rate)
    qp, qv, rp = a * STD_POSITION**2, b * STD_VELOCITY**2, STD_POSITION**2
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
            den = pp[i] + rp * scale[i]
            kp, kv = pp[i] / den, pv[i] / den
            y = z0[i] + (z1[i] - z0[i]) * u - x[i]
            x[i] += kp * y
            v[i] += kv * y
            vv[i] -= kv * pv[i]
            pv[i] *= 1 - kp
            pp[i] *= 1 - kp
    return x + v + pp + pv + vv
