"""A plate's change inside one weight event, read in time: when it happened, and whether it
came in several clear steps.

- :func:`change_points`: per plate, the least-squares split into the level before and the
  level after (a CUSUM change point). Unlike a threshold crossing, a press, a ring or a
  neighbour's leak of a few samples barely moves it.
- :func:`fit_steps`: a plate whose change came in several clear steps (hands a second
  apart: two takes, or a take and a put-back, the shelf never still in between), fitted as
  a run of levels by dynamic programming; and (:func:`pulse`) an item put on a plate and
  taken off again, which leaves the plate where it began.

Both read a plate's samples from the event detector's history
(:class:`walkout.sensors.events.WeightEventDetector`), relative to its level before.
"""

from __future__ import annotations

from functools import lru_cache
from itertools import pairwise
from typing import TYPE_CHECKING

import numpy as np
from scipy.ndimage import grey_opening, median_filter, minimum_filter1d

if TYPE_CHECKING:
    from .events import EventParams


def change_points(x: np.ndarray, ts: np.ndarray, plate_d: np.ndarray) -> list:
    """Per plate (columns of ``x``, samples relative to the level before; ``ts`` their
    times), when its step of ``plate_d`` happened: the split that best fits the samples
    with the level before, then the level after (least squares). None for a plate that
    did not change."""
    # cost of calling samples [0, tau) "before" rather than "after", per plate
    gain = np.cumsum(plate_d * (2 * x - plate_d), axis=0)
    tau = np.argmin(np.vstack([np.zeros((1, x.shape[1])), gain]), axis=0)
    return [float(ts[min(int(k), len(ts) - 1)]) if d else None
            for k, d in zip(tau, plate_d)]


def fit_steps(x: np.ndarray, ts: np.ndarray, plate_d: np.ndarray, rate: float, need: float,
              p: EventParams) -> dict:
    """Plates (by column of ``x``: samples relative to the level before, at ``rate`` per
    second; ``ts`` their times) whose change ``plate_d`` came in several clear steps:
    ``((t, level after), ...)``, one pair a step, levels from before the event, the last
    level the plate's change. The plate is fitted as before (0), ``k`` levels between and
    after (its change) by least squares over all split points (dynamic programming), on a
    0.1 s running median (hands pressing leave spikes) opened over ``press_s`` (a press
    lasts no longer; an item put back and then taken, a level above both ends, does). Each
    level between must last ``two_step_s``, and is read as the median of its stretch
    without 0.1 s at either end (a ramp's half). The most levels (up to ``max_steps - 1``)
    are kept that halve the error of the fewer levels kept before, with every step at least
    ``step_share`` of the plate's change (one unit of five) and ``min_delta_g``. A plate
    whose change is small but that held an item for a while is read by :func:`pulse`."""
    min_run = max(2, int(round(p.two_step_s * rate)))
    edge = int(round(0.1 * rate))  # a ramp's half at each end of a level
    n = len(x)
    out = {}
    if n < 2 * min_run:
        return out
    # an item on a plate and off again (see pulse) holds the plate this much heavier
    # for the presses around it and a level between; one taken and put back holds it
    # this much lighter for a level between (the presses come at its ends)
    up = max(2 * p.min_delta_g, need)
    held = (p.press_s + p.two_step_s) * rate
    n_up, n_down = (x >= up).sum(axis=0), (x <= -up).sum(axis=0)
    for j, d in enumerate(plate_d):
        small = not abs(d) >= 2 * p.min_delta_g
        if small and not (n_up[j] >= held or n_down[j] >= min_run):
            continue
        y = median_filter(x[:, j], size=max(3, int(round(0.1 * rate)) | 1),
                          mode="nearest")
        if small:
            found = pulse(y, ts, rate, up, p)
            if found is not None:
                out[j] = found
            continue
        # a hand pressing adds weight for up to press_s: an opening (a running minimum,
        # then maximum) over that long takes presses out and keeps every level that
        # lasts, an item put back for a while too
        y = _opening(y, max(3, int(round(p.press_s * rate)) | 1))
        a, b = _splits(n + 1, min_run)  # a level held over samples [a, b)
        c1 = np.concatenate([[0.0], np.cumsum(y)])
        c2 = np.concatenate([[0.0], np.cumsum(y * y)])
        head = c2                                        # 0 on [0, i): sum y^2
        tail = (c2[n] - c2) - 2 * d * (c1[n] - c1) + d * d * (n - np.arange(n + 1))
        mid = (c2[b] - c2[a]) - (c1[b] - c1[a]) ** 2 / (b - a)
        err = float(np.min(head + tail))                 # one step
        cost, backs, best = head, [], None
        for _ in range(p.max_steps - 1):
            total = np.full((n + 1, n + 1), np.inf)
            total[a, b] = cost[a] + mid
            cost, back = total.min(axis=0), total.argmin(axis=0)
            backs.append(back)
            end = int(np.argmin(cost + tail))
            if not cost[end] + tail[end] <= 0.5 * err:
                continue
            cuts = [end]
            for bk in reversed(backs):
                cuts.insert(0, int(bk[cuts[0]]))
            levels = [_inner_median(y[r:q], edge) for r, q in pairwise(cuts)]
            jumps = np.abs(np.diff([0.0, *levels, d]))
            if jumps.min() < max(p.min_delta_g, p.step_share * abs(d)):
                continue
            err = float(cost[end] + tail[end])
            best = tuple((float(ts[min(c, n - 1)]), float(lv))
                         for c, lv in zip(cuts, [*levels, d]))
        if best is not None:
            out[j] = best
    return out


def pulse(y: np.ndarray, ts: np.ndarray, rate: float, need: float, p: EventParams
          ) -> tuple | None:
    """An item put on a plate and taken off again within one movement (one shopper puts
    it back, another takes it), or taken and put back (a shopper looks at it and puts it
    back, or another shopper puts back one they carry), so the plate ends where it began:
    ``((t_on, level), (t_off, 0.0))``, ``level`` above 0 for an item on and off, below
    for one off and on; or None. Hands press while placing and grasping (up to
    ``press_s``, adding weight): the level of an item put on is read from the running
    minimum over ``press_s``, that of one taken off from the plate with its presses opened
    away (:func:`_opening`). It must reach ``need``, and stay within a quarter of its top
    for ``two_step_s``, in one stretch."""
    size = max(3, int(round(p.press_s * rate)) | 1)
    found = _pulse(minimum_filter1d(y, size=size, mode="nearest"), y, ts, rate, need, p)
    if found is not None:
        return found
    found = _pulse(-_opening(y, size), -y, ts, rate, need, p)
    if found is None:
        return None
    (t_on, level), off = found
    return (t_on, -level), off


def _pulse(lower: np.ndarray, y: np.ndarray, ts: np.ndarray, rate: float, need: float,
           p: EventParams) -> tuple | None:
    """:func:`pulse` of a level above 0: ``lower`` the plate without its presses, ``y``
    the plate."""
    top = float(lower.max())
    if top < need:
        return None
    edges = np.flatnonzero(np.diff(np.concatenate([[0], lower >= 0.5 * top, [0]])))
    if len(edges) != 2:
        return None  # more than one stretch
    flat = np.flatnonzero(lower >= 0.75 * top)
    if len(flat) < max(2, int(round(p.two_step_s * rate))):
        return None
    level = float(np.median(lower[flat]))
    half = y < level / 2
    a, b = int(flat[0]), int(flat[-1]) + 1
    if not (half[:a].any() and half[b:].any()):
        return None
    on = a - int(np.argmax(half[:a][::-1]))
    off = b + int(np.argmax(half[b:]))
    return (float(ts[on]), level), (float(ts[min(off, len(ts) - 1)]), 0.0)


def _inner_median(y: np.ndarray, edge: int) -> float:
    """The level of a held stretch: the median of ``y`` without ``edge`` samples at either
    end (where the ramps into and out of it lie), or of all of it when that leaves none."""
    inner = y[edge:len(y) - edge]
    return float(np.median(inner if len(inner) else y))


def _opening(y: np.ndarray, size: int) -> np.ndarray:
    """A grey opening over ``size`` samples that keeps the ends: the signal is padded with
    its end values first, so a level held for less than ``size / 2`` at either end is not
    lost."""
    padded = np.pad(y, size, mode="edge")
    return grey_opening(padded, size=size, mode="nearest")[size:-size]


@lru_cache(maxsize=64)
def _splits(n: int, min_run: int) -> tuple[np.ndarray, np.ndarray]:
    """All split pairs ``a < b`` of ``n`` positions at least ``min_run`` apart."""
    return np.triu_indices(n, min_run)
