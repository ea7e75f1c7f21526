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

from dataclasses import asdict, dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

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
    idtp: float = field(default=0.0, repr=False)
    hota_counts: HotaCounts | None = field(default=None, repr=False, compare=False)

    def as_dict(self) -> dict:
        d = asdict(self)
        del d["idtp"], d["hota_counts"]
        return d


@dataclass(frozen=True)
class _Side:
    """One side's rows sorted by frame: frame, index of the id among the side's unique ids,
    and ``x1, y1, x2, y2``."""

    frame: np.ndarray
    idx: np.ndarray
    xyxy: np.ndarray
    ids: np.ndarray

    @classmethod
    def of(cls, rows: np.ndarray) -> _Side:
        rows = np.asarray(rows, np.float64).reshape(-1, max(6, np.shape(rows)[-1]))
        rows = rows[np.argsort(rows[:, 0], kind="stable")]
        ids, idx = np.unique(rows[:, 1].astype(np.int64), return_inverse=True)
        xyxy = rows[:, 2:6].copy()
        xyxy[:, 2:] += xyxy[:, :2]
        return cls(rows[:, 0].astype(np.int64), idx.reshape(-1), xyxy, ids)


@dataclass(frozen=True)
class _Pairs:
    """Every (true box, predicted box) pair that shares a frame, with its IoU, built in one
    vectorised pass; frame ``k`` owns true rows ``g0[k]:g1[k]``, predicted rows
    ``p0[k]:p1[k]`` and pairs ``o[k]:o[k+1]`` (row-major, true box first)."""

    g0: np.ndarray
    g1: np.ndarray
    p0: np.ndarray
    p1: np.ndarray
    o: np.ndarray
    gi: np.ndarray      # true row of each pair
    pj: np.ndarray      # predicted row of each pair
    iou: np.ndarray

    @classmethod
    def of(cls, g: _Side, p: _Side) -> _Pairs:
        frames = np.union1d(g.frame, p.frame)
        g0, g1 = np.searchsorted(g.frame, frames), np.searchsorted(g.frame, frames, "right")
        p0, p1 = np.searchsorted(p.frame, frames), np.searchsorted(p.frame, frames, "right")
        ng, npr = g1 - g0, p1 - p0
        k = ng * npr
        o = np.r_[0, np.cumsum(k)]
        owner = np.repeat(np.arange(len(frames)), k)
        q = np.arange(o[-1]) - o[owner]
        width = npr[owner]
        gi = g0[owner] + q // np.maximum(width, 1)
        pj = p0[owner] + q % np.maximum(width, 1)
        a, b = g.xyxy[gi], p.xyxy[pj]
        wh = np.maximum(np.minimum(a[:, 2:], b[:, 2:]) - np.maximum(a[:, :2], b[:, :2]), 0.0)
        inter = wh[:, 0] * wh[:, 1]
        area = lambda x: (x[:, 2] - x[:, 0]) * (x[:, 3] - x[:, 1])  # noqa: E731
        iou = inter / np.maximum(area(a) + area(b) - inter, 1e-12)
        return cls(g0, g1, p0, p1, o, gi, pj, iou)


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
    g, p = _Side.of(gt), _Side.of(pred)
    pairs = _Pairs.of(g, p)
    n_gt_ids, n_pr_ids = len(g.ids), len(p.ids)
    valid_all = pairs.iou >= iou_threshold
    # identity: frames where each (true id, predicted id) pair overlaps enough
    overlap = np.bincount(g.idx[pairs.gi[valid_all]] * n_pr_ids + p.idx[pairs.pj[valid_all]],
                          minlength=n_gt_ids * n_pr_ids).reshape(n_gt_ids, n_pr_ids)

    # CLEAR MOT, frame by frame
    g_id, p_id = g.idx.tolist(), p.idx.tolist()
    last: dict[int, int] = {}  # true id -> last matched predicted id
    fp = fn = idsw = matches = 0
    dist_sum = 0.0
    for g0, g1, p0, p1, o0, o1 in zip(pairs.g0.tolist(), pairs.g1.tolist(), pairs.p0.tolist(),
                                      pairs.p1.tolist(), pairs.o[:-1].tolist(),
                                      pairs.o[1:].tolist()):
        ng, npr = g1 - g0, p1 - p0
        if not ng or not npr:
            fn += ng
            fp += npr
            continue
        iou = pairs.iou[o0:o1].reshape(ng, npr)
        ok = valid_all[o0:o1].reshape(ng, npr)
        g_done = np.zeros(ng, bool)
        p_done = np.zeros(npr, bool)
        frame_p = p_id[p0:p1]
        for i in range(ng):  # keep established correspondences
            h = last.get(g_id[g0 + i])
            if h is None:
                continue
            for j in range(npr):
                if frame_p[j] == h and not p_done[j]:
                    if ok[i, j]:
                        g_done[i] = p_done[j] = True
                        matches += 1
                        dist_sum += 1.0 - iou[i, j]
                    break
        free = ok & ~g_done[:, None] & ~p_done[None, :]
        if free.any():
            rows, cols = _max_valid_assignment(np.where(free, 1.0 - iou, np.nan))
            for i, j in zip(rows.tolist(), cols.tolist()):
                o, h = g_id[g0 + i], frame_p[j]
                if o in last and last[o] != h:
                    idsw += 1
                last[o] = h
                g_done[i] = p_done[j] = True
                matches += 1
                dist_sum += 1.0 - iou[i, j]
        fn += ng - int(g_done.sum())
        fp += npr - int(p_done.sum())

    num_gt, num_pred = len(g.frame), len(p.frame)
    # identity: one global trajectory matching maximising overlapping frames
    if overlap.size:
        r, c = linear_sum_assignment(-overlap)
        idtp = float(overlap[r, c].sum())
    else:
        idtp = 0.0
    counts = _hota(g, p, pairs)
    hota, deta, assa, loca = counts.scores()
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
        gt_ids=n_gt_ids, pred_ids=n_pr_ids, idtp=idtp, hota_counts=counts,
    )


def _hota(g: _Side, p: _Side, pairs: _Pairs) -> HotaCounts:
    """The per-alpha HOTA counts of one sequence (TrackEval's definition)."""
    eps = np.finfo(float).eps
    n_gt, n_pr = len(g.ids), len(p.ids)
    # global alignment of ids: per frame, each pair's IoU over the IoU "union" of its row
    # and column, summed per id pair
    sim = pairs.iou
    row = np.bincount(pairs.gi, sim, minlength=len(g.frame))
    col = np.bincount(pairs.pj, sim, minlength=len(p.frame))
    denom = row[pairs.gi] + col[pairs.pj] - sim
    sim_iou = np.where(denom > eps, sim / np.where(denom > eps, denom, 1), 0.0)
    potential = np.bincount(g.idx[pairs.gi] * n_pr + p.idx[pairs.pj], sim_iou,
                            minlength=n_gt * n_pr).reshape(n_gt, n_pr)
    gt_count = np.bincount(g.idx, minlength=n_gt).astype(float)[:, None]
    pr_count = np.bincount(p.idx, minlength=n_pr).astype(float)[None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        alignment = potential / (gt_count + pr_count - potential)
    alignment = np.nan_to_num(alignment)
    # one alpha-independent matching per frame; the alphas only threshold its similarities
    score_all = alignment[g.idx[pairs.gi], p.idx[pairs.pj]] * sim
    gs, ps, sims = [], [], []
    for g0, g1, p0, p1, o0, o1 in zip(pairs.g0.tolist(), pairs.g1.tolist(), pairs.p0.tolist(),
                                      pairs.p1.tolist(), pairs.o[:-1].tolist(),
                                      pairs.o[1:].tolist()):
        if o1 == o0:
            continue
        ng, npr = g1 - g0, p1 - p0
        rows, cols = linear_sum_assignment(-score_all[o0:o1].reshape(ng, npr))
        gs.append(g.idx[g0 + rows])
        ps.append(p.idx[p0 + cols])
        sims.append(sim[o0 + rows * npr + cols])
    gs, ps, sims = (np.concatenate(x) if x else np.zeros(0) for x in (gs, ps, sims))
    A = len(HOTA_ALPHAS)
    tp, loc, assa_tp = np.zeros(A), np.zeros(A), np.zeros(A)
    for a, alpha in enumerate(HOTA_ALPHAS):
        ok = sims >= alpha - eps
        tp[a] = ok.sum()
        loc[a] = sims[ok].sum()
        m = np.bincount(gs[ok].astype(np.int64) * n_pr + ps[ok].astype(np.int64),
                        minlength=n_gt * n_pr).reshape(n_gt, n_pr)
        assa_tp[a] = (m * (m / np.maximum(1, gt_count + pr_count - m))).sum()
    return HotaCounts(tp, len(g.frame) - tp, len(p.frame) - tp, loc, assa_tp)


@dataclass(frozen=True)
class HotaCounts:
    """Per-alpha sums from which HOTA is computed, and combined over sequences as TrackEval
    does: true positives, misses, false positives, summed IoU of true positives, and the
    association score summed over true positives."""

    tp: np.ndarray
    fn: np.ndarray
    fp: np.ndarray
    loc: np.ndarray
    assa_tp: np.ndarray

    def __add__(self, other: HotaCounts) -> HotaCounts:
        return HotaCounts(*(getattr(self, k) + getattr(other, k)
                            for k in ("tp", "fn", "fp", "loc", "assa_tp")))

    def scores(self) -> tuple[float, float, float, float]:
        """HOTA, DetA, AssA and LocA, each the mean over the alphas."""
        deta = self.tp / np.maximum(1.0, self.tp + self.fn + self.fp)
        assa = self.assa_tp / np.maximum(1.0, self.tp)
        hota = np.sqrt(deta * assa)
        loca = np.maximum(1e-10, self.loc) / np.maximum(1e-10, self.tp)
        return float(hota.mean()), float(deta.mean()), float(assa.mean()), float(loca.mean())


def combine_mot(scores: list[MOTScores]) -> dict:
    """HOTA, DetA, AssA, IDF1 and MOTA over several sequences from their summed counts
    (TrackEval's and py-motmetrics' way of combining), not the mean of per-sequence scores."""
    if not scores:
        return {"hota": float("nan"), "deta": float("nan"), "assa": float("nan"),
                "idf1": float("nan"), "mota": float("nan")}
    counts = scores[0].hota_counts
    for s in scores[1:]:
        counts = counts + s.hota_counts
    hota, deta, assa, _ = counts.scores()
    n_gt = sum(s.num_gt for s in scores)
    n_pr = sum(s.num_pred for s in scores)
    idtp = sum(s.idtp for s in scores)
    errors = sum(s.fn + s.fp + s.idsw for s in scores)
    return {
        "hota": hota, "deta": deta, "assa": assa,
        "idf1": 2 * idtp / (n_gt + n_pr) if n_gt + n_pr else float("nan"),
        "mota": 1.0 - errors / n_gt if n_gt else float("nan"),
    }
