"""The stage-boundary containers check their shapes and slice like arrays."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from conftest import make_detections

from walkout import Detections, Frame, tlwh_to_xyxy, xyxy_to_tlwh


def test_detections_columns_are_typed():
    d = make_detections(5, tracked=True)
    assert len(d) == 5
    assert d.xyxy.dtype == np.float32 and d.xyxy.shape == (5, 4)
    assert d.class_id.dtype == np.int64 and d.tracker_id.dtype == np.int64


def test_detections_shape_errors_name_expected_and_actual():
    with pytest.raises(ValueError, match=r"xyxy: expected shape \(N, 4\), got \(3, 3\)"):
        Detections(np.zeros((3, 3)), np.zeros(3), np.zeros(3))
    with pytest.raises(ValueError, match=r"confidence: expected shape \(2,\), got \(3,\)"):
        Detections(np.zeros((2, 4)), np.zeros(3), np.zeros(2))
    with pytest.raises(ValueError, match=r"tracker_id: expected shape \(2,\), got \(1,\)"):
        Detections(np.zeros((2, 4)), np.zeros(2), np.zeros(2), tracker_id=[1])
    with pytest.raises(ValueError, match=r"data\['idx'\]"):
        Detections(np.zeros((2, 4)), np.zeros(2), np.zeros(2), data={"idx": np.zeros(3)})


def test_detections_mask_and_index_return_detections():
    d = make_detections(6, seed=3, tracked=True)
    d = Detections(d.xyxy, d.confidence, d.class_id, d.tracker_id, {"idx": np.arange(6)})
    keep = d.confidence > 0.6
    sub = d[keep]
    assert isinstance(sub, Detections)
    assert len(sub) == int(keep.sum())
    np.testing.assert_array_equal(sub.data["idx"], np.flatnonzero(keep))
    one = d[2]
    assert len(one) == 1 and one.tracker_id[0] == 3


def test_empty_detections():
    d = Detections.empty()
    assert len(d) == 0 and d.xyxy.shape == (0, 4) and d.tracker_id is None
    assert len(Detections.empty(tracked=True).tracker_id) == 0
    assert len(Detections([], [], [])) == 0


def test_box_conversions_round_trip():
    xyxy = np.array([[10, 20, 50, 80], [0, 0, 1, 1]], np.float32)
    tlwh = xyxy_to_tlwh(xyxy)
    np.testing.assert_allclose(tlwh, [[10, 20, 40, 60], [0, 0, 1, 1]])
    np.testing.assert_allclose(tlwh_to_xyxy(tlwh), xyxy)


def test_frame_checks_its_image():
    Frame(0, 0.0, np.zeros((4, 6, 3), np.uint8))
    with pytest.raises(ValueError, match=r"expected an \(H, W, 3\) array"):
        Frame(0, 0.0, np.zeros((4, 6), np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        Frame(0, 0.0, np.zeros((4, 6, 3), np.float32))


def test_import_walkout_stays_light():
    """Neither the package, nor its command line, nor `walkout batch`'s module imports
    torch, ultralytics or Ray: each loads them when it needs them."""
    code = ("import sys, walkout, walkout.cli, walkout.batch; "
            "print(sorted(m for m in ('torch', 'ultralytics', 'ray') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
