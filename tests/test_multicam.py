"""`walkout floor` on a folder of several cameras' videos: frames merged by time, one
detection batch a tick, one tracker on the floor, tracks per camera and on the floor; bad
folders are one line and exit code 2 with nothing written. The cameras here are the shipped
`pair` clip seen twice (its floor homography as both cameras' calibration), so the floor
truth is its ground truth's box centres on the floor."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import cv2
import numpy as np
import pytest
from conftest import ROOT
from test_world_store import write

from walkout.config import load_store
from walkout.io import read_mot
from walkout.multicam import Ticks, open_cameras
from walkout.sim.layout import SIM_TO_WORLD

CLIP = ROOT / "sample_videos" / "pair"


def folder_of(tmp_path, sizes=None, cut: int | None = None, clip=CLIP, starts=None,
              ignore=None):
    """A two-camera folder: ``a.mp4`` and ``b.mp4`` both the ``clip`` (``b`` cut to its
    first ``cut`` frames), calibrated by the clip's floor homography; ``starts``: camera
    -> its ``start_s``; ``ignore``: camera -> its ``ignore`` polygons."""
    base = load_store(clip / "store.yaml")
    shutil.copy(clip / "video.mp4", tmp_path / "a.mp4")
    if cut is None:
        shutil.copy(clip / "video.mp4", tmp_path / "b.mp4")
    else:
        cap = cv2.VideoCapture(str(clip / "video.mp4"))
        out = cv2.VideoWriter(str(tmp_path / "b.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 10.0,
                              (640, 480))
        for _ in range(cut):
            ok, img = cap.read()
            assert ok
            out.write(img)
        out.release()
        cap.release()
    H = (SIM_TO_WORLD @ np.asarray(base.camera.homography)).tolist()
    sizes = sizes or {"a": (640, 480), "b": (640, 480)}
    store = {
        "cameras": [{"id": c, "width": w, "height": h, "fps": 10,
                     "calibration": {"homography": H},
                     **({"start_s": starts[c]} if c in (starts or {}) else {}),
                     **({"ignore": ignore[c]} if c in (ignore or {}) else {})}
                    for c, (w, h) in sizes.items()],
        "detector": {"model": str(ROOT / "models" / "walkout-sim.onnx"), "person_classes": [0],
                     "confidence": base.detector.confidence, "imgsz": base.detector.imgsz},
        "catalogue": [{"sku": "P1", "name": "one", "weight_g": 100, "weight_sd_g": 2,
                       "price": 1}],
        "shelves": [{"id": "S1", "origin": [1.0, 5.5, 0.5], "size": [1.0, 0.4, 0.4],
                     "plates": [{"id": "S1P1", "sku": "P1"}]}],
        "zones": {"entrance": [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]],
                  "exit": [[7.0, 0.0], [8.0, 0.0], [8.0, 1.0], [7.0, 1.0]]},
    }
    write(tmp_path, store)
    return tmp_path


def yaml_of(folder):
    import yaml

    return yaml.safe_load((folder / "store.yaml").read_text())


def walkout(*args):
    return subprocess.run([sys.executable, "-m", "walkout", *map(str, args)],
                          capture_output=True, text=True, timeout=600)


def test_ticks_merge_cameras_by_time_and_note_one_that_stops(tmp_path):
    folder = folder_of(tmp_path, cut=30)
    ticks = Ticks(open_cameras(load_store(folder / "store.yaml"), folder))
    seen = [(t, sorted(frames)) for t, frames in ticks]
    n = len(read_frames := [t for t, _ in seen])
    assert n == int(cv2.VideoCapture(str(folder / "a.mp4")).get(cv2.CAP_PROP_FRAME_COUNT))
    assert read_frames == sorted(read_frames)
    assert all(c == ["a", "b"] for _, c in seen[:30]) and all(c == ["a"] for _, c in seen[30:])
    assert ticks.stopped["b"] == pytest.approx(2.9)


def test_floor_tracks_follow_each_shopper_in_both_cameras(tmp_path):
    folder = folder_of(tmp_path)
    run = walkout("floor", folder, "--out", tmp_path / "out")
    assert run.returncode == 0, run.stderr
    assert "people on the floor" in run.stdout
    rows = np.loadtxt(tmp_path / "out" / "tracks_floor.csv", delimiter=",", skiprows=1)
    a = read_mot(tmp_path / "out" / "tracks_a.txt")
    b = read_mot(tmp_path / "out" / "tracks_b.txt")
    assert np.array_equal(a[:, :2], b[:, :2])   # the same video: the same people, same ids
    # each true shopper is mostly one floor track, within 0.3 m of their box centre
    H = SIM_TO_WORLD @ np.asarray(load_store(CLIP / "store.yaml").camera.homography)
    gt = read_mot(CLIP / "gt" / "tracks.txt")
    for gid in np.unique(gt[:, 1]):
        g = gt[gt[:, 1] == gid]
        hits, errs = [], []
        for f, _, x, y, w, h, *_ in g:
            c = H @ [x + w / 2, y + h / 2, 1.0]
            at = rows[np.isclose(rows[:, 0], (f - 1) / 10.0)]
            if len(at):
                d = np.hypot(at[:, 2] - c[0] / c[2], at[:, 3] - c[1] / c[2])
                hits.append(int(at[np.argmin(d), 1]))
                errs.append(float(d.min()))
        main = max(set(hits), key=hits.count)
        assert hits.count(main) >= 0.9 * len(g), (gid, sorted(set(hits)))
        assert np.median(errs) < 0.3


@pytest.mark.parametrize(("sizes", "cut", "starts", "message"), [
    ({"a": (640, 480), "b": (800, 600)}, None, None, "b.mp4: 640x480 (expected 800x600"),
    ({"a": (640, 480), "c": (640, 480)}, None, None, "c.mp4: not found"),
    (None, 30, {"b": 900.0}, "cameras 'a' (0.00-42.90 s) and 'b' (900.00-902.90 s) have no "
                             "common time"),
])
def test_a_bad_folder_is_one_line_and_writes_nothing(tmp_path, sizes, cut, starts, message):
    (tmp_path / "in").mkdir()
    folder = folder_of(tmp_path / "in", sizes, cut, starts=starts)
    run = walkout("floor", folder, "--out", tmp_path / "out")
    assert run.returncode == 2 and message in run.stderr, run.stderr
    assert len(run.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()



def test_weights_that_share_no_time_with_the_cameras_are_one_line(tmp_path):
    """A scale stamping epoch seconds, the cameras counted from 0 and no clock offset:
    `walkout run` on the store says so in one line before writing anything."""
    (tmp_path / "in").mkdir()
    folder = folder_of(tmp_path / "in", cut=30)
    t = 1.7e9 + np.arange(600) / 60
    rows = "\n".join(f"{v:.4f},500.0" for v in t)
    (folder / "weights.csv").write_text("t,S1P1\n" + rows + "\n")
    run = walkout("run", folder, "--out", tmp_path / "out")
    assert run.returncode == 2, run.stderr
    assert "weights.csv: no time in common with the video: its samples run " \
           "1700000000.0-1700000010.0 s, the video 0.0-42.9 s" in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()

def test_a_camera_that_starts_late_joins_at_its_time(tmp_path):
    """A camera whose recording began 20 s into the store's clock (``start_s``) is merged
    by time: its frames come in at 20 s on, and its end is reported at its own time."""
    folder = folder_of(tmp_path, cut=30, starts={"b": 20.0})
    run = walkout("floor", folder, "--out", tmp_path / "out")
    assert run.returncode == 0, run.stderr
    assert "camera b: its video ended at 22.90 s; going on with the others" in run.stderr
    rows = np.loadtxt(tmp_path / "out" / "tracks_floor.csv", delimiter=",", skiprows=1)
    assert rows[:, 0].max() > 30


def test_a_cameras_ignore_regions_drop_its_boxes_there(tmp_path):
    """Camera b's ``ignore`` polygon covers the left half of its picture: no box of b
    stands there (boxes seen from above stand at their middle), while a, the same video,
    keeps its boxes there and the people on the floor."""
    left = [[0, 0], [320, 0], [320, 480], [0, 480]]
    folder = folder_of(tmp_path, ignore={"b": [left]})
    run = walkout("floor", folder, "--out", tmp_path / "out")
    assert run.returncode == 0, run.stderr
    a = read_mot(tmp_path / "out" / "tracks_a.txt")
    b = read_mot(tmp_path / "out" / "tracks_b.txt")
    assert np.sum(a[:, 2] + a[:, 4] / 2 < 320) > 50
    assert len(b) > 50 and np.all(b[:, 2] + b[:, 4] / 2 >= 320)


def test_show_sees_the_mosaic_and_stopping_it_ends_the_run_cleanly(tmp_path):
    """``run_cameras(show=...)`` hands the window each tick's mosaic (both cameras and
    the floor plan); returning False stops the run there, with every output written, as
    `q` does in `walkout run FOLDER --show`. Without a display the CLI says so and runs."""
    from walkout.cli import make_detector
    from walkout.multicam import run_cameras

    (tmp_path / "in").mkdir()
    folder = folder_of(tmp_path / "in")
    store = load_store(folder / "store.yaml")
    seen = []

    def show(img):
        seen.append(img.shape)
        return len(seen) < 20

    res = run_cameras(folder, store, tmp_path / "out", make_detector(store, None, "auto", "cpu"),
                      show=show)
    assert seen == [(960, 1280, 3)] * 20
    assert res.frames == 20 and (tmp_path / "out" / "receipts.json").is_file()
    assert not (tmp_path / "out" / "annotated.mp4").exists()
    run = subprocess.run([sys.executable, "-m", "walkout", "run", str(folder), "--out",
                          str(tmp_path / "cli"), "--show"], capture_output=True, text=True,
                         timeout=600, env={k: v for k, v in os.environ.items()
                                           if k not in ("DISPLAY", "WAYLAND_DISPLAY")})
    assert run.returncode == 0, run.stderr
    assert "--show: no display" in run.stderr
    assert (tmp_path / "cli" / "receipts.json").is_file()


def test_a_camera_that_stops_is_reported_and_the_run_goes_on(tmp_path):
    folder = folder_of(tmp_path, cut=30)
    run = walkout("floor", folder, "--out", tmp_path / "out")
    assert run.returncode == 0, run.stderr
    assert "camera b: its video ended at 2.90 s; going on with the others" in run.stderr
    a = read_mot(tmp_path / "out" / "tracks_a.txt")
    b = read_mot(tmp_path / "out" / "tracks_b.txt")
    assert a[:, 0].max() > 100 and (len(b) == 0 or b[:, 0].max() <= 30)


@pytest.mark.parametrize("clip", ["pair", "busy"])
def test_walkout_run_on_two_cameras_gives_the_clips_receipts(tmp_path, clip):
    """`walkout run FOLDER` on a store of two cameras (a sample clip seen twice, the
    simulator's store in world metres, its weights): the floor tracks, zones on the floor
    and fusion give each shopper the receipt of the clip's ground truth (in `busy` the
    floor tracker's colour models keep apart the shoppers whose boxes merge), and the
    outputs of several cameras are written."""
    import json

    from walkout.sim.layout import world_layout

    src = ROOT / "sample_videos" / clip
    (tmp_path / "in").mkdir()
    folder = folder_of(tmp_path / "in", clip=src)
    base = load_store(src / "store.yaml").to_dict()
    raw = yaml_of(folder)
    raw.update(world_layout({p.id: p.units for s in load_store(src / "store.yaml").shelves
                             for p in s.plates}))
    raw["catalogue"], raw["sensors"] = base["catalogue"], base["sensors"]
    write(folder, raw)
    shutil.copy(src / "weights.csv", folder / "weights.csv")
    video = ["--save-video"] if clip == "pair" else []
    run = walkout("run", folder, "--out", tmp_path / "out", *video)
    assert run.returncode == 0, run.stderr
    out = tmp_path / "out"
    for name in ("receipts.json", "events.jsonl", "cart_ledger.jsonl", "tracks_floor.csv",
                 "tracks_a.txt", "tracks_b.txt"):
        assert (out / name).is_file(), name
    if video:   # the two cameras and the floor plan, in a 2 x 2 grid, a frame a tick
        cap = cv2.VideoCapture(str(out / "annotated.mp4"))
        size = (cap.get(cv2.CAP_PROP_FRAME_WIDTH), cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        frames = cap.get(cv2.CAP_PROP_FRAME_COUNT)
        cap.release()
        assert size == (1280, 960)
        assert frames == cv2.VideoCapture(str(src / "video.mp4")).get(cv2.CAP_PROP_FRAME_COUNT)
    got = sorted(sorted((x["sku"], x["qty"]) for x in r["lines"])
                 for r in json.loads((out / "receipts.json").read_text())["receipts"])
    truth = sorted(sorted(r["items"].items()) for r in
                   json.loads((src / "gt" / "receipts.json").read_text())["receipts"])
    # every true receipt is there; besides them at most one more, empty (a track broken)
    assert [r for r in got if r] == [r for r in truth if r]
    assert len(truth) <= len(got) <= len(truth) + 1
