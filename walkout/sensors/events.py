"""Weight events: settle-to-settle step changes of a shelf, detected on the stream.

Per shelf, the total of its plates is watched through a sliding window of ``window_s``:

- the shelf is **settled** while the window's standard deviation stays low, and **moving**
  once it rises above ``stable_k`` times the shelf's own quiet level (with hysteresis: it
  settles again below ``release`` times that threshold). This is the trigger of AIM3S and
  of CMU's winning CPS-IoT 2020 entry (a moving-window deviation, anchors.md), made
  relative to each shelf's measured noise, because real shelves differ by 10x (AiFi's
  quiet shelf totals move 3-27 g over 1 s);
- when a moving shelf settles, the median level after minus the median level before is
  the step, each taken on windows that stop ``guard_s`` short of the movement so a ramp's
  edges do not leak into the levels (and, where the plate that carries the step was not
  still over the window before, on the latest earlier window of the settled run where
  every plate was: the deviation lags a hand's touch, so a press's first samples can fall
  in that window). A settle over which that plate was not still (a lift's ramp, a press)
  is no level: when the shelf moves again within ``watch_s``, that movement is read from
  the level before both.
  It is an event if it beats both ``min_delta_g`` (10 g, the threshold of AIM3S and CMU)
  and ``delta_k`` times the shelf's level noise,
  measured on its quiet stretches (wobble from people leaning moves a shelf's level by
  several grams), on the shelf's total or on one of its plates: a take from one plate and
  a return of a similar weight to another, in one movement, leave the total where it was;
- drift never accumulates, because the levels are taken right before and after each
  movement; a vibration burst or a hand pressing a plate moves the shelf and then settles
  at the old level, so it gives no step.
- for ``watch_s`` after a shelf settles from moving, its level stays **watched**: a light
  item taken just as the shelf settles can fall mostly before the settle window and then
  shift the level too gently to count as moving again. A later quiet window whose level
  is a step away from the settled one is an event, measured from the settled level, but
  only if one plate carries the step (``watch_share`` of all the plates' moves, and the
  step size on its own): with no movement to back it, wobble must not pass for an item.
- a step is judged on the **plates** that carry it as well as on the total. A hand or arm
  leaning on a shelf bends its board and moves every plate alike, while an item stands on
  one to three plates: the median change of the other plates (the lean's share) is taken
  out of each plate's change, and the one to three plates that moved most must carry
  ``min_delta_g`` and ``watch_share`` of all the plates' moves. The plate that carries
  the step must be still (its spread within ``stable_k`` times its own sample noise, or
  ``stable_floor_g``) in both level windows: a shelf whose total wobbles by 100 g under a
  hand counts as settled while one plate is still pressed, and a press is not a level.
  Such a step's noise is that of its plates' levels when lower than the shelf's.
- a plate whose change came in **several clear steps** (hands a second apart: two takes,
  or a take and a put-back, the shelf never still in between) reports each step's time
  and the level after it (``WeightEvent.plate_steps``), so the item identifier can make
  timed items of them. A plate that ends where it began but held an item for a while in
  between (one shopper put it back, another took it) is an event too, with its two steps.
  These fits are :mod:`walkout.sensors.steps`.

Samples are processed in steps of ``step_s`` (0.5 s) counted from the stream's start,
whatever blocks they arrive in, so the same stream gives the same events however it was
cut. Latency from settling to the event is the window (0.4 s at the defaults) plus up to
one step. Two events on a shelf stay separate when the shelf settles for one window
between them.

Steps of single plates (:mod:`walkout.sensors.plates`, 0.25 s medians, levels 1.5 s
either side) report what the shelf's reading misses, chiefly on a shelf that is handled
from the first sample and never settles; they arrive about 1.75 s after the step.

The detector is vectorised over plates, shelves and samples: one block of samples costs a
few dozen numpy operations, and Python runs only at the rare state changes. Memory is a
short tail of samples plus ``history_s`` of per-plate history, whatever the stream length.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

import numpy as np

from ..types import WeightEvent
from .plates import PlateStep, PlateStepFinder, _level_last
from .readers import SampleBlock
from .steps import change_points, fit_steps

UNKNOWN, MOVING, SETTLED = 0, 1, 2
NOT_STILL = "not still"  # a settle of the shelf while a plate of the step was pressed


@dataclass(frozen=True)
class EventParams:
    """Event detection settings (seconds and grams)."""

    # A settle window of 0.4 s (24 samples at 60 Hz): AIM3S and CMU close an event after
    # 30 stable samples at 60 Hz; 24 keeps settle-to-event latency under 0.5 s and lets
    # two takes about 1 s apart settle between them.
    window_s: float = 0.4
    # Samples next to a movement left out of the levels (a lift ramps over 0.15-0.3 s).
    guard_s: float = 0.1
    # Moving when the window std exceeds stable_k x the shelf's quiet window std (CMU uses a
    # fixed 20 g; a multiple of the measured noise serves both quiet and wobbly shelves).
    # The std of 24 samples of steady noise stays within about 15% of its usual value, so
    # 2.5x is a touch, not noise (chosen on simulated seeds 100-109, held out 300-319).
    stable_k: float = 2.5
    # ... and at least 6 g: half the window std that the lightest product (24 g) gives as a
    # step, so every product still moves the shelf, while on a very still shelf the ringing
    # a hand leaves behind (5-25 g, decaying) soon counts as settled again.
    stable_floor_g: float = 6.0
    # Settled again below release x threshold (hysteresis: a shelf at its threshold would
    # flicker on the 15% spread of its own window std).
    release: float = 0.75
    # A step must exceed 10 g (AIM3S, CMU: |dw| > 10 g; the lightest AiFi item is 24 g) ...
    min_delta_g: float = 10.0
    # ... and delta_k x the shelf's level noise (std of the window mean one window apart):
    # 3 sigma, which steady noise passes at about one settle in 400. Real quiet AiFi
    # shelves give no event down to 2.
    delta_k: float = 3.0
    # Memory of the running noise estimates: a shelf's noise changes over minutes (people
    # walking by, a fridge cycling), faster than a few seconds of hands should move it.
    noise_tau_s: float = 30.0
    # Never settled this long: the shelf got noisier (a cart parked against it, a
    # compressor), re-learn its noise from all its windows. Shoppers reaching in turn keep
    # a shelf moving for several seconds, and learning their presses as noise would raise
    # the step threshold for a minute, so this is well beyond that.
    stuck_s: float = 15.0
    # Per-plate history kept to time the change inside an event: longer than hands stay
    # in a shelf without it settling (a few seconds).
    history_s: float = 10.0
    # For this long after settling, a new quiet level that differs from the settled one by a
    # step is an event even though the shelf never counted as moving: a light item taken
    # just as the shelf settles can shift the window too little to cross the threshold ...
    watch_s: float = 1.0
    # ... when one plate carries at least this share of the plates' moves. With no
    # movement to back it, a step must look like an item: an item stands on one plate (or
    # on two, one carrying most), while a sway or a lean moves every plate of the shelf.
    watch_share: float = 0.8
    # A plate's change is several steps (hands a second apart) when each level between them
    # lasts at least this (see steps.fit_steps): the longest ramp of a lift, so a shorter
    # level is a ramp's middle ...
    two_step_s: float = 0.3
    # ... and there are at most this many (a shelf's front fits two or three shoppers) ...
    max_steps: int = 3
    # ... each at least this share of the plate's change (one unit of five: a take of up
    # to five units may come one unit a step)
    step_share: float = 0.2
    # The longest a hand presses on a plate while placing or grasping an item: an item
    # put on a plate and taken off again is read under the presses (see steps.pulse).
    press_s: float = 0.4
    # Samples are processed in steps of this long, counted from each stream's first sample,
    # whatever the size of the blocks they arrive in: the events never depend on how a
    # stream was cut (a file's 10 s blocks, the pipeline's half seconds, a live board's
    # packets). A sample waits at most one step; flush() processes the rest at the end.
    step_s: float = 0.5
    # -- steps of single plates (walkout.sensors.plates), for shelves that never settle --
    # Medians of 0.25 s: a lift ramps over 0.15-0.3 s and a hand presses for at most
    # 0.4 s, so either touches at most two of them.
    sub_s: float = 0.25
    # A plate's level before and after a step: the median of 1.5 s of medians on either
    # side (six; a press lifts at most two) ...
    side_s: float = 1.5
    min_side: int = 3  # ... or of 0.75 s when the stream began or ended closer than that
    flat_outliers: int = 2  # medians of a side that may be off its level (a press: two)
    # ... and in one of its medians, at least, the plate held still: its samples spanned
    # less than this. A quarter second of a plate with items resting on it spans its noise,
    # creep (AiFi's plates move 1-4 g) and the ringing a touch leaves (5-25 g, decaying),
    # while a hand working it (pressing, rummaging) moves it by tens of grams in that time
    still_g: float = 30.0
    # A side is flat when its medians lie within this of its level, or delta_k x the
    # plate's noise: half the smallest step that counts (min_delta_g).
    flat_g: float = 5.0
    # ... or a quarter of the step: a lean on the shelf drifts every plate by a few grams
    # over 1.5 s, and a level only has to stay nearer itself than the other level.
    flat_share: float = 0.25
    # A board's sway (see _Stream._sway) is taken out of a shelf's reading only when its
    # shape stands out from the plates' history: its first principal direction carries 4x
    # the next one's variance (a board's sway has one shape; white noise on three plates
    # spreads over all three directions) ...
    sway_one: float = 4.0
    # ... and each other plate's change must follow the shape to within this share of its
    # sway (plus its level noise): a share learnt from a few seconds of sway, a dozen or two
    # swings of a quarter second, is good to about 1/sqrt(25) = 20%.
    sway_fit: float = 0.2
    # The least noise of a plate's 0.25 s median: the load cell's resolution (AiFi's
    # plates read in steps of 0.36 g); a plate stuck at one value reads no less.
    resolution_g: float = 0.36
    # History a plate's noise is taken from (a MAD over its 40 medians, steady to about
    # 10%): as for history_s, longer than hands stay in a shelf.
    plate_noise_s: float = 10.0


def shelves_by_prefix(plate_id: str) -> str | None:
    """The shelf of a plate id named ``<shelf>p<n>`` (AiFi ``g2s3p7`` -> ``g2s3``)."""
    head, sep, tail = plate_id.rpartition("p")
    return head if sep and head and tail.isdigit() else None


class WeightEventDetector:
    """Stream in :class:`SampleBlock` s, get :class:`WeightEvent` s out.

    Args:
        shelves: shelf id -> its plate ids.
        rate_hz: nominal sample rate (sets the window lengths in samples).
        params: :class:`EventParams`.
        shelf_of: optional plate id -> shelf id for plates that no shelf lists (AiFi
            shelves that the planogram leaves empty still have plates worth watching).

    Blocks may carry any subset of the plates (AiFi sends one gondola a block); each set of
    plate ids gets its own stream state. A shelf is watched on the plates it has in the
    stream; its missing plates are left out.
    """

    def __init__(self, shelves: dict[str, list[str]], rate_hz: float = 60.0,
                 params: EventParams | None = None,
                 shelf_of: Callable[[str], str | None] | None = None) -> None:
        self.shelves = {k: list(v) for k, v in shelves.items()}
        self.shelf_of = shelf_of
        self.rate_hz = float(rate_hz)
        self.params = params or EventParams()
        self.step = max(1, int(round(self.params.step_s * self.rate_hz)))
        self.reset()

    def reset(self) -> None:
        self._streams: dict[tuple[str, ...], _Stream] = {}
        self._held: dict[tuple[str, ...], tuple[np.ndarray, np.ndarray]] = {}  # < one step

    def update(self, block: SampleBlock) -> list[WeightEvent]:
        stream = self._streams.get(block.plate_ids)
        if stream is None:
            shelves = self.shelves
            if self.shelf_of is not None:  # plates of no listed shelf join one by name
                known = {q for pids in shelves.values() for q in pids}
                shelves = {k: list(v) for k, v in shelves.items()}
                for q in block.plate_ids:
                    sid = None if q in known else self.shelf_of(q)
                    if sid is not None:
                        shelves.setdefault(sid, []).append(q)
            stream = _Stream(block.plate_ids, shelves, self.rate_hz, self.params)
            self._streams[block.plate_ids] = stream
        if not len(block):
            return []
        t, grams = block.t, block.grams
        held = self._held.pop(block.plate_ids, None)
        if held is not None:
            t, grams = np.concatenate([held[0], t]), np.concatenate([held[1], grams])
        n = len(t) - len(t) % self.step
        if n < len(t):
            self._held[block.plate_ids] = (t[n:], grams[n:])
        events = []
        for i in range(0, n, self.step):
            events += stream.update(t[i:i + self.step], grams[i:i + self.step])
        return events

    def unsettled(self) -> dict[str, float]:
        """The shelves whose reading is not done, each with the time that reading began:
        moving, settled less than ``watch_s`` ago (a light step may still show), or holding a
        plate step that waits for the shelf to settle. An event of theirs may still come."""
        out: dict[str, float] = {}
        for stream in self._streams.values():
            for sid, t in stream.unsettled():
                out[sid] = min(t, out.get(sid, t))
        return out

    def flush(self) -> list[WeightEvent]:
        """End of the stream: process the samples still waiting for a whole step."""
        events = []
        for ids, (t, grams) in self._held.items():
            events += self._streams[ids].update(t, grams)
        self._held = {}
        for stream in self._streams.values():
            events += stream.finish()
        return events

    def run(self, blocks: Iterable[SampleBlock]) -> list[WeightEvent]:
        """All events of a finite stream, in detection order."""
        out: list[WeightEvent] = []
        for block in blocks:
            out.extend(self.update(block))
        return out + self.flush()


class _Stream:
    """The detector state for one fixed set of plate columns."""

    def __init__(self, plate_ids: tuple[str, ...], shelves: dict[str, list[str]],
                 rate_hz: float, p: EventParams) -> None:
        col = self.col = {pid: i for i, pid in enumerate(plate_ids)}
        self.shelf_ids, self.cols = [], []
        for sid, pids in shelves.items():
            cols = [col[q] for q in pids if q in col]
            if cols:
                self.shelf_ids.append(sid)
                self.cols.append(np.asarray(cols))
        self.plate_ids = plate_ids
        S, P = len(self.shelf_ids), len(plate_ids)
        self.M = np.zeros((P, S))
        for s, cols in enumerate(self.cols):
            self.M[cols, s] = 1.0
        self.p = p
        self.W = max(4, int(round(p.window_s * rate_hz)))
        self.guard = min(self.W // 3, int(round(p.guard_s * rate_hz)))
        self.K = 2 * self.W + self.guard + 2  # tail rows kept between blocks
        self.alpha_per_sample = 1.0 / max(1.0, p.noise_tau_s * rate_hz)
        self.stuck = int(round(p.stuck_s * rate_hz))
        self.H = max(self.K, int(round(p.history_s * rate_hz)))
        self.ring = np.full((self.H, P), np.nan)
        self.ring_t = np.full(self.H, np.nan)
        self.n = 0  # samples seen
        self.tail_g = np.zeros((0, P))
        self.tail_t = np.zeros(0)
        self.tail_tot = np.zeros((0, S))
        self.tail_bad = np.zeros((0, S))
        self.tail_mean = np.zeros((0, S))
        self.tail_std = np.zeros((0, S))
        self.tail_state = np.zeros((0, S), np.int8)
        self.state = np.zeros(S, np.int8)
        self.quiet = np.zeros(S)  # std under which each shelf counts as settled, grams
        self.since_settled = np.zeros(S, np.int64)
        self.seen_w = np.zeros(S)  # samples behind each estimate
        self.seen_d = np.zeros(S)
        self.sig_w = np.full(S, np.nan)  # quiet window std, grams
        self.sig_d = np.full(S, np.nan)  # level noise: std of window means one window apart
        self.run_start = np.zeros(S, np.int64)  # first sample of the current settled run
        # the level a shelf left: (level, plate levels, t, the global rows of the last
        # and first samples it was read from)
        self.ref: list[tuple | None] = [None] * S
        # the level a shelf left before a movement whose settle was no level (NOT_STILL),
        # and when that settle came: the next movement, soon after, reads from it
        self.kept: list[tuple | None] = [None] * S
        # shelves that settled after moving: (level, plate levels, t, global row, last row
        # watched)
        self.watch: dict[int, tuple] = {}
        self.watch_n = int(round(p.watch_s * rate_hz))
        self.rate = float(rate_hz)
        # steps of single plates, for what the shelf's settle-to-settle reading misses
        self.shelf_of_col = np.full(P, -1)
        for s, cols in enumerate(self.cols):
            self.shelf_of_col[cols] = s
        self.plates = PlateStepFinder(P, rate_hz, p, self.shelf_of_col)
        self.pending: list[PlateStep] = []
        self.state_now = self.state
        self.recent: list[WeightEvent] = []  # the shelf events of the last history_s

    def update(self, t: np.ndarray, grams: np.ndarray) -> list[WeightEvent]:
        W, S = self.W, len(self.shelf_ids)
        J, L = len(t), len(self.tail_t)
        base = self.n - L  # global index of row 0 of the joined arrays
        bad_new = ~np.isfinite(grams)
        tot_new = np.where(bad_new, 0.0, grams) @ self.M
        X = np.concatenate([self.tail_g, grams])
        T = np.concatenate([self.tail_t, t])
        TOT = np.concatenate([self.tail_tot, tot_new])
        bad_tot = bad_new.astype(float) @ self.M if bad_new.any() else np.zeros((J, S))
        BAD = np.concatenate([self.tail_bad, bad_tot])
        # sliding windows ending at each new row, over the rows they need
        r0 = max(L - (W - 1), 0)
        tot, bad = TOT[r0:], BAD[r0:]
        off = tot[:1]
        cs = np.concatenate([np.zeros((1, S)), np.cumsum(tot - off, axis=0)])
        cs2 = np.concatenate([np.zeros((1, S)), np.cumsum((tot - off) ** 2, axis=0)])
        end = np.arange(L - r0, L - r0 + J) + 1
        start = np.maximum(end - W, 0)
        full = np.broadcast_to((end - start == W)[:, None], (J, S))
        if bad.any():
            cb = np.concatenate([np.zeros((1, S)), np.cumsum(bad, axis=0)])
            full = full & (cb[end] - cb[start] == 0)
        mean = (cs[end] - cs[start]) / W
        var = np.maximum((cs2[end] - cs2[start]) / W - mean**2, 0.0)
        std = np.where(full, np.sqrt(var), np.nan)
        mean = np.where(full, mean + off, np.nan)
        if np.isnan(self.sig_d).any():  # a fresh shelf: first estimates from this block
            half = np.full(S, 0.5)
            self.sig_w = np.where(np.isnan(self.sig_w), _col_quantile(std, full, half),
                                  self.sig_w)
            lag = np.abs(mean[W:] - mean[:-W]) if J > W else np.zeros((0, S))
            first_d = _col_quantile(lag, np.isfinite(lag), half) / 0.6745
            self.sig_d = np.where(np.isnan(self.sig_d), first_d, self.sig_d)
        thr = np.maximum(self.p.stable_floor_g, self.p.stable_k * self.sig_w)
        code = np.where(std > thr, MOVING, np.where(std <= self.p.release * thr, SETTLED, 0))
        idx = np.where(code > 0, np.arange(J)[:, None], -1)
        np.maximum.accumulate(idx, axis=0, out=idx)
        state = np.where(idx >= 0, np.take_along_axis(code, np.maximum(idx, 0), 0),
                         self.state[None, :]).astype(np.int8)
        prev = np.concatenate([self.state[None, :], state[:-1]])
        STD = np.concatenate([self.tail_std, std])
        quiet = self.quiet = self.p.release * thr
        events = []
        self._write_ring(t, grams)
        for j, s in zip(*np.nonzero(state != prev)):
            k = L + int(j)  # row in the joined arrays
            self.watch.pop(s, None)
            if state[j, s] == MOVING:
                self._leave(s, k, base, X, T, TOT, STD, quiet[s], prev[j, s] == SETTLED)
            elif state[j, s] == SETTLED:
                ref = self.ref[s]
                ev = self._settle(s, k, base, X, T, TOT, prev[j, s] == MOVING)
                self.kept[s] = (ref, float(T[k])) if ev is NOT_STILL else None
                if isinstance(ev, WeightEvent):
                    events.append(ev)
                self.run_start[s] = base + k
                if prev[j, s] == MOVING and ev is not NOT_STILL:
                    self._watch(s, k, base, X, T, TOT)
        for s in self._watch_due(base + L, mean, std, quiet):
            ev = self._watched(s, L, base, X, T, TOT, mean, std, quiet[s])
            if ev is not None:
                events.append(ev)
        self._learn_noise(std, mean, state)
        self.state_now = state[-1]
        for ev in events:  # plates whose change the shelf has read need no reading alone
            for pid, d in ev.plate_deltas_g.items():
                if abs(d) >= self.p.min_delta_g:
                    self.plates.cover(self.col[pid], ev.t_start - 2 * self.p.sub_s,
                                      ev.t_detected, d)
        events += self._plate_events(self.plates.update(t, grams), float(T[-1]), events)
        # keep the tail
        keep = slice(max(0, L + J - self.K), L + J)
        self.tail_g, self.tail_t = X[keep], T[keep]
        self.tail_tot, self.tail_bad = TOT[keep], BAD[keep]
        self.tail_mean = np.concatenate([self.tail_mean, mean])[keep]
        self.tail_std = STD[keep]
        self.tail_state = np.concatenate([self.tail_state, state])[keep]
        self.state = state[-1].copy()
        self.n += J
        return events

    def unsettled(self) -> list[tuple[str, float]]:
        """(shelf id, when its pending reading began): see
        :meth:`WeightEventDetector.unsettled`."""
        out = [(self.shelf_ids[s], ref[2]) for s, ref in enumerate(self.ref) if ref is not None]
        out += [(self.shelf_ids[s], w[2]) for s, w in self.watch.items()]
        out += [(self.shelf_ids[int(self.shelf_of_col[st.col])], st.t_before)
                for st in self.pending]
        return out

    def finish(self) -> list[WeightEvent]:
        """The end of the stream: plate steps with a shorter side after them, and those
        still waiting for their shelf to settle."""
        if not self.n:
            return []
        steps = self.plates.update(np.zeros(0), np.zeros((0, len(self.plate_ids))), True)
        return self._plate_events(steps, float(self.tail_t[-1]), [], final=True)

    def _plate_events(self, steps: list[PlateStep], now: float, shelf_events: list,
                      final: bool = False) -> list[WeightEvent]:
        """Weight events of plate steps that the shelf's own reading did not cover: none
        of its events since holds most of the step on that plate. A step waits while its
        shelf is still moving from a level it settled at before the step's side after
        ends, unless the stream ends: that reading will cover the step, or read what the
        other plates did in its sides (a neighbour's take), which must not count against
        the step's share of the shelf's moves (:meth:`_unread`). Steps of one shelf
        within a ``sub_s`` of each other are one event (an item across two plates). Steps
        that do not carry ``watch_share`` of their shelf's moves wait up to ``side_s`` for
        a step of another plate at that moment, which a press can hold back (a take from
        one plate and a return to the next, in one movement, are read together)."""
        self.recent = [e for e in self.recent + shelf_events
                       if e.t_detected >= now - self.p.history_s]
        self.pending += [st for st in steps if self.shelf_of_col[st.col] >= 0]
        ready, wait = [], []  # ready: (what is left of a step to read, the step)
        for st in self.pending:
            s = int(self.shelf_of_col[st.col])
            left = self._unread(st)
            if left is None:
                continue
            ref = self.ref[s]
            if (not final and self.state_now[s] == MOVING and ref is not None
                    and ref[2] <= st.t_after):
                wait.append(st)  # whole: what the shelf's reading to come holds is taken out then
            else:
                ready.append((left, st))
        out = []
        ready.sort(key=lambda r: (self.shelf_of_col[r[0].col], r[0].t_step))
        group: list[tuple[PlateStep, PlateStep]] = []
        for r in [*ready, None]:
            if group and (r is None or self.shelf_of_col[r[0].col] != self.shelf_of_col[
                    group[0][0].col] or r[0].t_step - group[0][0].t_step > self.p.sub_s):
                # as in the watch: with no movement of the shelf to back it, the stepped
                # plates must carry watch_share of all its plates' moves (a lean spreads)
                steps = [left for left, _ in group]
                cols = self.cols[int(self.shelf_of_col[steps[0].col])]
                on = np.isin(cols, [g.col for g in steps])
                if self._carried(self._lean(steps[0].moves[cols]), self.plates.noise(cols),
                                 on):
                    out.append(self._plate_event(steps, now))
                elif not final and now - max(g.t_after for g in steps) <= self.p.side_s:
                    # another plate moved as much at that moment: a take from one plate
                    # and a return to the next (one hand swapping items) is read as one,
                    # and a press on one plate can hold its step back a block or two
                    wait += [st for _, st in group]
                group = []
            if r is not None:
                group.append(r)
        self.pending = wait
        self.recent += out
        return out

    def _unread(self, st: PlateStep) -> PlateStep | None:
        """What of a plate step the shelf's own events have not read. The changes of that
        plate that they hold (each at its time) are read as the plate step reads its
        plate: the same medians either side, less presses (:func:`.plates._level_last`);
        the step less that reading is left. Two takes a second apart read one by one by
        the shelf are one step of two units to the plate; if the shelf read only one of
        them, the other is what is left. None when what is left is no step: within
        ``flat_share`` of the step (the shelf's and the plate's readings of one change
        differ by a lean's share) or below ``min_delta_g`` and ``delta_k`` times the
        plate's noise. The other plates' moves are left the same way: what the shelf's
        events read of them (another shopper's take from the next plate at that moment)
        is not counted against this plate's share of the shelf's moves."""
        p = self.p
        sid = self.shelf_ids[int(self.shelf_of_col[st.col])]
        reads = {c: self._read(sid, self.plate_ids[c], st)
                 for c in self.cols[int(self.shelf_of_col[st.col])]
                 if c == st.col or abs(st.moves[c]) >= p.min_delta_g}
        left = st.delta_g - reads[st.col]
        if not abs(left) >= max(p.min_delta_g, p.delta_k * st.noise_g,
                                p.flat_share * abs(st.delta_g)):
            return None
        if not any(reads.values()):
            return st
        moves = st.moves.copy()
        for c, read in reads.items():
            # another plate's move is explained by the shelf's reading of it up to the whole
            # move, never past it: the reading is modelled from the events' change times, a
            # ramp's width off, and must not turn a neighbour's take into a return
            moves[c] -= read if c == st.col else np.clip(read, min(moves[c], 0.0),
                                                          max(moves[c], 0.0))
        return replace(st, delta_g=left, moves=moves)

    def _read(self, sid: str, pid: str, st: PlateStep) -> float:
        """What the shelf ``sid``'s recent events read of plate ``pid`` over the medians
        of plate step ``st`` (see :meth:`_unread`)."""
        h = self.plates.side
        mid = st.t_before + self.p.sub_s * (np.arange(2 * h + 1) + 0.5)  # medians' middles
        model = np.zeros(len(mid))
        for e in self.recent:
            if e.shelf_id != sid or pid not in e.plate_deltas_g:
                continue
            steps = (e.plate_steps or {}).get(pid)
            if steps is None:
                t = (e.plate_t_change or {}).get(pid, e.t_change)
                t = 0.5 * (e.t_start + e.t_end) if t is None else t
                steps = ((t, e.plate_deltas_g[pid]),)
            level = 0.0
            for t, after in steps:
                model += (after - level) * (mid >= t)
                level = after
        if not model.any():
            return 0.0
        before, after = _level_last(np.stack([model[:h], model[h + 1:]]),
                                    self.p.flat_outliers)
        return float(after - before)

    def _plate_event(self, group: list[PlateStep], now: float) -> WeightEvent:
        """One shelf event of plate steps at about one time: the stepped plates carry
        their steps, the shelf's other plates none."""
        s = int(self.shelf_of_col[group[0].col])
        deltas = {self.plate_ids[c]: 0.0 for c in self.cols[s]}
        times = {}
        for st in group:
            pid = self.plate_ids[st.col]
            deltas[pid] = st.delta_g
            times[pid] = self._plate_time(st)
        big = max(group, key=lambda st: abs(st.delta_g))
        return WeightEvent(
            shelf_id=self.shelf_ids[s], t_start=min(st.t_before for st in group),
            t_end=max(st.t_after for st in group), delta_g=sum(deltas.values()),
            plate_deltas_g=deltas, noise_g=max(st.noise_g for st in group),
            t_change=times[self.plate_ids[big.col]], plate_t_change=times, t_detected=now)

    def _plate_time(self, st: PlateStep) -> float:
        """When a plate step happened: the change point (steps.change_points) of the
        samples around its median, from the history ring; else the median's middle."""
        sub = self.plates.sub
        g0, g1 = st.g0 - 2 * sub, st.g0 + sub  # the ramp ends in the median at g0
        if g0 < self._ring_end - self.H or g1 > self._ring_end:
            return st.t_step + sub / (2 * self.rate)
        idx = np.arange(g0, g1) % self.H
        x = self.ring[idx, st.col][:, None]
        level = float(np.nanmedian(x[:sub // 2 + 1]))
        x = np.where(np.isfinite(x), x, level) - level
        return change_points(x, self.ring_t[idx], np.array([st.delta_g]))[0]

    # -- transitions ---------------------------------------------------------------------
    def _leave(self, s: int, k: int, base: int, X, T, TOT, STD, quiet: float,
               was_settled: bool) -> None:
        """Shelf ``s`` starts moving at row ``k``: remember the level it left, from the
        last window that was still quiet (``std <= quiet``) and ends at least ``guard``
        samples before the movement showed. A settled run can have started on the tail of
        a small disturbance (a light press), so the window right before is not always
        clean."""
        self.ref[s], kept = None, self.kept[s]
        self.kept[s] = None
        if not was_settled:
            return
        if kept is not None and kept[0] is not None and T[k] - kept[1] <= self.p.watch_s:
            # the shelf settled while the stepped plate was not still (a ramp, a press)
            # and moves again within the watch: one movement, read from the level before
            # it (a second take 1.6 s after a first, the lift's ramp in the settle window
            # and a neighbour's press right after, was read from neither side)
            self.ref[s] = kept[0]
            return
        b = k - 1 - self.guard
        first = self.run_start[s] + self.guard - base  # windows after the run's own start
        calm = np.flatnonzero(STD[max(first, 0):max(b + 1, 0), s] <= quiet)
        if len(calm):
            b = int(calm[-1]) + max(first, 0)
        a = max(b - self.W + 1, first - self.W + 1, 0)
        if a > b:
            return
        level = float(_median0(TOT[a:b + 1, s]))
        plates = _median0(X[a:b + 1, self.cols[s]])
        if not np.isfinite(plates).all():
            return
        self.ref[s] = (level, plates, float(T[b]), base + b, base + a)

    def _earlier_level(self, s: int, ref: tuple, g_first: int, step: float) -> tuple | None:
        """The level shelf ``s`` left (as ``ref``, see :meth:`_leave`) read from the latest
        window of its settled run (after global sample ``g_first``, less a window: the
        settle window that began the run was quiet) ending before ``ref``'s, over which
        every plate of the shelf was still (as for a ``step``); None if none."""
        level, plates, _, g_b, _ = ref
        cols, W = self.cols[s], self.W
        g1 = g_b - 1
        while g1 - W + 1 >= max(g_first - W + 1, self._ring_end - self.H):
            g0 = g1 - W + 1
            if all(self._still(c, g0, g1, step) for c in cols):
                now = _median0(self.ring[np.arange(g0, g1 + 1)[:, None] % self.H, cols])
                if not np.isfinite(now).all():
                    return None
                return (level + float(np.sum(now - plates)), now,
                        float(self.ring_t[g1 % self.H]), g1, g0)
            g1 -= 1
        return None

    def _settle(self, s: int, k: int, base: int, X, T, TOT, was_moving: bool
                ) -> WeightEvent | str | None:
        """Shelf ``s`` has been still for a window ending at row ``k``: the step, if any."""
        ref = self.ref[s]
        self.ref[s] = None
        if not was_moving or ref is None:
            return None
        ref_level, ref_plates, t_start, g_start, g_from = ref
        a = max(k - self.W + 1 + self.guard, 0)
        if base + a <= g_start:  # after and before would overlap: a blip, not a step
            return None
        delta = float(_median0(TOT[a:k + 1, s])) - ref_level
        need = max(self.p.min_delta_g, self.p.delta_k * float(self.sig_d[s]))
        cols = self.cols[s]
        plate_d = _median0(X[a:k + 1, cols]) - ref_plates
        sway = self._sway(s, plate_d, g_from, k - a + 1)
        if sway is not None:  # the board's own sway between the two levels is no item's
            plate_d, delta = plate_d - sway[0], delta - float(sway[0].sum())
        steps = self._steps(cols, plate_d, ref_plates, g_start, base + k, need)
        if sway is not None:  # the shelf's level noise is mostly that sway: what is left
            need = min(need, max(self.p.min_delta_g, self.p.delta_k * sway[1]))
        # a step of the total, or of one plate (a take from one plate and a return to
        # another in one movement leave the total where it was), or an item that came
        # and went on one plate
        if not (abs(delta) >= need or np.abs(plate_d).max() >= need or steps):
            return None
        # judged on the plates as well: what a lean shares out over all plates is no
        # item's, and an item's step is carried by the plates it stood on
        plate_d = self._lean(plate_d)
        mag = np.abs(plate_d)
        big = int(np.argmax(mag) if np.isfinite(mag).all() else np.nanargmax(mag))
        sig = self.plates.noise(cols)
        if not (steps or self._carried(plate_d, sig)):
            return None
        # the step is read on the plates that carry it: its noise is theirs (a level
        # difference of each), unless the shelf's own is lower
        top = np.argsort(-_abs0(plate_d))[:3]
        top = top[np.abs(plate_d[top]) >= self.p.delta_k * sig[top]]
        noise = float(self.sig_d[s])
        if len(top):
            noise = min(noise, float(np.sqrt(2 * np.sum(sig[top] ** 2))))
        # (only where the shelf counts as settled at more than a plate needs to be still:
        # a shelf that wobbles more than its plates)
        if self.quiet[s] > self.p.stable_floor_g and not (
                self._still(cols[big], base + a, base + k, plate_d[big])
                and self._still(cols[big], g_from, g_start, plate_d[big])):
            # the shelf settled while the plate that carries the step was pressed (a
            # hand's press moves one plate by far more than a lean moves the shelf), or
            # it left a level read in the middle of a press: no level to read a step
            # from; a step of the plate itself is still found on its own (plates.py).
            # But the level left is most often read on a press just beginning, which a
            # window ending guard_s before the shelf showed moving can still hold (the
            # shelf's deviation lags a hand's touch): then it is read again from the
            # latest earlier window of the settled run where every plate was still
            earlier = None
            if self._still(cols[big], base + a, base + k, plate_d[big]):
                earlier = self._earlier_level(s, ref, self.run_start[s] + self.guard,
                                              plate_d[big])
            if earlier is None:
                return NOT_STILL
            self.ref[s] = earlier
            return self._settle(s, k, base, X, T, TOT, was_moving)
        pids = [self.plate_ids[c] for c in cols]
        t_end = float(T[max(k - self.W + 1, g_start - base + 1, 0)])
        times = self._change_times(cols, plate_d, ref_plates, g_start, base + k)
        plate_t = {pid: tc for pid, tc in zip(pids, times) if tc is not None}
        t_change = plate_t.get(pids[big], (t_start + t_end) / 2)
        return WeightEvent(
            shelf_id=self.shelf_ids[s], t_start=t_start, t_end=t_end, delta_g=delta,
            plate_deltas_g={pid: float(d) for pid, d in zip(pids, plate_d)},
            noise_g=noise,
            t_change=t_change, plate_t_change=plate_t, t_detected=float(T[k]),
            plate_steps={pids[j]: v for j, v in steps.items()} or None,
        )

    def _lean(self, plate_d: np.ndarray) -> np.ndarray:
        """The plates' changes less the share of a lean: a hand or arm leaning on a shelf
        bends its board and moves every plate alike, while an item stands on one to three
        of them. On a shelf of four plates or more, the median change of the plates other
        than the three that moved most is that share (0 on a still shelf)."""
        if len(plate_d) < 4:
            return plate_d
        rest = np.argsort(-np.nan_to_num(np.abs(plate_d), nan=np.inf))[3:]
        with np.errstate(all="ignore"):
            share = np.nanmedian(plate_d[rest]) if np.isfinite(plate_d[rest]).any() else 0.0
        return plate_d - share

    def _sway(self, s: int, plate_d: np.ndarray, g0: int, n: int
              ) -> tuple[np.ndarray, float] | None:
        """What the sway of shelf ``s``'s board put into its plates' changes ``plate_d``
        (levels that are medians of ``n`` samples, the one before from global sample
        ``g0`` on), and the noise of the change of the plate that moved most less that
        sway; None when the changes show none.

        A board that sways (people walking by, a knock) moves its plates in one fixed
        pattern, set by where its load cells sit: the board's shape of sway. It is learnt
        from the plates' history before the event: the first principal direction of their
        changes over one window, less each plate's white noise. It is there only when it
        stands out: more than all the plates' white noise, and ``sway_one`` times the next
        direction. The change of the plate that moved most is taken as the step; the others
        must then move along the shape (within ``delta_k`` times their level noise and
        ``sway_fit`` of their sway share), one of them by ``flat_g`` at least, two of them
        and every one the fit moves beyond their level noise by more than that noise, the
        fit's way; the amplitude fitted on them is the sway.
        A sway read at a crest before and at a trough after moves each plate by its share,
        which on a light item's plate can be as much as the item, and on the next plate
        passes for another one."""
        cols, p, W = self.cols[s], self.p, self.W
        mag = np.abs(plate_d)
        if len(cols) < 3 or np.count_nonzero(mag >= p.flat_g) < 2:
            # a sway that moved every other plate by less than half the smallest step
            # cannot pass for an item there, and its share of the stepped plate is within
            # the shelf's level noise, which the step must beat anyway
            return None
        if not np.isfinite(plate_d).all():
            return None
        rest = np.argsort(-mag)[1:]
        x = plate_d[rest]
        g_lo = max(self._ring_end - self.H, g0 - self.H)
        if g0 - g_lo < 4 * W:  # too short a history to see a shape in
            return None
        y = self.ring[np.arange(g_lo, g0)[:, None] % self.H, cols]
        y = y[np.isfinite(y).all(axis=1)]
        if len(y) < 4 * W:
            return None
        # each plate's white noise, from its sample-to-sample changes (a sway is slow)
        white = np.maximum(_median0(np.abs(np.diff(y, axis=0))) / (0.6745 * np.sqrt(2)),
                           p.resolution_g)
        lev = 1.2533 * white[rest] * np.sqrt(2 / n)  # noise of a median level's change
        d = y[W:] - y[:-W]  # changes over a window, as two levels a window apart
        dev = np.abs(d - np.median(d, axis=0))
        scale = np.maximum(np.median(dev, axis=0) / 0.6745, p.resolution_g)
        d = d[(dev <= 5 * scale).all(axis=1)]  # the history's own steps and presses out
        if len(d) < 2 * W:
            return None
        lam, vec = np.linalg.eigh(d.T @ d / len(d) - np.diag(2 * white**2))
        if lam[-1] <= 2 * float(np.sum(white**2)) or lam[-1] < p.sway_one * abs(lam[-2]):
            return None
        v = vec[rest, -1]
        amp = 0.0
        for _ in range(2):  # weights follow the fitted amplitude's share error
            tol = p.delta_k * np.sqrt(lev**2 + (p.sway_fit * amp * v) ** 2)
            w = v / tol**2
            amp = float(np.sum(w * x) / max(float(np.sum(w * v)), 1e-12))
        tol = p.delta_k * np.sqrt(lev**2 + (p.sway_fit * amp * v) ** 2)
        if (np.abs(x - amp * v) > tol).any() or abs(amp) > 2 * p.delta_k * np.sqrt(lam[-1]):
            # not one sway: another plate changed too, or more than this board sways
            # (twice what a level step must beat over its own spread)
            return None
        # and seen: a sway moves every plate of the board by its share, so each plate it
        # should have moved beyond its level noise did, its way, and two plates at least
        # (one plate's move alone is as well its own step)
        seen = np.abs(x) > p.delta_k * lev
        due = np.abs(amp * v) > p.delta_k * lev
        if seen.sum() < 2 or (due & ~(seen & (np.sign(x) == np.sign(amp * v)))).any():
            return None
        top = int(np.argmax(np.abs(plate_d)))
        left = np.hypot(1.2533 * white[top] * np.sqrt(2 / n), p.sway_fit * amp * vec[top, -1])
        return amp * vec[:, -1], float(left)

    def _carried(self, plate_d: np.ndarray, sig: np.ndarray, on: np.ndarray | None = None
                 ) -> bool:
        """An item's step: the plates ``on`` (a mask), else the one to three plates that
        moved most, carry at least ``min_delta_g`` between them and ``watch_share`` of
        all the plates' moves (changes beyond ``delta_k`` times a plate's noise ``sig``)."""
        moves = _abs0(plate_d)
        moves = np.where(moves >= self.p.delta_k * sig, moves, 0.0)
        top = float(moves[on].sum() if on is not None else np.sort(moves)[-3:].sum())
        return top >= self.p.min_delta_g and top >= self.p.watch_share * float(moves.sum())

    def _still(self, col: int, g0: int, g1: int, step: float = 0.0) -> bool:
        """Plate ``col`` was still over global samples ``[g0, g1]`` (:meth:`_held`), as
        read or less the sway its board shares with every plate; ``step`` is the step read
        on the plate there, if any. True when they are out of history."""
        if g0 < self._ring_end - self.H or g1 - g0 < 3:
            return True
        rows = np.arange(g0, g1 + 1) % self.H
        if self._held(self.ring[rows, col], step):
            return True
        s = int(self.shelf_of_col[col])
        if s < 0 or len(self.cols[s]) < 3:
            return False
        # less the board's own sway: a shelf board that shakes (a neighbour's touch, a
        # knock) moves all its plates the same way, a hand's press moves one
        # (:func:`_shared`; on fewer than three plates, noise shares a sign too often)
        y = self.ring[rows[:, None], self.cols[s]]
        y = y[np.isfinite(y).all(axis=1)]
        if len(y) < 4:
            return False
        sway = _shared(y - np.median(y, axis=0))
        return self._held(y[:, int(np.flatnonzero(self.cols[s] == col)[0])] - sway, step)

    def _held(self, x: np.ndarray, step: float) -> bool:
        """Samples ``x`` of a plate held still: their spread is within what makes a shelf
        count as settled (``stable_k`` times the plate's own sample noise, read from its
        sample-to-sample changes, which a press's smooth rise barely moves; at least
        ``stable_floor_g``), and they held a level (below). True for under four samples."""
        x = x[np.isfinite(x)]
        if len(x) < 4:
            return True
        noise = float(np.median(np.abs(np.diff(x)))) / (0.6745 * np.sqrt(2))
        if float(x.std()) > max(self.p.stable_floor_g, self.p.stable_k * noise):
            return False
        # and level: a slow lift (an item eased off after the press) ramps a light item's
        # step over a few tenths of a second, within a spread that a noisy plate allows.
        # The window's halves must agree as a plate step's side must (plates.py): within
        # flat_g (half the smallest step), delta_k times the noise of their medians'
        # difference, or flat_share of the step read (nearer its own level than the other);
        # 1.2533 = sqrt(pi / 2), a median's noise over a mean's for normal noise
        h = len(x) // 2
        gap = abs(float(np.median(x[:h])) - float(np.median(x[len(x) - h:])))
        return gap <= max(self.p.flat_g, self.p.delta_k * 1.2533 * noise * np.sqrt(2 / h),
                          self.p.flat_share * abs(step))

    def _watch(self, s: int, k: int, base: int, X, T, TOT) -> None:
        """Shelf ``s`` settled at row ``k`` after moving: keep its new level to watch
        (``watch_s``)."""
        a = max(k - self.W + 1 + self.guard, 0)
        plates = _median0(X[a:k + 1, self.cols[s]])
        if self.watch_n and np.isfinite(plates).all():
            self.watch[s] = (float(_median0(TOT[a:k + 1, s])), plates, float(T[k]), base + k,
                             base + k + self.watch_n)

    def _watch_due(self, first: int, mean, std, quiet) -> list[int]:
        """The watched shelves that :meth:`_watched` has something to do for in the
        windows ``mean``, ``std`` (the first ending at global row ``first``): a quiet
        window in their watch whose level is an event's away from the settled one, or a
        watch that ends. All of them at once (a store has dozens watched at a time)."""
        if not self.watch:
            return []
        ws = np.fromiter(self.watch, np.int64, len(self.watch))
        level, g0, g_end = (np.array([self.watch[s][i] for s in ws]) for i in (0, 3, 4))
        need = np.fmax(self.p.min_delta_g, self.p.delta_k * self.sig_d[ws])  # as max()
        rows = first + np.arange(len(mean))[:, None]
        hit = ((rows >= g0 + self.W) & (rows <= g_end) & (std[:, ws] <= quiet[ws])
               & (np.abs(mean[:, ws] - level) >= need)).any(axis=0)
        return [int(s) for s in ws[hit | (first + len(mean) - 1 >= g_end)]]

    def _watched(self, s: int, L: int, base: int, X, T, TOT, mean, std, quiet: float
                 ) -> WeightEvent | None:
        """A step while shelf ``s`` stays settled shortly after settling: the first window
        of this block, entirely after the settled one and quiet, whose level differs from
        the settled level by what an event needs. It is measured as an event from the
        settled level on."""
        level, plates, t0, g0, g_end = self.watch[s]
        first = base + L  # global row of this block's first window
        lo, hi = max(g0 + self.W - first, 0), min(g_end - first + 1, len(mean))
        if hi <= 0 or first + len(mean) - 1 >= g_end:
            del self.watch[s]
        if lo >= hi:
            return None
        need = max(self.p.min_delta_g, self.p.delta_k * float(self.sig_d[s]))
        hit = np.flatnonzero((std[lo:hi, s] <= quiet)
                             & (np.abs(mean[lo:hi, s] - level) >= need))
        if not len(hit):
            return None
        self.ref[s] = (level, plates, t0, g0, g0 - self.W + 1 + self.guard)
        ev = self._settle(s, L + lo + int(hit[0]), base, X, T, TOT, True)
        if not isinstance(ev, WeightEvent):
            return None
        moves = np.abs(list(ev.plate_deltas_g.values()))
        if moves.max() < need or moves.max() < self.p.watch_share * moves.sum():
            return None  # not one plate's step: keep watching
        self.watch.pop(s, None)
        return ev

    def _change_times(self, cols, plate_d, ref_plates, g0: int, g1: int) -> list:
        """Per plate, when its step happened between global samples ``g0`` and ``g1``
        (from the history ring; :func:`walkout.sensors.steps.change_points`)."""
        if g0 < self._ring_end - self.H or g1 - g0 < 2:
            return [None] * len(cols)
        idx = np.arange(g0, g1 + 1) % self.H
        return change_points(self.ring[idx[:, None], cols] - ref_plates, self.ring_t[idx],
                             plate_d)

    def _steps(self, cols, plate_d, ref_plates, g0: int, g1: int, need: float) -> dict:
        """Plates (by position in ``cols``) whose change between global samples ``g0`` and
        ``g1`` came in several clear steps (:func:`walkout.sensors.steps.fit_steps`, on
        the history ring: at most 160 samples, a long movement on every k-th one)."""
        p = self.p
        if g0 < self._ring_end - self.H or g1 - g0 < (2 * p.two_step_s + p.window_s) * self.rate:
            return {}  # too short for two steps with a still level between
        stride = -(-(g1 + 1 - g0) // 160)  # a long movement is fitted on every k-th sample
        idx = np.arange(g0, g1 + 1, stride) % self.H
        ts = self.ring_t[idx]
        x = self.ring[idx[:, None], cols] - ref_plates
        return fit_steps(x, ts, plate_d, self.rate / stride, need, p)

    def _write_ring(self, t: np.ndarray, grams: np.ndarray) -> None:
        J = len(t)
        if J >= self.H:
            t, grams = t[-self.H:], grams[-self.H:]
            first = self.n + J - self.H
        else:
            first = self.n
        idx = np.arange(first, first + len(t)) % self.H
        self.ring[idx] = grams
        self.ring_t[idx] = t
        self._ring_end = self.n + J

    def _learn_noise(self, std: np.ndarray, mean: np.ndarray, state: np.ndarray) -> None:
        """Running estimates of each shelf's noise, from its settled windows: the window
        std (it sets the movement threshold) and the change of the window mean over one
        window within a settled run (it sets the smallest step). A shelf that has not
        settled for ``stuck_s`` (it got noisier than its estimate) learns from a low
        quantile of all its windows instead, so the estimate follows it up."""
        J, W = len(mean), self.W
        quiet = (state == SETTLED) & np.isfinite(std)
        any_quiet = quiet.any(0)
        last = J - 1 - np.argmax(quiet[::-1], axis=0)
        self.since_settled = np.where(any_quiet, J - 1 - last, self.since_settled + J)
        stuck = self.since_settled > self.stuck
        use = quiet | (stuck[None, :] & np.isfinite(std))
        n = use.sum(0)
        if n.any():
            q = _col_quantile(std, use, np.where(stuck, 0.25, 0.5))
            self.sig_w = _blend(self.sig_w, q, n, self.alpha_per_sample, self.seen_w)
            self.seen_w += n
        allm = np.concatenate([self.tail_mean, mean])
        alls = np.concatenate([self.tail_state, state])
        lo = np.arange(len(allm) - J, len(allm)) - W
        if lo[-1] < 0:
            return
        runs = np.cumsum(np.concatenate([np.zeros((1, alls.shape[1]), np.int64),
                                         (alls[1:] != alls[:-1]).astype(np.int64)]), axis=0)
        cur, has = np.arange(len(allm) - J, len(allm))[lo >= 0], lo[lo >= 0]
        d = np.abs(allm[cur] - allm[has])
        ok = np.isfinite(d) & (((alls[cur] == SETTLED) & (alls[has] == SETTLED)
                                & (runs[cur] == runs[has])) | stuck[None, :])
        n = ok.sum(0)
        if n.any():
            q = np.where(stuck, 0.25, 0.5)
            spread = _col_quantile(d, ok, q) / np.where(stuck, 0.3186, 0.6745)  # |N(0,1)|
            self.sig_d = _blend(self.sig_d, spread, n, self.alpha_per_sample, self.seen_d)
            self.seen_d += n


def _shared(dev: np.ndarray) -> np.ndarray:
    """Per row, the move that every column shares: where all deviations have one sign, the
    smallest of them; else 0. A board's sway moves every plate the same way; independent
    noise rarely does, and a press on one plate is not shared at all."""
    lo, hi = dev.min(axis=1), dev.max(axis=1)
    return np.where(lo > 0, lo, np.where(hi < 0, hi, 0.0))


def _abs0(x: np.ndarray) -> np.ndarray:
    """``np.nan_to_num(np.abs(x))`` (a plate that sent nothing moved by 0), without its
    overhead where every value is finite."""
    mag = np.abs(x)
    return mag if np.isfinite(mag).all() else np.nan_to_num(mag)


def _median0(a: np.ndarray) -> np.ndarray:
    """Median along axis 0 (np.median's overhead dominates on these short windows, and
    np.sort's wrapper costs as much as sorting them)."""
    srt = a.copy()
    srt.sort(axis=0)
    n = len(srt)
    return (srt[(n - 1) // 2] + srt[n // 2]) / 2


def _col_quantile(a: np.ndarray, ok: np.ndarray, q: np.ndarray) -> np.ndarray:
    """The ``q[j]`` quantile (lower nearest rank) of each column over its ``ok`` rows; NaN
    where a column has none. One sort for all columns (NaN sorts last)."""
    n = ok.sum(0)
    srt = np.sort(np.where(ok, a, np.nan), axis=0)
    idx = np.minimum(np.maximum((q * (n - 1)).astype(np.int64), 0), max(len(a) - 1, 0))
    out = srt[idx, np.arange(a.shape[1])] if len(a) else np.full(a.shape[1], np.nan)
    return np.where(n > 0, out, np.nan)


def _blend(old: np.ndarray, new: np.ndarray, n: np.ndarray, alpha: float, seen: np.ndarray
           ) -> np.ndarray:
    """Exponential average of a spread, ``n`` samples' worth of ``new`` into ``old``
    (which has ``seen`` samples behind it). Until the average is full it is a plain mean,
    so one unlucky first block is soon outvoted; a shelf with no estimate yet takes
    ``new`` as it is."""
    a = np.maximum(1 - (1 - alpha) ** n, n / np.maximum(seen + n, 1))
    mixed = np.sqrt((1 - a) * old**2 + a * new**2)
    out = np.where(np.isnan(old), new, mixed)
    return np.where(n > 0, out, old)
