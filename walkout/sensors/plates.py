"""Steps of single plates, found without the shelf ever settling.

The shelf detector (:mod:`walkout.sensors.events`) measures a step from the level a shelf
settled at before a movement. A shelf that is being handled when the stream begins has no
such level, and a hand leaning on a shelf makes its total swing by 60-100 g while each of
its plates, sharing the load, moves only a few grams: a clean 600 g step on one plate is
then plain on the plate and buried in the total. This module reads each plate on its own:

- every ``sub_s`` the median of each plate's samples (a hand's press and the ramp of a
  lift last a few tenths of a second, so they touch at most two of these);
- a plate's noise is the spread of the change between consecutive medians, taken as a
  MAD over the plate's recent history (items move a plate rarely, so their steps do not
  count in it), never below the load cell's resolution: no quiet stretch is needed;
- a step at one median is the median of the ``side_s`` of medians after it minus the
  median of those before it (the one in between, holding the ramp, left out). It counts
  when it beats ``min_delta_g`` and ``delta_k`` times the plate's noise, is the largest
  within ``side_s`` either way, and both sides are flat: most of their medians lie near
  their own level (a press can lift one or two).

The detector reports such a step as a weight event of the shelf only when its own
settle-to-settle reading did not cover it (:meth:`WeightEventDetector.update`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PlateStep:
    """A step of one plate: its column, the index of the first sample of the first median
    at the level after, the times the levels before and after were read from, the time of
    that median (``t_step``), the change and the plate's noise (grams)."""

    col: int
    g0: int
    t_before: float
    t_after: float
    t_step: float
    delta_g: float
    noise_g: float
    # every plate's change over the same two sides, where it beats delta_k x that plate's
    # noise (0 where it does not: noise is no move; NaN where a plate sent nothing)
    moves: np.ndarray


class PlateStepFinder:
    """Streams samples of a fixed set of plate columns; returns their clean steps, each
    once, ``side_s`` after it happened."""

    def __init__(self, n_plates: int, rate_hz: float, p) -> None:
        self.p = p
        self.sub = max(2, int(round(p.sub_s * rate_hz)))
        self.side = max(2, int(round(p.side_s / p.sub_s)))
        self.hist = max(4 * self.side, int(round(p.plate_noise_s / p.sub_s)))
        self.P = n_plates
        self.buf = np.zeros((0, n_plates))
        self.buf_t = np.zeros(0)
        self.med = np.zeros((0, n_plates))  # medians of the sub-blocks, oldest first
        self.med_t = np.zeros(0)
        self.first = 0  # global sample index of the first sample of med[0]
        self.n = 0  # samples taken in
        self.done = -1  # global index of the last sub-block judged
        self.last = np.full(n_plates, -10**9)  # global index of each plate's last step

    def update(self, t: np.ndarray, grams: np.ndarray, final: bool = False
               ) -> list[PlateStep]:
        buf = np.concatenate([self.buf, grams])
        buf_t = np.concatenate([self.buf_t, t])
        k = len(buf) // self.sub
        if k:
            cut = buf[:k * self.sub].reshape(k, self.sub, self.P)
            m = np.median(cut, axis=1)
            if np.isnan(m).any():  # a gap: the median of what the plate did send
                with np.errstate(all="ignore"):
                    m = np.where(np.isnan(cut).sum(1) * 2 < self.sub,
                                 np.nanmedian(cut, axis=1), np.nan)
            self.med = np.concatenate([self.med, m])
            self.med_t = np.concatenate([self.med_t, buf_t[:k * self.sub:self.sub]])
        self.buf, self.buf_t = buf[k * self.sub:], buf_t[k * self.sub:]
        self.n += len(t)
        out = self._judge(final)
        drop = len(self.med) - self.hist
        if drop > 0:
            self.med, self.med_t = self.med[drop:], self.med_t[drop:]
            self.first += drop * self.sub
        return out

    def noise(self) -> np.ndarray:
        """Each plate's noise of one sub-block median, grams (MAD of consecutive changes)."""
        d = np.diff(self.med, axis=0)
        with np.errstate(all="ignore"):
            mid = np.nanmedian if np.isnan(d).any() else np.median
            mad = mid(np.abs(d), axis=0) / (0.6745 * np.sqrt(2)) if len(d) \
                else np.full(self.P, np.nan)
        return np.where(np.isfinite(mad), np.maximum(mad, self.p.resolution_g),
                        np.inf)

    def _judge(self, final: bool) -> list[PlateStep]:
        p, h, n = self.p, self.side, len(self.med)
        base = self.first // self.sub  # global sub-block index of med[0]
        # sub-blocks that have both sides (at least min_side before, all h after; at the
        # end of the stream, what there is)
        lo = max(self.done + 1 - base, p.min_side)
        hi = n - (1 if final else h + 1)  # last index with its after side (or the end)
        if hi < lo or n < 2 * p.min_side + 1:
            return []
        sig = self.noise()
        need = np.maximum(p.min_delta_g, p.delta_k * sig)
        out = []
        # the step at j for every j in range(lo - h, hi + h + 1), so the largest can be told
        js = np.arange(max(lo - h, p.min_side), min(hi + h, n - p.min_side - 1) + 1)
        if not len(js):
            return []
        before = np.stack([self._median(max(j - h, 0), j) for j in js]) if js[0] < h \
            else self._medians(js - h, h)
        full = js + 1 + h <= n  # sides that are whole; the last few near the end are not
        after = np.concatenate([self._medians(js[full] + 1, h).reshape(-1, self.P),
                                *[self._median(j + 1, n)[None] for j in js[~full]]])
        step = after - before
        big = np.abs(step) >= need
        cand = np.flatnonzero((js >= lo) & (js <= hi))
        for i, c in zip(*np.nonzero(big[cand])):
            i = int(cand[i])
            j = int(js[i])
            near = slice(max(i - h, 0), i + h + 1)
            window = np.abs(step[near, c])
            if np.nanargmax(window) != i - near.start:
                continue  # a larger step close by (the same one, better placed)
            if base + j - self.last[c] <= h:
                continue  # the same step, already reported
            if not (self._flat(c, j - h, j, before[i, c], sig[c])
                    and self._flat(c, j + 1, j + 1 + h, after[i, c], sig[c])):
                continue
            self.last[c] = base + j
            # the first median at the level after: the change point of the medians around
            # (the ramp can lift two of them equally, so the largest step is not exact)
            a = max(j - h, 0)
            x = self.med[a:j + h + 1, c] - before[i, c]
            x = np.where(np.isfinite(x), x, 0.0)
            gain = np.cumsum(step[i, c] * (2 * x - step[i, c]))
            k = a + int(np.argmin(np.concatenate([[0.0], gain])))
            k = min(k, n - 1)
            out.append(PlateStep(int(c), (base + k) * self.sub, float(self.med_t[a]),
                                 float(self.med_t[min(j + h, n - 1)]),
                                 float(self.med_t[k]), float(step[i, c]), float(sig[c]),
                                 np.where(np.abs(step[i]) >= p.delta_k * sig, step[i], 0.0)))
        self.done = base + hi
        return out

    def _median(self, a: int, b: int) -> np.ndarray:
        with np.errstate(all="ignore"):
            return np.nanmedian(self.med[a:b], axis=0)

    def _medians(self, starts: np.ndarray, h: int) -> np.ndarray:
        """The median of ``med[a:a + h]`` for each ``a`` of ``starts`` (one sort)."""
        win = np.lib.stride_tricks.sliding_window_view(self.med, h, axis=0)[starts]
        if np.isnan(win).any():
            with np.errstate(all="ignore"):
                return np.nanmedian(win, axis=2)
        return np.median(win, axis=2)

    def _flat(self, c: int, a: int, b: int, level: float, sig: float) -> bool:
        """Most medians of plate ``c`` in ``[a, b)`` lie within the tolerance of ``level``
        (a press can lift one or two of them)."""
        x = self.med[max(a, 0):b, c]
        tol = max(self.p.flat_g, self.p.delta_k * sig)
        ok = np.abs(x - level) <= tol
        return bool(ok.sum() >= max(2, len(x) - self.p.flat_outliers))
