"""The simulated load-cell noise matches the real quiet shelves of AiFi BENCHMARK-1."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import shared_path

from walkout.sensors import read_aifi_plate_data
from walkout.sim.weights import quiet_stats, shelf_noise, simulated_quiet_shelves


def real_quiet_shelves() -> list[np.ndarray]:
    data = read_aifi_plate_data(shared_path("aifi", "benchmark-1", "plate_data_g2-4.jsonl"))
    return [g.grams[:, s, :] for g in data.values() for s in range(g.grams.shape[1])]


def test_aifi_reader_shapes():
    data = read_aifi_plate_data(shared_path("aifi", "benchmark-1", "plate_data_g2-4.jsonl"))
    assert sorted(data) == [2, 3, 4]
    for g in data.values():
        assert g.rate_hz == 60.0
        assert g.grams.shape[0] == len(g.t) > 900
        assert g.grams.shape[2] == 12 and not np.isnan(g.grams).any()
        dt = np.diff(g.t)
        assert (dt > 0).all() and np.median(dt) == pytest.approx(1 / 60, rel=0.05)


def test_simulated_noise_matches_real_quiet_shelves():
    real = quiet_stats(real_quiet_shelves())
    sim = quiet_stats(simulated_quiet_shelves(seed=0, n_shelves=17, n_plates=12, seconds=17.2))
    for key in real:
        # same order of magnitude at every percentile, and close at the medians
        limit = 1.35 if key.endswith("p50") else 2.0
        assert 1 / limit <= sim[key] / real[key] <= limit, (key, sim[key], real[key])


def test_touches_ring_but_leave_no_step():
    t = np.arange(0, 20, 1 / 60)
    quiet = shelf_noise(np.random.default_rng(4), t, 4)
    touched = shelf_noise(np.random.default_rng(4), t, 4, touches=[5.0, 6.5])
    ring = (touched - quiet).sum(1)
    assert np.abs(ring[t < 5.0]).max() == 0  # nothing before the hand arrives
    assert np.abs(ring[(t > 5) & (t < 7)]).max() > 3  # the gondola rings while touched
    assert abs(ring[(t > 5) & (t < 12)].mean()) < 1  # zero-mean: no false step
    assert np.abs(ring[t > 12]).max() < 0.5  # and it dies out
