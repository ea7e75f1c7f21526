"""Camera geometry: where a calibrated camera sees a point of the store, and where on the
floor a pixel lies.

A :class:`Calibration` is either

- a full camera: intrinsics ``K`` in pixels, OpenCV's distortion coefficients
  ``(k1, k2, p1, p2, k3)``, and the camera's pose in the store, ``R`` and ``t`` taking
  camera coordinates (OpenCV's: x right, y down, z along the optical axis) to world metres,
  ``x_world = R @ x_cam + t`` (so ``t`` is where the lens is); or
- a floor homography alone: image pixels to floor metres. It places points on the floor
  (or, for a top-down view, at a known height when the camera's height is given) but not
  above it in general.

World coordinates are metres with the floor at ``z = 0`` and ``z`` up.

A position read from a box is uncertain by a few pixels (the box's jitter); its uncertainty
on the floor grows with the distance from the camera, and :meth:`Calibration.floor_cov`
carries it through: the Jacobian of the pixel-to-floor map times the pixel noise.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

_UNDISTORT = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 100, 1e-12)


@dataclass(frozen=True)
class Calibration:
    """One camera's calibration (see the module doc). Build it with :meth:`pinhole` or
    :meth:`from_homography`."""

    K: np.ndarray | None = None         # (3, 3) pixels
    dist: np.ndarray = field(default_factory=lambda: np.zeros(5))
    R: np.ndarray | None = None         # (3, 3) camera -> world rotation
    t: np.ndarray | None = None         # (3,) the lens in world metres
    homography: np.ndarray | None = None  # (3, 3) image pixels -> floor metres

    # ---- construction ---------------------------------------------------------------------
    @classmethod
    def pinhole(cls, K, R, t, dist=None) -> Calibration:
        K = np.asarray(K, float).reshape(3, 3)
        R = np.asarray(R, float).reshape(3, 3)
        if not np.allclose(R @ R.T, np.eye(3), atol=1e-6) or np.linalg.det(R) < 0:
            raise ValueError("R is not a rotation (orthonormal, determinant +1)")
        d = np.zeros(5) if dist is None else np.asarray(dist, float).ravel()
        if d.size not in (4, 5, 8, 12, 14):
            raise ValueError(f"distortion has {d.size} coefficients; expected 4, 5, 8, 12 or 14")
        return cls(K=K, dist=d, R=R, t=np.asarray(t, float).reshape(3))

    @classmethod
    def looking_at(cls, K, eye, target, up=(0.0, 1.0, 0.0), dist=None) -> Calibration:
        """A camera at ``eye`` (world metres) whose optical axis passes through ``target``;
        the image's "up" (-y) leans toward ``up`` (for a camera looking straight down, the
        direction of the floor that shows at the top of the image)."""
        eye, target = np.asarray(eye, float), np.asarray(target, float)
        z = target - eye
        z /= np.linalg.norm(z)
        up = np.asarray(up, float)
        x = np.cross(-up, z)  # image y points down: away from ``up``
        if np.linalg.norm(x) < 1e-9:
            raise ValueError("up is parallel to the optical axis")
        x /= np.linalg.norm(x)
        y = np.cross(z, x)
        return cls.pinhole(K, np.column_stack([x, y, z]), eye, dist)

    @classmethod
    def from_homography(cls, H) -> Calibration:
        H = np.asarray(H, float).reshape(3, 3)
        if abs(np.linalg.det(H)) < 1e-15:
            raise ValueError("the homography is singular")
        return cls(homography=H)

    @property
    def full(self) -> bool:
        """True for a full camera (intrinsics and pose), False for a homography alone."""
        return self.K is not None

    # ---- world -> image -------------------------------------------------------------------
    def project(self, points) -> tuple[np.ndarray, np.ndarray]:
        """World points (N, 3) in metres -> pixels (N, 2), and whether each is in front of
        the camera. A homography alone projects floor points only (z must be 0)."""
        P = np.asarray(points, float).reshape(-1, 3)
        if not self.full:
            if np.any(np.abs(P[:, 2]) > 1e-9):
                raise ValueError("a floor homography projects floor points (z = 0) only")
            Hi = np.linalg.inv(self.homography)
            q = np.c_[P[:, :2], np.ones(len(P))] @ Hi.T
            return q[:, :2] / q[:, 2:3], q[:, 2] * np.sign(Hi[2, 2] or 1.0) > 0
        cam = (P - self.t) @ self.R           # world -> camera: R^T (p - t), row-wise
        front = cam[:, 2] > 1e-9
        rvec, _ = cv2.Rodrigues(self.R.T)
        tvec = -self.R.T @ self.t
        px, _ = cv2.projectPoints(P.reshape(-1, 1, 3), rvec, tvec, self.K, self.dist)
        return px.reshape(-1, 2), front

    # ---- image -> world -------------------------------------------------------------------
    def rays(self, pixels) -> tuple[np.ndarray, np.ndarray]:
        """The lens and the unit direction, in world coordinates, of the ray through each
        pixel (N, 2) (lens distortion undone)."""
        if not self.full:
            raise ValueError("a floor homography has no rays: give the intrinsics and pose")
        px = np.asarray(pixels, float).reshape(-1, 1, 2)
        # iterated to convergence: OpenCV's default 5 steps leave centimetres of error at
        # the edge of a ceiling fisheye's view
        n = _undistort(px, self.K, self.dist).reshape(-1, 2)
        d = np.c_[n, np.ones(len(n))] @ self.R.T
        d /= np.linalg.norm(d, axis=1, keepdims=True)
        return np.repeat(self.t[None], len(d), axis=0), d

    def to_floor(self, pixels, height: float | np.ndarray = 0.0) -> np.ndarray:
        """World (x, y) where each pixel's ray meets the plane ``z = height`` (metres): the
        feet at 0, a head seen from above at a person's height. NaN where the ray never
        meets it (parallel, or behind the camera)."""
        px = np.asarray(pixels, float).reshape(-1, 2)
        h = np.broadcast_to(np.asarray(height, float), (len(px),))
        if not self.full:
            if np.any(h != 0):
                raise ValueError("a floor homography places points on the floor (height 0) only")
            q = np.c_[px, np.ones(len(px))] @ self.homography.T
            return q[:, :2] / q[:, 2:3]
        o, d = self.rays(px)
        with np.errstate(divide="ignore", invalid="ignore"):
            s = (h - o[:, 2]) / d[:, 2]
        out = o[:, :2] + s[:, None] * d[:, :2]
        out[~(s > 0)] = np.nan
        return out

    def floor_cov(self, pixel, height: float = 0.0, sigma_px: float = 3.0) -> np.ndarray:
        """The 2x2 covariance (metres^2) of the floor point read from ``pixel`` at
        ``height`` when the pixel is off by ``sigma_px`` in each direction: J J^T sigma^2,
        with J the pixel-to-floor Jacobian (central differences of one pixel). It grows
        with the distance from the camera and with the obliqueness of the view."""
        p = np.asarray(pixel, float).reshape(2)
        steps = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])
        f = self.to_floor(p + steps, height)
        J = np.column_stack([(f[0] - f[1]) / 2.0, (f[2] - f[3]) / 2.0])
        return J @ J.T * sigma_px**2

    def floor_homography(self) -> np.ndarray:
        """Image pixels -> floor metres (z = 0), lens distortion ignored: the given one, or
        from the pinhole ``K [r1 r2 t']`` of the world-to-camera pose."""
        if not self.full:
            return self.homography
        Rw = self.R.T
        tw = -Rw @ self.t
        G = self.K @ np.column_stack([Rw[:, 0], Rw[:, 1], tw])  # floor (x, y, 1) -> pixels
        H = np.linalg.inv(G)
        return H / H[2, 2]


def _undistort(px: np.ndarray, K: np.ndarray, dist: np.ndarray) -> np.ndarray:
    """Normalised image coordinates of distorted pixels, iterated to convergence (OpenCV 4
    names that call ``undistortPointsIter``; OpenCV 5 takes the criteria as an argument)."""
    if hasattr(cv2, "undistortPointsIter"):
        return cv2.undistortPointsIter(px, K, dist, None, None, _UNDISTORT)
    return cv2.undistortPoints(px, K, dist, criteria=_UNDISTORT)
