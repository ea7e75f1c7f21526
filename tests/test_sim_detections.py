"""Detector-like detections for tracker benchmarks: seeded, with the promised defects."""

from __future__ import annotations

import numpy as np

from walkout.sim.detections import DetectorNoise, noisy_detections


def _gt(n_frames: int = 200) -> np.ndarray:
    """Two shoppers walking towards each other and overlapping in the middle frames."""
    rows = []
    for f in range(1, n_frames + 1):
        rows.append([f, 1, 100 + f, 200, 40, 60, 1, -1, -1, -1])
        rows.append([f, 2, 400 - f, 205, 40, 60, 1, -1, -1, -1])
    return np.array(rows, float)


def test_same_seed_same_detections():
    gt = _gt()
    a = noisy_detections(gt, 200, (640, 480), np.random.default_rng(3))
    b = noisy_detections(gt, 200, (640, 480), np.random.default_rng(3))
    np.testing.assert_array_equal(a, b)
    c = noisy_detections(gt, 200, (640, 480), np.random.default_rng(4))
    assert not np.array_equal(a, c)


def test_clean_detector_returns_the_ground_truth():
    clean = DetectorNoise(miss=0, miss_run_start=0, jitter=0, merge=0, clutter_sites=0,
                          random_fp=0)
    gt = _gt()
    det = noisy_detections(gt, 200, (640, 480), np.random.default_rng(0), clean)
    assert len(det) == len(gt)
    np.testing.assert_allclose(det[:, 2:6], gt[:, 2:6])
    assert (det[:, 1] == -1).all() and ((det[:, 6] >= 0.55) & (det[:, 6] <= 0.98)).all()


def test_defects_show_up_at_their_rates():
    gt = np.array([[f, 1, 100, 200, 40, 60, 1, -1, -1, -1] for f in range(1, 4001)], float)
    only_misses = DetectorNoise(miss_run_start=0, merge=0, clutter_sites=0, random_fp=0)
    det = noisy_detections(gt, 4000, (640, 480), np.random.default_rng(1), only_misses)
    assert 0.02 < 1 - len(det) / len(gt) < 0.06  # 4% isolated misses
    merging = DetectorNoise(miss=0, miss_run_start=0, jitter=0, merge=1.0, clutter_sites=0,
                            random_fp=0)
    det = noisy_detections(_gt(), 200, (640, 480), np.random.default_rng(1), merging)
    per_frame = np.bincount(det[:, 0].astype(int), minlength=201)[1:]
    assert per_frame[0] == 2 and per_frame[-1] == 2  # apart: two boxes
    assert per_frame[140] == 1  # frame 141: x 241 vs 259, they touch: one box around both
    assert det[det[:, 0] == 141][0, 4] == 58  # its width spans both shoppers
    clutter = DetectorNoise(miss=0, miss_run_start=0, jitter=0, merge=0, clutter_sites=2,
                            clutter_rate=1.0, random_fp=0)
    det = noisy_detections(_gt(), 200, (640, 480), np.random.default_rng(1), clutter)
    gt_boxes = {tuple(r) for r in _gt()[:, [0, 2, 3]]}
    extra = np.array([r for r in det if (r[0], r[2], r[3]) not in gt_boxes])
    assert len(extra) == 2 * 200  # both sites fire in every frame
    assert len(np.unique(extra[:, 2:6], axis=0)) == 2  # always at the same two places
    assert (extra[:, 6] <= 0.65).all()
