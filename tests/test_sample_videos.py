"""The shipped sample clips are small, consistent, and exactly what the simulator makes."""

from __future__ import annotations

from pathlib import Path

import pytest

from walkout.io import ClipPaths
from walkout.sim import simulate
from walkout.sim.check import check_clip, clip_features

SAMPLES = Path(__file__).resolve().parents[1] / "sample_videos"
PRESETS = ("single", "pair", "busy")


@pytest.mark.parametrize("preset", PRESETS)
def test_sample_clip_is_small_and_consistent(preset):
    root = SAMPLES / preset
    size = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
    assert size < 5 * 1024 * 1024, f"{root} is {size / 1e6:.1f} MB"
    assert check_clip(root) == []


def test_sample_clips_show_what_their_presets_promise():
    single, pair, busy = (clip_features(SAMPLES / p) for p in PRESETS)
    assert single["shoppers"] == 1 and single["picks"] == 3
    assert pair["shoppers"] == 2 and pair["put_backs"] >= 1
    assert busy["shoppers"] >= 6 and busy["misplaced_returns"] >= 1
    assert busy["multi_unit_picks"] >= 1 and busy["same_shelf_overlaps"] >= 1


@pytest.mark.parametrize("preset", ["single", "pair"])
def test_sample_clip_is_reproducible(preset, tmp_path):
    """`walkout simulate --preset P --seed 0` regenerates the shipped ground truth."""
    again = simulate(preset, 0, tmp_path / preset)
    shipped = ClipPaths(SAMPLES / preset)
    for name in ("store", "weights", "gt_tracks", "gt_events", "gt_receipts"):
        assert getattr(again, name).read_bytes() == getattr(shipped, name).read_bytes(), name
