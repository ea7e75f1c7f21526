"""Drawn worlds (`walkout simulate --world`): deterministic, varied within their ranges,
consistent clips, and the presets' world left exactly as it was."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from walkout.config import load_store
from walkout.io import ClipPaths, read_weights_csv
from walkout.sim import make_scenario, simulate
from walkout.sim.check import check_clip
from walkout.sim.simulate import gt_events, world_path
from walkout.sim.world import PRESET_WORLD, camera_view, draw_world, min_fov_deg

SAMPLES = Path(__file__).resolve().parents[1] / "sample_videos"
FILES = ("store", "weights", "video", "gt_tracks", "gt_events", "gt_receipts")


@pytest.fixture(scope="module")
def random_clip(tmp_path_factory):
    return simulate("pair", 3, tmp_path_factory.mktemp("w") / "clip", world=3, size=(320, 240))


def test_a_drawn_world_gives_the_same_files_twice(random_clip, tmp_path):
    again = simulate("pair", 3, tmp_path / "again", world=3, size=(320, 240))
    for name in FILES:
        assert getattr(again, name).read_bytes() == getattr(random_clip, name).read_bytes(), name
    assert world_path(again).read_bytes() == world_path(random_clip).read_bytes()


def test_a_drawn_world_clip_is_consistent_and_records_its_world(random_clip):
    assert check_clip(random_clip.root) == []
    rec = json.loads(world_path(random_clip).read_text())
    assert rec["world"] == json.loads(json.dumps(draw_world(3).to_json()))
    store = load_store(random_clip.store)
    w = draw_world(3)
    assert store.sensors.clock_offset_s == pytest.approx(w.stated_offset_s)
    # the scale stamps its samples with its own clock: t_sensor = t_video - true offset
    t = read_weights_csv(random_clip.weights).t
    assert t[0] == pytest.approx(-w.clock_offset_s, abs=1e-4)


def test_the_preset_world_writes_no_world_file_and_clears_an_old_one(random_clip, tmp_path):
    out = tmp_path / "c"
    simulate("single", 1, out, world=4, size=(160, 120))
    assert world_path(ClipPaths(out)).is_file()
    simulate("single", 1, out, size=(160, 120))
    assert not world_path(ClipPaths(out)).exists()


@pytest.mark.parametrize("preset", ["single", "pair"])
def test_presets_without_a_world_are_unchanged(preset, tmp_path):
    """The shipped samples were made by `walkout simulate --preset P --seed 0`."""
    again = simulate(preset, 0, tmp_path / preset, world=None)
    shipped = ClipPaths(SAMPLES / preset)
    for name in ("store", "weights", "gt_tracks", "gt_events", "gt_receipts"):
        assert getattr(again, name).read_bytes() == getattr(shipped, name).read_bytes(), name


def test_worlds_vary_within_their_ranges():
    worlds = [draw_world(n) for n in range(60)]

    def values(get):
        v = np.array([get(w) for w in worlds], float)
        assert np.ptp(v) > 0, "never varies"
        return v

    speed = values(lambda w: w.speed_ms[0]), values(lambda w: w.speed_ms[1])
    assert speed[0].min() >= 0.5 and speed[1].max() <= 1.6 and (speed[1] > speed[0]).all()
    h = values(lambda w: w.camera_h_m)
    assert h.min() >= 2.5 and h.max() <= 4.0 and np.ptp(h) > 1.0
    fov = values(lambda w: w.fov_deg)
    assert all(min_fov_deg(w.camera_h_m) <= w.fov_deg <= 130 for w in worlds)
    assert np.ptp(fov) > 15
    off = values(lambda w: w.clock_offset_s)
    assert np.abs(off).max() <= 0.5 and off.min() < -0.3 and off.max() > 0.3
    assert all(abs(w.stated_offset_s - w.clock_offset_s) <= 0.05 + 1e-9 for w in worlds)
    cycle = values(lambda w: w.extend_s[0] + w.hold_s[0] + w.retract_s[0] + w.pause_s[0])
    assert cycle.min() < 0.7 and cycle.max() > 1.8  # reaches 0.5 s to over 2 s apart
    gap = values(lambda w: w.room_gap_m)
    assert gap.min() < 0 < gap.max()  # some crowds touch
    q = values(lambda w: w.jpeg_quality)
    assert q.min() >= 30 and q.max() <= 95
    assert values(lambda w: w.brightness).min() >= 0.6
    assert values(lambda w: w.blur_px[0]).max() > 1.2
    assert values(lambda w: w.load_cells["tare_g"]).max() > 100
    assert {w.dressed_alike for w in worlds} == {0, 1, 2}


def test_the_camera_always_shows_the_whole_floor_and_no_street():
    for n in range(40):
        w = draw_world(n)
        view = camera_view(w, 640, 480)
        corners = view.px(np.array([[0.0, 0.0], [8.0, 6.0]]))
        assert (corners[0] >= -1e-6).all() and corners[1, 0] <= 640 + 1e-6
        assert corners[1, 1] <= 480 + 1e-6
        bottom_m = (480 - view.oy) / view.ppm
        assert bottom_m <= 6.3 + 1e-9  # shoppers appear from 6.7 m, out of sight
        assert 0.75 < view.body_scale < 1.25


def test_drawn_worlds_make_fast_reaches_and_dress_shoppers_alike():
    gaps, alike = [], 0
    for n in range(900, 912):
        sc = make_scenario("busy", n, world=draw_world(n))
        for sh in sc.shoppers:
            ts = sorted(r.t_change for r in sh.reaches if r.qty != 0)
            gaps += list(np.diff(ts))
        looks = [(s.body.shirt, s.body.hair, s.body.cap, s.body.bag) for s in sc.shoppers]
        alike += len(looks) - len(set(looks))
        assert all(0.34 <= s.body.shoulder_w <= 0.58 for s in sc.shoppers)
        assert all(0.5 <= s.speed <= 1.6 for s in sc.shoppers)
    assert min(gaps) < 1.0 < 1.55  # far below the presets' least gap of 1.55 s
    assert alike >= 3


def test_a_walk_smoothed_past_the_exit_zone_still_has_an_exit_time():
    # world 1113's pair: the first shopper's last walk rounds the exit door's jamb and its
    # centre skirts the corner of the exit zone without entering it (was NaN, which is not
    # JSON); the wall line is crossed instead
    sc = make_scenario("pair", 1113, world=draw_world(1113))
    for sh in sc.shoppers:
        assert 0 < sh.entered_t < sh.exited_t <= sh.t1
        last = max(r.t_end for r in sh.reaches)
        assert sh.exited_t > last


def _inside_each_other_s(sc) -> float:
    """Seconds, over all pairs of shoppers, that their centres are under 0.2 m apart: one
    body inside the other (a torso is 0.2-0.3 m deep)."""
    from walkout.sim.room import _track

    clock = np.arange(0.0, sc.duration, 0.05)
    tracks = [_track(sh, clock) for sh in sc.shoppers]
    total = 0.0
    for i, a in enumerate(tracks):
        for b in tracks[i + 1:]:
            d = np.hypot(*(a - b).T)
            total += 0.05 * int(np.sum(d < 0.2))  # NaN (someone away) compares False
    return total


def test_in_drawn_worlds_nobody_walks_through_a_body():
    """Planned one at a time, walkers went through people standing at shelves and through
    each other (these worlds: 5.5 s of it). Now they go around or wait, and every visit keeps
    its reaches, a continuous timeline and its floor (no gondola walked through)."""
    from dataclasses import replace

    from walkout.sim.layout import BODY_RADIUS, GONDOLAS
    from walkout.sim.shoppers import Stand

    through, before = 0.0, 0.0
    for n in (905, 906):
        w = draw_world(n)
        sc = make_scenario("busy", n, world=w)
        old = make_scenario("busy", n, world=replace(w, give_way=False))
        through += _inside_each_other_s(sc)
        before += _inside_each_other_s(old)
        assert gt_events(sc) != gt_events(old)
        for sh, was in zip(sc.shoppers, old.shoppers):
            assert [r.spot.plate_id for r in sh.reaches] == \
                [r.spot.plate_id for r in was.reaches]
            assert all(a.t1 == pytest.approx(b.t0) for a, b in zip(sh.segments,
                                                                   sh.segments[1:]))
            stands = [g for g in sh.segments if isinstance(g, Stand)]
            assert all(any(g.t0 <= r.t_start and r.t_end <= g.t1 for g in stands)
                       for r in sh.reaches)
            assert sh.t1 <= sc.duration - 1.5
            for seg in sh.segments:
                if isinstance(seg, Stand):
                    continue
                for g in GONDOLAS:
                    r = BODY_RADIUS - 0.1
                    p = seg.path
                    assert not ((p[:, 0] > g.x0 - r) & (p[:, 0] < g.x1 + r)
                                & (p[:, 1] > g.y0 - r) & (p[:, 1] < g.y1 + r)).any()
    assert before > 4.0
    assert through < 0.1 * before


def test_the_presets_world_is_the_default():
    a = make_scenario("busy", 5)
    b = make_scenario("busy", 5, world=PRESET_WORLD)
    assert gt_events(a) == gt_events(b)
    assert gt_events(a) != gt_events(make_scenario("busy", 5, world=draw_world(5)))


@pytest.mark.parametrize("value", ["-1", "abc", "1.5", ""])
def test_cli_rejects_a_bad_world(value, tmp_path):
    res = subprocess.run([sys.executable, "-m", "walkout", "simulate", "--preset", "single",
                          "--seed", "1", "--world", value, "--out", str(tmp_path / "x")],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 2
    assert "--world" in res.stderr and "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "x").exists()


def test_cli_world_random_is_world_seed(tmp_path):
    def run(world, out):
        res = subprocess.run([sys.executable, "-m", "walkout", "simulate", "--preset", "single",
                              "--seed", "6", "--world", world, "--size",
                              "160x120", "--out", str(out)], capture_output=True, text=True,
                             timeout=120)
        assert res.returncode == 0, res.stderr
        return ClipPaths(out)

    a, b = run("random", tmp_path / "a"), run("6", tmp_path / "b")
    for name in ("weights", "gt_events", "gt_tracks"):
        assert getattr(a, name).read_bytes() == getattr(b, name).read_bytes(), name
    c = run("7", tmp_path / "c")
    assert c.weights.read_bytes() != a.weights.read_bytes()
