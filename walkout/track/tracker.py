"""walkout's tracker (the ``default`` preset): SORT with the ideas of ByteTrack and OC-SORT
and a batched, size-adaptive Kalman filter (the list of ideas is in :mod:`walkout.track`).

Track lifecycle: *tentative* (until ``min_hits`` consecutive matches; dropped on a miss),
*confirmed* (given an id and reported while matched), *lost* (unmatched, still predicted and
matchable; reported for ``coast_s`` seconds, none by default) and *removed* after
``max_age_s`` seconds without a match.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from itertools import accumulate, compress

import numpy as np

from ..types import Detections
from .boxes import NO_TRACKS, has_choice, hungarian, iou_arrays
from .kalman import (
    batch_predict,
    initial_covariance,
    pack,
    process_matrix,
    update_rows,
    virtual_path,
)


@dataclass(frozen=True)
class TrackerConfig:
    """Settings of :class:`Tracker`. Each is a published tracker's value (the source is named)
    or a physical quantity; durations are in seconds, turned into frames at the video's frame
    rate, so that the tracker behaves the same at 10 fps as at 30 fps. Where the published
    trackers disagree, the value is the one chosen with every sequence of
    ``benchmarks/tracking.py``; its leave-one-sequence-out table scores each sequence with
    the settings chosen without it (docs/tracking.md)."""

    # How long a lost track stays matchable: ByteTrack's and OC-SORT's track buffer, 30
    # frames at 30 fps. A walker occluded by a passer-by reappears within about a second; a
    # longer memory mostly lends old ids to new people.
    max_age_s: float = 1.0
    # Consecutive matches before a track gets an id: ByteTrack activates a track on its
    # second detection in a row (SORT and OC-SORT wait for three; cross-validation prefers
    # two). A count of detector outputs, not a duration: it asks for one independent
    # confirmation of a new box, and the score bar below already keeps weak boxes out.
    min_hits: int = 2
    # ByteTrack's score bands: detections at or above ``high_score`` are matched first, those
    # in [low_score, high_score) only continue existing tracks, and a track starts only from
    # a detection at ``high_score`` + 0.1 (ByteTrack's det_thresh), so that a weak second box
    # on one person does not open a duplicate track.
    high_score: float = 0.6
    low_score: float = 0.1
    new_track_score: float = 0.7
    # Minimum IoU per association pass, ByteTrack's published gates: 0.2 for the first pass
    # (match_thresh 0.8 on 1 - IoU), 0.5 for low-score detections (which are often partial
    # boxes of an occluded person, so they must overlap well), 0.3 for tentative tracks; and
    # OC-SORT's 0.3 for recovery on a lost track's last observed box (above 1: no recovery
    # pass, as SORT and ByteTrack).
    iou_threshold: float = 0.2
    iou_low: float = 0.5
    iou_tentative: float = 0.3
    iou_recovery: float = 0.3
    # OC-SORT's direction consistency: inertia weight 0.2, direction measured over delta_t =
    # 3 frames at 30 fps (0.1 s: long enough for a step to show, short enough to follow a turn).
    momentum_weight: float = 0.2
    momentum_s: float = 0.1
    output: str = "kalman"  # box reported: "kalman" (filtered) or "detection"
    # How long a missed confirmed track still reports its prediction. 0, as SORT, ByteTrack
    # and OC-SORT: they report only tracks matched in the frame. On real street video a
    # detector's misses come in runs (a person hidden behind another for many frames, or
    # leaving the image), so a coasted box is more often a false positive than a kept person
    # (TUD-Campus and TUD-Stadtmitte: MOTA +1.1 and +1.7 without it). The store pipeline,
    # which needs a shopper's presence to outlast a one-frame dropout, sets its own
    # (walkout.pipeline.TRACKER_SETTINGS).
    coast_s: float = 0.0
    # A lost track that has walked out through the image border is removed at once rather
    # than kept for max_age_s (only with the image's size; see Tracker._left_image): none of
    # SORT, ByteTrack and OC-SORT does this, so OC-SORT's recovery on the last box seen
    # lends the id of someone who walked out to a newcomer stepping in at the same border
    # within max_age_s. Chosen by cross-validation like the published alternatives.
    border_exit: bool = True
    max_speed_mps: float = 3.0  # floor gating (with a homography): a brisk run, m/s
    gate_margin_m: float = 0.75  # floor gating: slack for box-centre jitter, metres

    def frames(self, frame_rate: float) -> tuple[int, int, int]:
        """``(max_age, coast, momentum)`` in frames at ``frame_rate``: at least one frame of
        memory and of direction history, and no coasting below one frame's time."""
        def n(seconds: float) -> int:
            return int(math.floor(seconds * frame_rate + 0.5))  # round half up
        return max(1, n(self.max_age_s)), n(self.coast_s), max(1, n(self.momentum_s))


class Tracker:
    """walkout's multi-object tracker (the ideas it uses are listed in :mod:`walkout.track`).

    Args:
        config: a :class:`TrackerConfig`; keyword overrides are applied on top.
        frame_rate: frames per second of the video; the durations of the config are turned
            into frames at it.
        homography: optional ``(3, 3)`` image pixels -> floor metres; when given, pairs
            farther apart on the floor than a shopper can walk are never matched.
        image_size: optional ``(width, height)`` of the image in pixels; when given, a lost
            track whose predicted box has left the image is removed at once (see
            :meth:`_left_image`), so that a newcomer stepping in where it walked out does
            not take its id.

    The filters of all live tracks are held as parallel arrays, one row a track, so the
    arithmetic of a frame (prediction, IoU, update) is a handful of numpy calls whatever the
    number of tracks. The per-track bookkeeping (ids, hit streaks, frames missed) and the
    matches are plain lists: a store holds a few shoppers, and a list comprehension over a
    few tracks costs less than one numpy call (about a microsecond each) would.
    """

    def __init__(self, config: TrackerConfig | None = None, *, frame_rate: float = 30.0,
                 homography: np.ndarray | None = None,
                 image_size: tuple[float, float] | None = None, **overrides) -> None:
        cfg = replace(config or TrackerConfig(), **overrides)
        if cfg.output not in ("kalman", "detection"):
            raise ValueError(f"output: expected 'kalman' or 'detection', got {cfg.output!r}")
        self.config = cfg
        self.frame_rate = float(frame_rate)
        if not self.frame_rate > 0:
            raise ValueError(f"frame_rate: expected a positive number, got {frame_rate!r}")
        self.max_age, self.coast_frames, self.momentum_frames = cfg.frames(self.frame_rate)
        self._Q = process_matrix(self.frame_rate)
        self.homography = None if homography is None else np.asarray(homography, float)
        self._H = None if homography is None else self.homography.tolist()
        self.image_size = None
        if image_size is not None:
            w, h = (float(v) for v in image_size)
            if not (w > 0 and h > 0):
                raise ValueError(f"image_size: expected a positive (width, height), "
                                 f"got {image_size!r}")
            self.image_size = (w, h)
        # Scores are float32: compare them with the thresholds as float32 values, so that a
        # score of exactly 0.7 passes a threshold of 0.7.
        self._high, self._low, self._new = (float(np.float32(v)) for v in (
            cfg.high_score, cfg.low_score, cfg.new_track_score))
        self._min_iou = min(cfg.iou_threshold, cfg.iou_low, cfg.iou_tentative,
                            cfg.iou_recovery)
        self.reset()

    def reset(self) -> None:
        """Forget every track and restart ids at 1 (call between videos)."""
        # packed filters (see pack): state [x1, y1, x2, y2], velocities, factored covariance
        self.S = np.zeros((0, 20))
        self.S_obs = np.zeros((0, 20))  # each filter right after its last observation
        # a ring of the last k observed boxes (xyxy) of each track: observation j is in
        # column j % k, and a new track fills every column with its first box
        self.history = np.zeros((0, self.momentum_frames + 1, 4))
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
        ``coast_s`` seconds; none by default) follow with their predicted box, confidence 0
        and index -1.
        """
        cfg = self.config
        self.frame_count += 1
        n, m = len(self.ids), len(detections)
        if n == 0 and m == 0:
            return NO_TRACKS
        boxes = detections.xyxy.astype(np.float64)
        scores = detections.confidence.tolist()
        gone = self._predict() if n else []
        free_t, free_d = [True] * n, [True] * m
        matches: list[tuple[int, int]] = []  # (track row, detection index), in match order
        confirmed = [i for i, tid in enumerate(self.ids) if tid and not gone[i]]
        if n and m:
            high = [j for j, s in enumerate(scores) if s >= self._high]
            args = (free_t, free_d, matches, boxes, detections.confidence)
            pred = self.S[:, :4]
            iou = iou_arrays(pred, boxes)
            candidates = self._candidates(iou, pred, boxes)
            # 1. confirmed and lost tracks vs high-score detections, IoU + momentum (OC-SORT)
            self._stage(confirmed, high, iou, *candidates, cfg.iou_threshold, *args,
                        momentum=True)
            # 2. still-unmatched tracks vs low-score detections (ByteTrack)
            low = [j for j, s in enumerate(scores) if self._low <= s < self._high]
            if low:
                self._stage(confirmed, low, iou, *candidates, cfg.iou_low, *args)
            # 3. recovery: lost tracks matched on their last observed box (OC-SORT)
            lost = [i for i in confirmed if free_t[i] and self.missed[i]]
            if lost and cfg.iou_recovery <= 1.0 and any(free_d[j] for j in high):
                last = self._last_box(range(n))
                last_iou = iou_arrays(last, boxes)
                self._stage(lost, high, last_iou, *self._candidates(last_iou, last, boxes),
                            cfg.iou_recovery, *args)
            # 4. tentative tracks vs the rest of the high-score detections
            if len(confirmed) < n:
                tentative = [i for i, tid in enumerate(self.ids) if not tid]
                self._stage(tentative, high, iou, *candidates, cfg.iou_tentative, *args)
        self._apply_matches(matches, boxes)
        # lifecycle: tentative tracks die on their first miss, lost ones after max_age or
        # once they have left the image
        alive = [k <= self.max_age and (tid > 0 or not free) and not out for
                 k, tid, free, out in zip(self.missed, self.ids, free_t, gone)]
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
    def _predict(self) -> list[bool]:
        """Advance every filter a frame; returns, per track, whether it has left the image
        (:meth:`_left_image`; never without ``image_size``)."""
        S = self.S
        batch_predict(S, self._Q)
        gone = self._left_image() if self.image_size and self.config.border_exit \
            else [False] * len(S)
        small = (S[:, 2:4] - S[:, :2]) < 1.0
        if small.any():  # a box may not turn inside out: a side is held at one pixel
            r, c = np.nonzero(small)
            S[r, c + 2] = S[r, c] + 1.0
            S[r, c + 6] = S[r, c + 4]
        return gone

    def _left_image(self) -> list[bool]:
        """Per track, whether it has left the image: it is lost, the last box seen of it
        touched the image's border, and its predicted box (rows of ``self.S``) lies wholly
        outside the image or has shrunk to nothing (a side under a pixel).
        People leave the view through its border, and a detector cuts their box there, so
        someone walking out leaves a box that narrows against the border, and its
        prediction collapses there rather than moving out. Elsewhere a collapse is no
        exit: seen from above, a shopper's box shrinks as they crouch or turn, and a track
        lost in the middle of the image for a while drifts. The border is a band of 2% of
        the image's width: a box edge cut by the border wanders by a few percent of the
        box's size, a few pixels. A track matched in the last frame is still in view,
        whatever its prediction."""
        gone = [False] * len(self.missed)
        w, h = self.image_size
        edge = 0.02 * w
        ring = self.history.shape[1]
        for i, k in enumerate(self.missed):
            if not k:  # the usual case: matched in the last frame
                continue
            a1, b1, a2, b2 = self.history[i, (self.n_obs[i] - 1) % ring].tolist()  # last seen
            if a1 > edge and b1 > edge and a2 < w - edge and b2 < h - edge:
                continue
            x1, y1, x2, y2 = self.S[i, :4].tolist()  # predicted
            gone[i] = (x2 <= 0 or y2 <= 0 or x1 >= w or y1 >= h  # wholly outside
                       or x2 - x1 < 1.0 or y2 - y1 < 1.0)  # shrunk to nothing
        return gone

    def _candidates(self, sim: np.ndarray, ref: np.ndarray, boxes: np.ndarray
                    ) -> tuple[np.ndarray, list[tuple[int, int]]]:
        """The pairs (track row, detection) that may match on similarity ``sim`` (IoU)
        between ``ref`` (track boxes) and ``boxes`` in some pass: at least the lowest IoU
        gate of the passes and, with a homography, within walking reach on the floor.
        Returns them as a boolean matrix and as a list, in row-major order."""
        valid = sim >= self._min_iou
        r, c = np.nonzero(valid)
        pairs = list(zip(r.tolist(), c.tolist()))
        if pairs and self.homography is not None:
            pairs = self._gate(valid, pairs, ref, boxes)
        return valid, pairs

    def _stage(self, rows: list[int], cols: list[int], sim: np.ndarray, valid: np.ndarray,
               pairs: list[tuple[int, int]], gate: float, free_t: list[bool],
               free_d: list[bool], matches: list, boxes: np.ndarray, scores: np.ndarray,
               momentum: bool = False) -> None:
        """One association pass between the free tracks among ``rows`` and the free
        detections among ``cols``, over the candidate ``pairs`` (see :meth:`_candidates`)
        with similarity ``sim`` at least ``gate``, in place."""
        rows = [i for i in rows if free_t[i]]
        if not rows:
            return
        cols = [j for j in cols if free_d[j]]
        if not cols:
            return
        rs, cs = set(rows), set(cols)
        strict = gate > self._min_iou
        found = [(i, j) for i, j in pairs if i in rs and j in cs
                 and (not strict or sim[i, j] >= gate)]
        if not found:
            return
        if has_choice(*zip(*found)):  # otherwise the candidates are the matches
            if len(rows) == len(free_t) and len(cols) == len(free_d):
                s, ok = sim, valid  # every track and every detection (a usual first pass)
            else:
                ix = np.ix_(rows, cols)
                s, ok = sim[ix], valid[ix]
            if strict:
                ok = ok & (s >= gate)
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
        self.S[rows] = self.S_obs[rows] = update_rows(self.S[rows], z)
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
                                 z.tolist(), gap, self.frame_rate)

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
