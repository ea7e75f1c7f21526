"""Camera geometry: projecting store points into a calibrated camera and pixels back onto
the floor, for a pinhole with lens distortion and for a floor homography; checked against
the AiFi store's own calibration (each camera's ``look_at`` is where its image centre meets
the floor)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import shared_path

from walkout.geometry import Calibration

W, H = 640, 360
K = np.array([[511.4, 0.0, 320.0], [0.0, 511.5, 165.0], [0.0, 0.0, 1.0]])
BARREL = [-0.5, 0.25, 0.0, 0.0, 0.0]   # a ceiling fisheye's strong barrel distortion


def oblique(dist=None) -> Calibration:
    """2.45 m up at the store's corner, looking down the aisle at a point 4 m away."""
    return Calibration.looking_at(K, eye=[0.0, 0.0, 2.45], target=[4.0, 1.0, 0.0],
                                  up=[0.0, 0.0, 1.0], dist=dist)


def test_the_optical_axis_meets_the_floor_at_the_target():
    cam = oblique()
    px, front = cam.project([[4.0, 1.0, 0.0]])
    assert front.all() and px[0] == pytest.approx([320.0, 165.0], abs=1e-6)
    assert cam.to_floor(px)[0] == pytest.approx([4.0, 1.0], abs=1e-9)


@pytest.mark.parametrize("dist", [None, BARREL])
def test_floor_points_and_heads_come_back_where_they_were(dist):
    """Random points on the floor and at head height (1.7 m) in view: projected, then cast
    back to their own height, they land where they were (to a micrometre: the distortion is
    undone iteratively)."""
    cam = oblique(dist)
    rng = np.random.default_rng(0)
    pts = np.c_[rng.uniform(1.5, 6.0, 200), rng.uniform(-1.5, 2.5, 200), np.zeros(200)]
    pts[100:, 2] = 1.7
    px, front = cam.project(pts)
    seen = front & (px[:, 0] > 0) & (px[:, 0] < W) & (px[:, 1] > 0) & (px[:, 1] < H)
    assert seen.sum() > 100
    back = cam.to_floor(px[seen], pts[seen, 2])
    assert np.abs(back - pts[seen, :2]).max() < 1e-5


def test_a_pinhole_and_its_floor_homography_agree():
    cam = oblique()
    Hm = cam.floor_homography()
    px = np.array([[10.0, 300.0], [320.0, 200.0], [600.0, 350.0]])
    q = np.c_[px, np.ones(3)] @ Hm.T
    assert q[:, :2] / q[:, 2:] == pytest.approx(cam.to_floor(px), abs=1e-9)
    hom = Calibration.from_homography(Hm)
    assert hom.to_floor(px) == pytest.approx(cam.to_floor(px), abs=1e-9)
    floor = cam.to_floor(px)
    assert hom.project(np.c_[floor, np.zeros(3)])[0] == pytest.approx(px, abs=1e-6)


def test_a_homography_alone_places_the_floor_only():
    hom = Calibration.from_homography(np.eye(3))
    with pytest.raises(ValueError, match="floor points"):
        hom.project([[1.0, 1.0, 1.7]])
    with pytest.raises(ValueError, match="height 0"):
        hom.to_floor([[1.0, 1.0]], 1.7)
    with pytest.raises(ValueError, match="no rays"):
        hom.rays([[1.0, 1.0]])


def test_floor_uncertainty_grows_with_distance_from_the_camera():
    """The same 3-pixel jitter is a few centimetres on the floor below the camera and tens of
    centimetres at the far end of an oblique view, mostly along the line of sight."""
    cam = oblique()
    near_px = cam.project([[1.0, 0.3, 0.0]])[0][0]
    far_px = cam.project([[7.0, 1.8, 0.0]])[0][0]
    near, far = cam.floor_cov(near_px), cam.floor_cov(far_px)
    s_near, s_far = np.sqrt(np.linalg.eigvalsh(near)[-1]), np.sqrt(np.linalg.eigvalsh(far)[-1])
    assert s_near < 0.05 and s_far > 4 * s_near
    axis = np.linalg.eigh(far)[1][:, -1]
    sight = np.array([7.0, 1.8]) / np.hypot(7.0, 1.8)
    assert abs(axis @ sight) > 0.9


def test_rays_that_never_reach_the_floor_are_nan():
    cam = oblique()
    up_px = cam.project([[40.0, 10.0, 30.0]])[0]   # far above the horizon
    assert np.isnan(cam.to_floor(up_px)).all()


def test_bad_calibrations_are_refused():
    with pytest.raises(ValueError, match="not a rotation"):
        Calibration.pinhole(K, np.diag([1.0, 1.0, -1.0]), [0, 0, 2])
    with pytest.raises(ValueError, match="coefficients"):
        Calibration.pinhole(K, np.eye(3), [0, 0, 2], dist=[0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="singular"):
        Calibration.from_homography(np.zeros((3, 3)))


def test_aifi_cameras_see_their_look_at_point_at_the_image_centre():
    """AiFi's calibration.json: intrinsics as fractions of the 640x360 image, ``Tw`` the
    camera-to-world pose in inches, OpenCV's distortion. Read that way, the ray through each
    camera's image centre meets the floor at its ``look_at`` point, to within a centimetre,
    for all 22 cameras (read any other way it misses by metres)."""
    calib = json.loads(shared_path("aifi", "store_meta", "calibration.json").read_text())
    inch = 0.0254
    misses = []
    for key, c in calib["cameras"].items():
        Kp = np.diag([W, H, 1.0]) @ np.asarray(c["K"], float)
        Tw = np.asarray(c["Tw"], float)
        cam = Calibration.pinhole(Kp, Tw[:3, :3], Tw[:3, 3] * inch, c["dist_coeffs"])
        hit = cam.to_floor([[W / 2, H / 2]])[0]
        misses.append(np.hypot(*(hit - np.asarray(c["look_at"][:2], float) * inch)))
        assert cam.t[2] > 2.0 or "depth" in key or int(key) > 20, key  # ceiling cameras
    assert len(misses) == 22 and max(misses) < 0.01
