"""Detector-like detections from ground-truth boxes, for benchmarking trackers.

A real person detector on store footage misses people now and then (mostly in short runs,
when a shopper bends or passes a fixture), jitters its boxes, fires on static clutter such
as shelf edges at middling confidence, adds the odd random false positive, and often
returns one box for two shoppers who touch. :func:`noisy_detections` adds all of these to
MOTChallenge ground truth, seeded.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..track import iou_batch


@dataclass(frozen=True)
class DetectorNoise:
    """How imperfect the simulated detector is (probabilities are per box per frame)."""

    miss: float = 0.04  # an isolated miss
    miss_run_start: float = 0.01  # chance a run of misses starts
    miss_run_frames: tuple[int, int] = (2, 8)  # its length
    jitter: float = 0.04  # box edge noise, share of the box size (sigma)
    merge_iou: float = 0.05  # boxes overlapping more than this may merge into one
    merge: float = 0.5  # chance that touching shoppers come out as one box
    clutter_sites: int = 3  # static false positives (shelf edges), per sequence
    clutter_rate: float = 0.15  # chance a clutter site fires in a frame
    random_fp: float = 0.05  # random false positives per frame (Poisson mean)
    score_tp: tuple[float, float] = (0.55, 0.98)
    score_fp: tuple[float, float] = (0.3, 0.65)


def noisy_detections(gt: np.ndarray, n_frames: int, size: tuple[int, int],
                     rng: np.random.Generator, noise: DetectorNoise = DetectorNoise()
                     ) -> np.ndarray:
    """MOTChallenge detection rows ``frame,-1,x,y,w,h,score,-1,-1,-1`` for frames
    ``1..n_frames`` of an image of ``size = (width, height)``."""
    W, H = size
    gt = np.asarray(gt, np.float64)
    ids = np.unique(gt[:, 1]).astype(int) if len(gt) else np.zeros(0, int)
    missing_until = {int(i): 0 for i in ids}
    typical = np.median(gt[:, 4:6], axis=0) if len(gt) else np.array([40.0, 40.0])
    sites = [(rng.uniform(0, W - typical[0]), rng.uniform(0, H - typical[1]),
              typical[0] * rng.uniform(0.6, 1.4), typical[1] * rng.uniform(0.6, 1.4))
             for _ in range(noise.clutter_sites)]
    rows = []
    for f in range(1, n_frames + 1):
        g = gt[gt[:, 0] == f]
        xyxy = np.c_[g[:, 2], g[:, 3], g[:, 2] + g[:, 4], g[:, 3] + g[:, 5]]
        keep = np.ones(len(g), bool)
        for k, i in enumerate(g[:, 1].astype(int)):
            if missing_until[i] >= f:
                keep[k] = False
            elif rng.random() < noise.miss_run_start:
                missing_until[i] = f + int(rng.integers(*noise.miss_run_frames)) - 1
                keep[k] = False
            elif rng.random() < noise.miss:
                keep[k] = False
        boxes = [b for b, k in zip(xyxy, keep) if k]
        # touching shoppers: one box around both
        if len(boxes) > 1:
            iou = iou_batch(np.array(boxes), np.array(boxes))
            np.fill_diagonal(iou, 0)
            done: set[int] = set()
            merged = []
            for a in range(len(boxes)):
                if a in done:
                    continue
                partners = [b for b in np.flatnonzero(iou[a] > noise.merge_iou) if b not in done]
                if partners and rng.random() < noise.merge:
                    b = partners[0]
                    done |= {a, int(b)}
                    u = np.r_[np.minimum(boxes[a][:2], boxes[b][:2]),
                              np.maximum(boxes[a][2:], boxes[b][2:])]
                    merged.append(u)
                else:
                    done.add(a)
                    merged.append(boxes[a])
            boxes = merged
        out = []
        for b in boxes:
            w, h = b[2] - b[0], b[3] - b[1]
            j = rng.normal(0, noise.jitter, 4) * np.array([w, h, w, h])
            out.append((b + j, rng.uniform(*noise.score_tp)))
        for x, y, w, h in sites:
            if rng.random() < noise.clutter_rate:
                out.append((np.array([x, y, x + w, y + h]), rng.uniform(*noise.score_fp)))
        for _ in range(rng.poisson(noise.random_fp)):
            w, h = typical * rng.uniform(0.5, 1.5, 2)
            x, y = rng.uniform(0, W - w), rng.uniform(0, H - h)
            out.append((np.array([x, y, x + w, y + h]), rng.uniform(*noise.score_fp)))
        for b, s in out:
            b = np.clip(b, 0, [W - 1, H - 1, W - 1, H - 1])
            if b[2] - b[0] >= 2 and b[3] - b[1] >= 2:
                rows.append([f, -1, b[0], b[1], b[2] - b[0], b[3] - b[1], s, -1, -1, -1])
    return np.asarray(rows, np.float64).reshape(-1, 10)
