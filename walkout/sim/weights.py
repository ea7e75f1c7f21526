"""Simulated load-cell streams: what each plate reads at 60 Hz.

reading(t) = units on the plate + hand force + tare + drift + vibration + white noise

- **Units**: the sum of the real weights of the units on the plate. A take or a put-back
  changes it by the moved units' own weights over a 0.15-0.3 s ramp (a lift is not
  instantaneous).
- **Hand force**: a half-sine press of 40-300 g while the hand grasps or places an item,
  with a little leaking onto the neighbouring plates of the shelf.
- **Vibration**: per shelf, a slow AR(1) wobble (people walking, fridges), decaying
  oscillations (3-8 Hz) whenever a hand touches or leaves the gondola, and random bumps
  of someone leaning on it. It is spread over the plates of the shelf.
- **Drift**: a slow linear creep per plate (about 0.1-0.6 g in 17 s, as on AiFi's
  quiet gondolas) plus a tare offset.
- **White noise**: 0.5-2 g per plate, sample to sample.

The levels were calibrated against the real quiet shelves of AiFi BENCHMARK-1
(``benchmarks/sim_noise.py`` prints the comparison; ``tests/test_sim_noise.py`` checks it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import lfilter

RATE_HZ = 60.0


@dataclass(frozen=True)
class NoiseModel:
    """Noise parameters (grams, seconds). Defaults were fitted to AiFi's quiet shelves."""

    white_g: tuple[float, float] = (0.45, 2.6)  # a shelf's sample-to-sample sigma (log-uniform)
    plate_spread: tuple[float, float] = (0.7, 1.4)  # per-plate factor on the shelf's sigma
    wobble_g: tuple[float, float] = (0.3, 5.0)  # shelf-total sigma of the AR(1) wobble (log-u.)
    wobble_tau_s: float = 0.25  # correlation time of the wobble
    bump_rate_hz: float = 1 / 8.0  # someone leans on / knocks a gondola, per shelf
    bump_g: tuple[float, float] = (15.0, 90.0)  # shelf-total amplitude of a bump
    touch_g: tuple[float, float] = (5.0, 25.0)  # shelf-total ringing when a hand touches
    ring_hz: tuple[float, float] = (3.0, 8.0)
    ring_decay_s: tuple[float, float] = (0.25, 0.7)
    drift_g_per_s: float = 0.02  # sigma of the per-plate linear drift rate
    tare_g: float = 2.0  # sigma of the per-plate zero offset
    press_leak: tuple[float, float] = (0.0, 0.1)  # share of a press felt by neighbours


def _log_uniform(rng: np.random.Generator, lo_hi: tuple[float, float], n: int) -> np.ndarray:
    return np.exp(rng.uniform(np.log(lo_hi[0]), np.log(lo_hi[1]), n))


def _ring(t: np.ndarray, t0: float, amp: float, freq: float, decay: float) -> np.ndarray:
    """A decaying oscillation starting at ``t0`` (zero mean, so it never looks like a step)."""
    tau = t - t0
    out = np.zeros_like(t)
    m = (tau >= 0) & (tau < 6 * decay)
    out[m] = amp * np.sin(2 * np.pi * freq * tau[m]) * np.exp(-tau[m] / decay)
    return out


def shelf_noise(rng: np.random.Generator, t: np.ndarray, n_plates: int,
                model: NoiseModel = NoiseModel(),
                touches: list[float] = ()) -> np.ndarray:
    """``(T, n_plates)`` grams of noise for one quiet shelf (no loads, no presses).

    ``touches`` are times at which a hand touches or leaves this shelf's gondola.
    """
    T = len(t)
    dt = float(t[1] - t[0]) if T > 1 else 1 / RATE_HZ
    sig = _log_uniform(rng, model.white_g, 1) * _log_uniform(rng, model.plate_spread, n_plates)
    white = rng.normal(0.0, 1.0, (T, n_plates)) * sig
    # one shelf-wide wobble, spread over the plates by random shares
    a = np.exp(-dt / model.wobble_tau_s)
    wob_sd = float(_log_uniform(rng, model.wobble_g, 1)[0])
    e = rng.normal(0.0, wob_sd * np.sqrt(1 - a * a), T)
    wobble = lfilter([1.0], [1.0, -a], e)
    shake = wobble.copy()
    n_bumps = rng.poisson(model.bump_rate_hz * T * dt)
    for _ in range(n_bumps):
        shake += _ring(t, rng.uniform(t[0], t[-1]), rng.uniform(*model.bump_g),
                       rng.uniform(*model.ring_hz), rng.uniform(*model.ring_decay_s))
    shares = rng.dirichlet(np.full(n_plates, 2.0))
    drift = rng.normal(0.0, model.drift_g_per_s, n_plates) * (t - t[0])[:, None]
    tare = rng.normal(0.0, model.tare_g, n_plates)
    for t0 in touches:  # drawn last: the same seed gives the same shelf with or without them
        shake += _ring(t, t0, rng.uniform(*model.touch_g), rng.uniform(*model.ring_hz),
                       rng.uniform(*model.ring_decay_s))
    return white + shake[:, None] * shares[None, :] + drift + tare


def _smooth_step(t: np.ndarray, t0: float, ramp: float) -> np.ndarray:
    x = np.clip((t - t0) / ramp + 0.5, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def _press(t: np.ndarray, t0: float, dur: float, peak: float) -> np.ndarray:
    tau = (t - t0) / dur
    out = np.zeros_like(t)
    m = (tau >= 0) & (tau <= 1)
    out[m] = peak * np.sin(np.pi * tau[m])
    return out


def synthesize(scenario, rng: np.random.Generator, plate_ids: list[str],
               model: NoiseModel = NoiseModel()) -> tuple[np.ndarray, np.ndarray]:
    """``(t (T,), grams (T, P))`` for every plate of the scenario's store, sensor clock."""
    from .layout import plate_spots

    spots = {sp.plate_id: sp for sp in plate_spots()}
    n = int(round(scenario.duration * RATE_HZ))
    t = np.arange(n) / RATE_HZ
    grams = np.zeros((n, len(plate_ids)))
    col = {pid: i for i, pid in enumerate(plate_ids)}
    for pid in plate_ids:
        grams[:, col[pid]] = sum(w for _, w in scenario.units[pid])
    reaches = [r for _, r in scenario.reaches]
    # loads: every executed take or put-back moves its units' real weight
    for r in reaches:
        if r.qty != 0:
            delta = sum(r.unit_weights) * (-1 if r.qty > 0 else 1)
            ramp = rng.uniform(0.15, 0.3)
            grams[:, col[r.spot.plate_id]] += delta * _smooth_step(t, r.t_change, ramp)
    # hand presses: on the plate, and a little on its shelf neighbours
    for r in reaches:
        t0 = r.t_in if r.qty >= 0 else r.t_change + 0.05
        grams[:, col[r.spot.plate_id]] += _press(t, t0, r.press_s, r.press_g)
        for pid, sp in spots.items():
            if sp.shelf_id == r.spot.shelf_id and abs(sp.k - r.spot.k) == 1:
                leak = rng.uniform(*model.press_leak)
                grams[:, col[pid]] += _press(t, t0, r.press_s, r.press_g * leak)
    # vibration and noise per shelf; touches ring every shelf of the touched gondola
    shelves: dict[str, list[str]] = {}
    for pid in plate_ids:
        shelves.setdefault(spots[pid].shelf_id, []).append(pid)
    for pids in shelves.values():
        gondola = spots[pids[0]].gondola.id
        touches = [x for r in reaches if r.spot.gondola.id == gondola for x in (r.t_in, r.t_out)]
        noise = shelf_noise(rng, t, len(pids), model, touches)
        for j, pid in enumerate(pids):
            grams[:, col[pid]] += noise[:, j]
    return t, grams


# ---- calibration statistics ----------------------------------------------------------------
def quiet_stats(shelves: list[np.ndarray], rate_hz: float = RATE_HZ) -> dict[str, float]:
    """Noise statistics of quiet shelves, each ``(T, plates)`` grams.

    - ``plate_sigma_*``: per-plate sample-to-sample sigma, ``std(diff) / sqrt(2)``; dead
      plates (constant readings) are left out;
    - ``shelf_std1s_*``: standard deviation of the shelf total within 1 s windows.
    Percentiles 10, 50 and 90 of each.
    """
    sig, win = [], []
    n = int(round(rate_hz))
    for a in shelves:
        d = np.diff(a, axis=0).std(axis=0) / np.sqrt(2)
        sig.extend(float(x) for x in d if x > 1e-6)
        total = a.sum(axis=1)
        k = len(total) // n
        win.extend(total[: k * n].reshape(k, n).std(axis=1).tolist())
    out = {}
    for name, vals in (("plate_sigma", sig), ("shelf_std1s", win)):
        p10, p50, p90 = np.percentile(vals, [10, 50, 90])
        out.update({f"{name}_p10": p10, f"{name}_p50": p50, f"{name}_p90": p90})
    return {k: round(float(v), 3) for k, v in out.items()}


def simulated_quiet_shelves(seed: int, n_shelves: int, n_plates: int, seconds: float,
                            model: NoiseModel = NoiseModel()) -> list[np.ndarray]:
    """Quiet shelves from the same noise model the clips use, shaped like a real capture."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE_HZ)) / RATE_HZ
    return [shelf_noise(rng, t, n_plates, model) for _ in range(n_shelves)]
