"""`walkout aifi-store`: AiFi's store metadata (../shared/data/aifi/store_meta) as a
store.yaml of several cameras. The planogram's boxes land where the metadata puts them, the
cameras keep AiFi's calibration in walkout's units, the file is one every command reads, and
bad input is one line and exit code 2 with nothing written."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys

import cv2
import numpy as np
import pytest
from conftest import ROOT, shared_path

from walkout.config import load_store
from walkout.config.aifi import INCH, aifi_shelves
from walkout.config.world import OUTSIDE


def walkout(*args):
    return subprocess.run([sys.executable, "-m", "walkout", *map(str, args)],
                          capture_output=True, text=True, timeout=600, cwd=ROOT)


def test_the_planogram_becomes_shelf_boxes_in_metres():
    shelves = {s["id"]: s for s in aifi_shelves(shared_path("aifi", "store_meta"))}
    assert len(shelves) == 30 and sum(len(s["plates"]) for s in shelves.values()) == 306
    # gondola 1 shelf 5: the gondola's left end (1 in from x = 0, its back panel's front at
    # y 0.4921 m), the shelf's front 16 in toward the aisle, its board 1.3748 m up
    g1s5 = shelves["g1s5"]
    assert g1s5["origin"] == pytest.approx([0.0254, 0.4921 - 0.4064, 1.3748], abs=1e-4)
    assert g1s5["size"] == pytest.approx([1.2192, 0.4064, 0.2921], abs=1e-4)
    assert g1s5["yaw_deg"] == 0
    # plates: 4 in wide, plate k starting (k - 1) x 4 in from the shelf's left end
    spans = {p["id"]: p["span"] for p in g1s5["plates"]}
    assert len(spans) == 12 and spans["g1s5p10"] == pytest.approx([36 * INCH, 40 * INCH])
    # the plates of the ground truth's two picks (cps-test-01) are there
    events = json.loads(shared_path("aifi", "cps-test-01", "gt_events.json").read_text())
    for e in events["events"]:
        pos = e["observation"]["position"]
        shelf = shelves[f"g{pos['gondola']}s{pos['shelf']}"]
        assert {f"g{pos['gondola']}s{pos['shelf']}p{k}" for k in pos["plates"]} <= \
            {p["id"] for p in shelf["plates"]}
    # gondola 5 is turned a quarter to the right: its shelves face -x, from x 4.91 m
    g5s1 = shelves["g5s1"]
    assert g5s1["yaw_deg"] == pytest.approx(-90, abs=0.01)
    assert g5s1["origin"][0] == pytest.approx(4.9149 - 0.4064, abs=1e-3)
    # a gondola's shelves stack: each board above the clear space of the one below
    for g in range(1, 6):
        stack = [shelves[f"g{g}s{k}"] for k in range(1, 7) if f"g{g}s{k}" in shelves]
        for lo, hi in itertools.pairwise(stack):
            assert lo["origin"][2] + lo["size"][2] <= hi["origin"][2] + 1e-6


@pytest.fixture(scope="module")
def pictures(tmp_path_factory):
    """AiFi's reference pictures of cameras 1 and 2 as three-frame videos cam1.mp4 and
    cam2.mp4 (640x360, 10 fps), and the folder they are in."""
    folder = tmp_path_factory.mktemp("aifi")
    for k in (1, 2):
        img = cv2.imread(str(shared_path("aifi", "store_meta", "camera_angles", f"cam{k}.png")))
        out = cv2.VideoWriter(str(folder / f"cam{k}.mp4"), cv2.VideoWriter_fourcc(*"mp4v"),
                              10.0, (img.shape[1], img.shape[0]))
        for _ in range(3):
            out.write(img)
        out.release()
    return folder


def test_aifi_store_writes_a_store_every_command_reads(pictures, tmp_path):
    meta = shared_path("aifi", "store_meta")
    run = walkout("aifi-store", "--meta", meta, "--cameras", 1, 2, "--videos", pictures,
                  "--out", pictures / "store.yaml", "--overlay", tmp_path / "overlay")
    assert run.returncode == 0, run.stderr
    assert "2 cameras (cam1, cam2), 30 shelves, 306 plates, 1 products" in run.stdout
    store = load_store(pictures / "store.yaml")
    cam = store.world.camera("cam2")
    calib = json.loads((meta / "calibration.json").read_text())["cameras"]["2"]
    # K from fractions of the picture to pixels; the lens from inches to metres
    assert cam.calibration.K[0, 0] == pytest.approx(calib["K"][0][0] * 640, abs=1e-3)
    assert cam.calibration.K[1, 2] == pytest.approx(calib["K"][1][2] * 360, abs=1e-3)
    assert cam.calibration.t == pytest.approx(np.array(calib["Tw"])[:3, 3] * INCH, abs=1e-5)
    assert (cam.width, cam.height, cam.fps, cam.view) == (640, 360, 10.0, "oblique")
    # camera 2 looks along the gondola row from the glass wall: it sees the row's shelves
    seen = [s.id for s in store.view("cam2").shelves if not np.array_equal(s.polygon, OUTSIDE)]
    assert {"g1s1", "g2s5", "g3s5", "g4s5"} <= set(seen)
    check = walkout("validate", pictures / "store.yaml")
    assert check.returncode == 0 and "camera cam2: 640x360 @ 10 fps, oblique" in check.stdout
    # the overlay: the picture with the store drawn on it, where that camera sees shelves
    drawn = cv2.imread(str(tmp_path / "overlay" / "cam2.png"))
    plain = cv2.imread(str(meta / "camera_angles" / "cam2.png"))
    assert drawn.shape == plain.shape
    poly = np.round(store.view("cam2").shelves[0].polygon).astype(np.int32)
    mask = np.zeros(plain.shape[:2], np.uint8)
    cv2.polylines(mask, [poly], True, 1, 1)
    assert (np.abs(drawn.astype(int) - plain.astype(int)).sum(2)[mask > 0] > 60).mean() > 0.5


def test_a_planogram_stocks_the_plates(pictures, tmp_path):
    """With AiFi's products and planogram (here benchmark-1's, a later layout of the same
    gondolas), each plate the planogram names holds its product; the others 'unknown'."""
    run = walkout("aifi-store", "--meta", shared_path("aifi", "store_meta"), "--cameras", 2,
                  "--videos", pictures, "--out", tmp_path / "store.yaml",
                  "--products", shared_path("aifi", "benchmark-1", "products.jsonl"),
                  "--planogram", shared_path("aifi", "benchmark-1", "planogram.jsonl"))
    assert run.returncode == 0, run.stderr
    store = load_store(tmp_path / "store.yaml")
    skus = [p.sku for s in store.world.shelves for p in s.plates]
    assert "unknown" in skus and len(set(skus)) > 20
    names = {p.sku: p.name for p in store.catalogue}
    assert all(s in names for s in skus)


@pytest.mark.parametrize(("args", "message"), [
    (["--cameras", "99"], "calibration.json: cameras: no camera '99'"),
    (["--cameras", "3"], "cam3.mp4: file not found (expected this camera's video)"),
    (["--cameras", "2", "--products", "p.jsonl"], "--products and --planogram: expected both"),
    (["--cameras", "2", "--entrance", "1,2 3,4"], "expected at least 3 floor points"),
])
def test_bad_input_is_one_line_and_writes_nothing(pictures, tmp_path, args, message):
    run = walkout("aifi-store", "--meta", shared_path("aifi", "store_meta"), "--videos",
                  pictures, "--out", tmp_path / "store.yaml", *args)
    assert run.returncode == 2 and message in run.stderr, run.stderr
    assert "Traceback" not in run.stderr
    assert not (tmp_path / "store.yaml").exists() and not list(tmp_path.iterdir())
