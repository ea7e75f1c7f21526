"""Tracking metrics on MOTChallenge files: CLEAR MOT, identity (IDF1) and HOTA.

- **CLEAR MOT** (Bernardin & Stiefelhagen 2008), computed as py-motmetrics does: per frame,
  ground-truth objects keep their previous hypothesis while the IoU stays >= the threshold;
  the rest are matched by Hungarian assignment on ``1 - IoU``, first maximising the number
  of valid pairs. A match that contradicts an object's previous hypothesis is an ID switch.
  ``MOTA = 1 - (FN + FP + IDSW) / GT``; MOTP is the mean ``1 - IoU`` of matches.
- **Identity** (Ristani et al. 2016): one global one-to-one matching of ground-truth and
  predicted trajectories maximising the frames where they overlap with IoU >= threshold.
  ``IDF1 = 2 IDTP / (GT + PRED)``.
- **HOTA** (Luiten et al., IJCV 2021): for each localisation threshold alpha in 0.05..0.95,
  detections are matched per frame maximising IoU weighted by the global alignment of
  their ids; ``DetA = TP / (TP + FN + FP)``, ``AssA`` = mean over true positives of the
  Jaccard overlap of their two trajectories, ``HOTA = sqrt(DetA * AssA)``, then the mean
  over alphas. LocA is the mean IoU of true positives.

Inputs are ``(N, >= 6)`` arrays of MOTChallenge rows ``frame, id, x, y, w, h, ...``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from .track import iou_batch

HOTA_ALPHAS = np.arange(0.05, 0.99, 0.05)  # 19 thresholds, as TrackEval


@dataclass(frozen=True)
class MOTScores:
    mota: float
    motp: float
    fp: int
    fn: int
    idsw: int
    num_gt: int
    num_pred: int
    recall: float
    precision: float
    idf1: float
    idp: float
    idr: float
    hota: float
    deta: float
    assa: float
    loca: float
    gt_ids: int
    pred_ids: int

    def as_dict(self) -> dict:
        return asdict(self)


def _by_frame(rows: np.ndarray) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """frame -> (ids, xyxy boxes)."""
    out: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    rows = np.asarray(rows, np.float64)
    if rows.size == 0:
        return out
    order = np.argsort(rows[:, 0], kind="stable")
    rows = rows[order]
    frames, starts = np.unique(rows[:, 0].astype(int), return_index=True)
    ends = np.r_[starts[1:], len(rows)]
    for f, a, b in zip(frames, starts, ends):
        r = rows[a:b]
        xyxy = np.c_[r[:, 2], r[:, 3], r[:, 2] + r[:, 4], r[:, 3] + r[:, 5]]
        out[int(f)] = (r[:, 1].astype(np.int64), xyxy)
    return out


def _max_valid_assignment(dist: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Hungarian on distances with NaN = forbidden, maximising the number of valid pairs
    first (py-motmetrics' expensive-edge construction)."""
    valid = np.isfinite(dist)
    if not valid.any():
        return np.empty(0, int), np.empty(0, int)
    c = np.abs(dist[valid]).max() + 1
    large = 2 * min(dist.shape) * c + 1
    rows, cols = linear_sum_assignment(np.where(valid, dist, large))
    ok = valid[rows, cols]
    return rows[ok], cols[ok]


def evaluate_mot(gt: np.ndarray, pred: np.ndarray, iou_threshold: float = 0.5) -> MOTScores:
    """Score predicted tracks against ground truth (both MOTChallenge rows)."""
    gt_f, pr_f = _by_frame(gt), _by_frame(pred)
    frames = sorted(set(gt_f) | set(pr_f))
    empty = (np.zeros(0, np.int64), np.zeros((0, 4)))
    gt_ids = np.unique(np.asarray(gt)[:, 1].astype(np.int64)) if len(gt) else np.zeros(0, int)
    pr_ids = np.unique(np.asarray(pred)[:, 1].astype(np.int64)) if len(pred) else np.zeros(0, int)
    gi = {int(k): i for i, k in enumerate(gt_ids)}
    pi = {int(k): i for i, k in enumerate(pr_ids)}

    # CLEAR MOT + per-frame similarity for identity and HOTA
    last: dict[int, int] = {}  # gt id -> last matched hypothesis id
    fp = fn = idsw = matches = 0
    dist_sum = 0.0
    overlap = np.zeros((len(gt_ids), len(pr_ids)))  # frames with IoU >= threshold
    per_frame = []
    for f in frames:
        g_ids, g_box = gt_f.get(f, empty)
        p_ids, p_box = pr_f.get(f, empty)
        iou = iou_batch(g_box, p_box)
        gidx = np.array([gi[int(i)] for i in g_ids], int)
        pidx = np.array([pi[int(i)] for i in p_ids], int)
        per_frame.append((gidx, pidx, iou))
        dist = np.where(iou >= iou_threshold, 1.0 - iou, np.nan)
        if dist.size:
            vr, vc = np.nonzero(np.isfinite(dist))
            np.add.at(overlap, (gidx[vr], pidx[vc]), 1)
        g_done = np.zeros(len(g_ids), bool)
        p_done = np.zeros(len(p_ids), bool)
        for i, o in enumerate(g_ids):  # keep established correspondences
            h = last.get(int(o))
            if h is None:
                continue
            j = np.flatnonzero(~p_done & (p_ids == h))
            if len(j) and np.isfinite(dist[i, j[0]]):
                g_done[i] = p_done[j[0]] = True
                matches += 1
                dist_sum += dist[i, j[0]]
        d = dist.copy()
        d[g_done, :] = np.nan
        d[:, p_done] = np.nan
        rows, cols = _max_valid_assignment(d)
        for i, j in zip(rows, cols):
            o, h = int(g_ids[i]), int(p_ids[j])
            if o in last and last[o] != h:
                idsw += 1
            last[o] = h
            g_done[i] = p_done[j] = True
            matches += 1
            dist_sum += d[i, j]
        fn += int((~g_done).sum())
        fp += int((~p_done).sum())

    num_gt, num_pred = len(gt), len(pred)
    # identity: one global trajectory matching maximising overlapping frames
    if overlap.size:
        r, c = linear_sum_assignment(-overlap)
        idtp = float(overlap[r, c].sum())
    else:
        idtp = 0.0
    hota, deta, assa, loca = _hota(per_frame, len(gt_ids), len(pr_ids))
    return MOTScores(
        mota=1.0 - (fn + fp + idsw) / num_gt if num_gt else float("nan"),
        motp=dist_sum / matches if matches else float("nan"),
        fp=fp, fn=fn, idsw=idsw, num_gt=num_gt, num_pred=num_pred,
        recall=matches / num_gt if num_gt else float("nan"),
        precision=matches / num_pred if num_pred else float("nan"),
        idf1=2 * idtp / (num_gt + num_pred) if num_gt + num_pred else float("nan"),
        idp=idtp / num_pred if num_pred else float("nan"),
        idr=idtp / num_gt if num_gt else float("nan"),
        hota=hota, deta=deta, assa=assa, loca=loca,
        gt_ids=len(gt_ids), pred_ids=len(pr_ids),
    )


def _hota(per_frame, n_gt: int, n_pr: int) -> tuple[float, float, float, float]:
    """HOTA, DetA, AssA, LocA averaged over the alphas (TrackEval's definition)."""
    eps = np.finfo(float).eps
    potential = np.zeros((n_gt, n_pr))
    gt_count = np.zeros((n_gt, 1))
    pr_count = np.zeros((1, n_pr))
    for gidx, pidx, sim in per_frame:
        if len(gidx) and len(pidx):
            denom = sim.sum(0)[None, :] + sim.sum(1)[:, None] - sim
            sim_iou = np.where(denom > eps, sim / np.where(denom > eps, denom, 1), 0.0)
            potential[gidx[:, None], pidx[None, :]] += sim_iou
        gt_count[gidx] += 1
        pr_count[0, pidx] += 1
    with np.errstate(divide="ignore", invalid="ignore"):
        alignment = potential / (gt_count + pr_count - potential)
    alignment = np.nan_to_num(alignment)
    A = len(HOTA_ALPHAS)
    tp, fn, fp, loc = np.zeros(A), np.zeros(A), np.zeros(A), np.zeros(A)
    match_counts = np.zeros((A, n_gt, n_pr))
    for gidx, pidx, sim in per_frame:
        if len(gidx) == 0 or len(pidx) == 0:
            fp += len(pidx)
            fn += len(gidx)
            continue
        score = alignment[gidx[:, None], pidx[None, :]] * sim
        rows, cols = linear_sum_assignment(-score)
        s = sim[rows, cols]
        for a, alpha in enumerate(HOTA_ALPHAS):
            ok = s >= alpha - eps
            n = int(ok.sum())
            tp[a] += n
            fn[a] += len(gidx) - n
            fp[a] += len(pidx) - n
            if n:
                loc[a] += s[ok].sum()
                np.add.at(match_counts[a], (gidx[rows[ok]], pidx[cols[ok]]), 1)
    assa = np.zeros(A)
    for a in range(A):
        m = match_counts[a]
        ass = m / np.maximum(1, gt_count + pr_count - m)
        assa[a] = (m * ass).sum() / max(1.0, tp[a])
    deta = tp / np.maximum(1.0, tp + fn + fp)
    hota = np.sqrt(deta * assa)
    loca = np.maximum(1e-10, loc) / np.maximum(1e-10, tp)
    return float(hota.mean()), float(deta.mean()), float(assa.mean()), float(loca.mean())
