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


# ---- a shelf handled from the first sample (AiFi-shaped records) ---------------------------
@dataclass(frozen=True)
class HandledRecord:
    """A short AiFi-shaped recording of one gondola in which one shelf is being handled
    from the first sample on: ``grams (T, shelves, plates)`` at ``RATE_HZ`` (NaN where a
    plate sent nothing), the product on each plate (``plate_sku[s][p]``, None for an empty
    plate), and the labelled item events (``t``, ``shelf``, ``plate``, ``sku``, ``qty``),
    with AiFi's ids (``g<gondola>s<shelf>p<plate>``, 1-based)."""

    gondola: int
    t: np.ndarray
    grams: np.ndarray
    plate_sku: list[list[str | None]]
    events: list[dict]


def handled_record(seed: int, model: NoiseModel = NoiseModel()) -> HandledRecord:
    """One record of the *handled from the start* family (seeded):

    - 10-18 s long, one gondola of 4-6 shelves of 6-12 plates; each product spans 1-3
      neighbouring plates (as on AiFi, where most span two);
    - every plate sits at an arbitrary offset (a raw load cell's zero is not 0 g: AiFi's
      read from -5 kg to +6 kg, some stuck at one value), reads in steps of its ADC's
      resolution (0.1-0.5 g; AiFi's is 0.36 g) and has NaN gaps of 1-30 samples;
    - one shelf is handled from sample 0 on: a slow push of the hand and arm whose
      shelf total swings by 60-100 g (a random walk of 0.3-1 s memory; the arm bends the
      shelf's board, so it is shared out over all its plates, each alone moving a few
      grams, as on AiFi), and presses of 40-300 g for
      0.15-0.4 s on the plates the hand rummages through; the handling goes on to the end
      or stops at a random time after the last item;
    - on it, 1-2 items (units of the plate's product, mostly one, now and then two at
      once, and one event in six a put-back) change a plate at least 1.2 s after the
      start and at least 3 s before the end, 2.5 s or more apart, each with a grasp
      press; the other shelves are quiet (the calibrated noise model).
    """
    from .catalogue import PRODUCTS

    rng = np.random.default_rng([seed, 27])
    dur = rng.uniform(10.0, 18.0)
    n = int(round(dur * RATE_HZ))
    t = 1.6e9 + np.arange(n) / RATE_HZ  # epoch seconds, as AiFi sends them
    tt = t - t[0]
    n_shelves, n_plates = int(rng.integers(4, 7)), int(rng.integers(6, 13))
    gondola = int(rng.integers(1, 6))
    grams = np.zeros((n, n_shelves, n_plates))
    plate_sku: list[list[str | None]] = []
    for s in range(n_shelves):
        row: list[str | None] = []
        while len(row) < n_plates:
            prod = PRODUCTS[rng.integers(len(PRODUCTS))]
            row += [prod.sku] * int(rng.integers(1, 4))
        row = row[:n_plates]
        if rng.random() < 0.3:  # now and then an empty plate at the end of a shelf
            row[-1] = None
        plate_sku.append(row)
        grams[:, s, :] = shelf_noise(rng, tt, n_plates, model)
    by_sku = {p.sku: p for p in PRODUCTS}
    hs = int(rng.integers(n_shelves))
    # the handling: a random walk of the shelf total, and presses while rummaging
    stop = dur if rng.random() < 0.5 else None
    swing = rng.uniform(60.0, 100.0)  # peak to peak of the shelf total while touched
    a = np.exp(-1 / (RATE_HZ * rng.uniform(0.3, 1.0)))
    walk = lfilter([1.0], [1.0, -a], rng.normal(0.0, 1.0, n))
    walk = (walk - walk.mean()) / max(np.ptp(walk), 1e-9) * swing
    shares = rng.dirichlet(np.full(n_plates, 20.0))  # nearly even: the board bends
    # the items: times, plates, units
    k = 1 if rng.random() < 0.6 else 2
    times: list[float] = []
    while len(times) < k:
        t0 = rng.uniform(1.2, dur - 3.0)
        if all(abs(t0 - x) >= 2.5 for x in times):
            times.append(t0)
    events = []
    for t0 in sorted(times):
        stocked = [p for p in range(n_plates) if plate_sku[hs][p] is not None]
        p = int(rng.choice(stocked))
        prod = by_sku[plate_sku[hs][p]]
        qty = (1 if rng.random() < 0.85 else 2) * (-1 if rng.random() < 1 / 6 else 1)
        moved = sum(prod.weight_g + rng.normal(0.0, prod.weight_sd_g) for _ in range(abs(qty)))
        grams[:, hs, p] += -np.sign(qty) * moved * _smooth_step(tt, t0, rng.uniform(0.15, 0.3))
        grams[:, hs, p] += _press(tt, t0 - 0.35 if qty > 0 else t0 + 0.05,
                                  rng.uniform(0.2, 0.4), rng.uniform(40.0, 300.0))
        events.append({"t": round(float(t[0] + t0), 3), "shelf": f"g{gondola}s{hs + 1}",
                       "plate": f"g{gondola}s{hs + 1}p{p + 1}", "sku": prod.sku, "qty": qty})
    if stop is None:
        stop = rng.uniform(max(times) + 0.8, dur)
    touched = tt < stop
    grams[:, hs, :] += (walk * touched)[:, None] * shares[None, :]
    for t0 in np.cumsum(rng.exponential(1.0, 40)):  # about one press a second
        if t0 < stop - 0.4 and all(abs(t0 - x) > 0.8 for x in times):
            grams[:, hs, int(rng.integers(n_plates))] += _press(
                tt, t0, rng.uniform(0.15, 0.4), rng.uniform(40.0, 300.0))
    # stock, offsets, the ADC's resolution, dead plates, gaps
    stock = np.array([[0.0 if sku is None else by_sku[sku].weight_g * rng.integers(2, 8)
                       for sku in row] for row in plate_sku])
    grams += stock[None] + rng.uniform(-6000.0, 3000.0, (n_shelves, n_plates))[None]
    res = rng.uniform(0.1, 0.5)
    grams = np.round(grams / res) * res
    for _ in range(int(rng.integers(0, 6))):
        s, p = int(rng.integers(n_shelves)), int(rng.integers(n_plates))
        if plate_sku[s][p] is None:
            grams[:, s, p] = rng.uniform(-6000.0, 7000.0)  # a dead plate: one value
    for _ in range(int(rng.integers(1, 8))):
        i = int(rng.integers(n))
        grams[i:i + int(rng.integers(1, 31)), int(rng.integers(n_shelves)),
              int(rng.integers(n_plates))] = np.nan
    return HandledRecord(gondola, t, grams, plate_sku, events)


def aifi_plate_data(rec: HandledRecord, batch: int = 12) -> list[str]:
    """The record as AiFi ``plate_data`` JSON lines: batches of ``batch`` samples, float32
    in base64, shape ``[n, shelves + 1, plates + 1]`` with row and column 0 NaN padding,
    the document's ``timestamp`` the time of its last sample."""
    import base64
    import json

    n, S, P = rec.grams.shape
    out = []
    for i in range(0, n, batch):
        part = rec.grams[i:i + batch]
        arr = np.full((len(part), S + 1, P + 1), np.nan, "<f4")
        arr[:, 1:, 1:] = part
        doc = {"timestamp": float(rec.t[i + len(part) - 1]), "document": {"plate_data": {
            "plate_id": {"shelf_id": {"gondola_id": {"id": rec.gondola}}}, "freq_samp": RATE_HZ,
            "values": {"data": base64.b64encode(arr.tobytes()).decode(),
                       "shape": list(arr.shape)}}}}
        out.append(json.dumps(doc))
    return out


def aifi_store(rec: HandledRecord) -> tuple[list[str], list[str]]:
    """AiFi ``products.jsonl`` and ``planogram.jsonl`` lines for the record's gondola
    (every product of the catalogue; one planogram line per run of plates of a product)."""
    import json

    from .catalogue import PRODUCTS

    products = [json.dumps({"product_id": {"id": p.sku}, "metadata": {
        "name": p.name, "weight": p.weight_g, "price": p.price}}) for p in PRODUCTS]
    planogram = []
    for s, row in enumerate(rec.plate_sku):
        p = 0
        while p < len(row):
            q = p
            while q + 1 < len(row) and row[q + 1] == row[p]:
                q += 1
            if row[p] is not None:
                plates = [{"shelf_id": {"gondola_id": {"id": rec.gondola}, "shelf_index": s + 1},
                           "plate_index": i + 1} for i in range(p, q + 1)]
                planogram.append(json.dumps({"plate_ids": plates,
                                             "planogram_product_id": {"id": row[p]}}))
            p = q + 1
    return products, planogram
