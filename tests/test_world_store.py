"""A store described in world metres for several calibrated cameras (a ``cameras:``
store.yaml): it loads, each camera's view puts every shelf, plate and door where that camera
sees it, the single-camera pipeline can read any view, and bad calibrations are one-line
errors naming the key."""

from __future__ import annotations

import subprocess
import sys

import cv2
import numpy as np
import pytest
import yaml
from conftest import ROOT

from walkout.config import load_store
from walkout.errors import ConfigError
from walkout.geometry import Calibration

K = [[300.0, 0.0, 320.0], [0.0, 300.0, 240.0], [0.0, 0.0, 1.0]]
# a 6 x 4 m shop: one gondola against the far wall (y = 3.6 to 4.0 m), two shelf levels of
# three plates each, the way in at the bottom left and out at the bottom right
SHELVES = [("G1S1", 0.3), ("G1S2", 1.2)]


def calibration(eye, target, up, dist=None) -> dict:
    c = Calibration.looking_at(K, eye, target, up, dist)
    out = {"K": K, "R": c.R.tolist(), "t": c.t.tolist()}
    if dist is not None:
        out["dist"] = list(dist)
    return out


def world_store(**over) -> dict:
    store = {
        "name": "two-camera-shop",
        "cameras": [
            {"id": "top", "width": 640, "height": 480, "fps": 10, "source": "top.mp4",
             "calibration": calibration([3.0, 2.0, 3.2], [3.0, 2.0, 0.0], [0.0, 1.0, 0.0])},
            {"id": "corner", "width": 640, "height": 480, "fps": 15, "view": "oblique",
             "calibration": calibration([0.3, 0.3, 2.6], [3.0, 3.0, 0.0], [0.0, 0.0, 1.0],
                                        [-0.3, 0.08, 0.0, 0.0, 0.0])},
        ],
        "detector": {"model": "models/walkout-sim.onnx", "person_classes": [0]},
        "catalogue": [{"sku": f"P{k}", "name": f"product {k}", "weight_g": 100.0 + 50 * k,
                       "weight_sd_g": 2.0, "price": 1.0} for k in range(6)],
        "shelves": [
            {"id": sid, "gondola": "G1", "origin": [2.0, 3.6, z], "size": [1.5, 0.4, 0.4],
             "plates": [{"id": f"{sid}P{j + 1}", "sku": f"P{3 * n + j}"} for j in range(3)]}
            for n, (sid, z) in enumerate(SHELVES)
        ],
        "zones": {"entrance": [[0.0, 0.0], [1.0, 0.0], [1.0, 0.8], [0.0, 0.8]],
                  "exit": [[5.0, 0.0], [6.0, 0.0], [6.0, 0.8], [5.0, 0.8]]},
    }
    store.update(over)
    return store


class _Plain(yaml.SafeDumper):
    def ignore_aliases(self, data) -> bool:   # a store.yaml has no aliases
        return True


def write(tmp_path, store: dict):
    path = tmp_path / "store.yaml"
    path.write_text(yaml.dump(store, Dumper=_Plain, sort_keys=False))
    return path


def inside(poly: np.ndarray, px) -> bool:
    return cv2.pointPolygonTest(np.asarray(poly, np.float32).reshape(-1, 1, 2),
                                (float(px[0]), float(px[1])), False) >= 0


def test_a_world_store_loads_as_its_first_camera_and_gives_every_view(tmp_path):
    store = load_store(write(tmp_path, world_store()))
    assert store.world is not None and [c.id for c in store.world.cameras] == ["top", "corner"]
    assert store.camera_id == "top" and (store.camera.width, store.camera.fps) == (640, 10)
    corner = store.view("corner")
    assert corner.camera_id == "corner" and corner.camera.fps == 15
    assert corner.camera.view == "oblique" and store.camera.view == "overhead"
    for view in (store, corner):
        assert [s.id for s in view.shelves] == ["G1S1", "G1S2"]
        assert view.plate_ids == [f"{s}P{j}" for s, _ in SHELVES for j in (1, 2, 3)]


@pytest.mark.parametrize("camera", ["top", "corner"])
def test_each_view_puts_plates_reaches_and_doors_where_its_camera_sees_them(tmp_path, camera):
    """Plate centres project inside their plate and shelf polygons (and not into the
    neighbouring plate), a shopper standing half a metre in front of a shelf is in its
    reach zone, and a shopper standing in a door is in that door's zone, in both views."""
    store = load_store(write(tmp_path, world_store())).view(camera)
    calib = store.world.camera(camera).calibration
    at = 0.0 if store.camera.view == "oblique" else 1.6   # feet, or head and shoulders
    for (sid, z), shelf in zip(SHELVES, store.shelves, strict=True):
        for j, plate in enumerate(shelf.plates):
            centre = [2.0 + 0.25 + 0.5 * j, 3.8, z + 0.2]
            px = calib.project([centre])[0][0]
            assert inside(plate.polygon, px) and inside(shelf.polygon, px), (sid, j)
            if j:   # the plate before lies to one side of it
                assert not inside(shelf.plates[j - 1].polygon, calib.project(
                    [[2.0 + 0.5 * j + 0.35, 3.8, z + 0.2]])[0][0]), (sid, j)
        shopper = [2.75, 3.1, at]   # half a metre in front of the shelf
        assert inside(shelf.reach_zone, calib.project([shopper])[0][0]), sid
        aside = [2.75, 2.2, at]     # 1.4 m out in the aisle: out of reach
        assert not inside(shelf.reach_zone, calib.project([aside])[0][0]), sid
    for poly, spot in ((store.zones.entrance, [0.5, 0.4, at]), (store.zones.exit,
                                                                 [5.5, 0.4, at])):
        assert inside(poly, calib.project([spot])[0][0])
    away = calib.project([[3.0, 1.5, at]])[0][0]   # the middle of the shop: neither door
    assert not inside(store.zones.entrance, away) and not inside(store.zones.exit, away)


def test_a_floor_homography_camera_places_things_at_their_footprint(tmp_path):
    """A camera given only by its floor homography (here the top camera's own): plates at
    their footprint on the floor, doors as the floor polygons."""
    top = Calibration.looking_at(K, [3.0, 2.0, 3.2], [3.0, 2.0, 0.0], [0.0, 1.0, 0.0])
    raw = world_store()
    raw["cameras"] = [{"id": "flat", "width": 640, "height": 480, "fps": 10,
                       "calibration": {"homography": top.floor_homography().tolist()}}]
    store = load_store(write(tmp_path, raw))
    foot = top.project([[2.25, 3.8, 0.0]])[0][0]
    assert inside(store.shelves[0].plates[0].polygon, foot)
    assert store.zones.entrance[:, 0].min() == pytest.approx(
        top.project([[0.0, 0.0, 0.0]])[0][0][0], abs=1e-6)


def test_a_shelf_out_of_a_cameras_sight_lies_outside_its_frame(tmp_path):
    """A shelf a camera does not see is in its view outside the frame: nobody reaches it
    there, and its plates still weigh (every view has every plate)."""
    from walkout.config.world import OUTSIDE

    raw = world_store()
    raw["shelves"].append({"id": "BACK", "origin": [2.0, -9.0, 0.5], "size": [1.0, 0.4, 0.4],
                           "yaw_deg": 180, "plates": [{"id": "BACKP1", "sku": "P0"}]})
    store = load_store(write(tmp_path, raw))
    back = store.shelf("BACK")                                   # 9 m behind the top view
    assert np.array_equal(back.polygon, OUTSIDE) and np.array_equal(back.reach_zone, OUTSIDE)
    assert "BACKP1" in store.plate_ids
    assert [s.id for s in store.world.shelves][-1] == "BACK"


@pytest.mark.parametrize(("edit", "key"), [
    (lambda s: s["cameras"][1].update(id="top"), "cameras[1].id"),
    (lambda s: s["cameras"][0]["calibration"].update(R=[[1, 0, 0], [0, 1, 0], [0, 0, -1]]),
     "cameras[0].calibration.R"),
    (lambda s: s["cameras"][0]["calibration"].update(K=[[0, 0, 320], [0, 300, 240],
                                                         [0, 0, 1]]),
     "cameras[0].calibration.K"),
    (lambda s: s["cameras"][1]["calibration"].update(dist=[0.1, 0.2, 0.3]),
     "cameras[1].calibration.dist"),
    (lambda s: s["cameras"][0]["calibration"].update(focal=1.0), "cameras[0].calibration.focal"),
    (lambda s: s["cameras"][0].update(view="sideways"), "cameras[0].view"),
    (lambda s: s["shelves"][0].update(size=[1.5, 0.0, 0.4]), "shelves[0].size"),
    (lambda s: s["shelves"][0]["plates"][0].update(span=[1.0, 2.0]), "shelves[0].plates[0].span"),
    (lambda s: s["shelves"][1]["plates"][2].update(sku="NOPE"), "shelves[1].plates[2].sku"),
    (lambda s: s["shelves"][0]["plates"][1].update(span=[0.4, 0.9]), "shelves[0].plates[1].span"),
    (lambda s: s.update(camera={"width": 640, "height": 480, "fps": 10}), "camera"),
    (lambda s: s["cameras"][1].update(ignore=[[[0, 0], [10, 0]]]), "cameras[1].ignore[0]"),
    (lambda s: s["detector"].update(ignore=[[[0, 0], [10, 0], [10, 10]]]), "detector.ignore"),
])
def test_a_bad_world_store_is_one_line_naming_the_key(tmp_path, edit, key):
    raw = world_store()
    edit(raw)
    with pytest.raises(ConfigError) as err:
        load_store(write(tmp_path, raw))
    msg = str(err.value)
    assert "\n" not in msg and f"store.yaml: {key}:" in msg, msg


def test_walkout_validate_lists_what_each_camera_sees(tmp_path):
    path = write(tmp_path, world_store(detector={
        "model": str(ROOT / "models" / "walkout-sim.onnx"), "person_classes": [0]}))
    run = subprocess.run([sys.executable, "-m", "walkout", "validate", str(path)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert "ok (2 cameras, 2 shelves, 6 plates, 6 products" in lines[0]
    assert lines[1].startswith("  camera top: 640x480 @ 10 fps, overhead, sees 2 of 2 shelves")
    assert lines[2].startswith("  camera corner: 640x480 @ 15 fps, oblique, sees 2 of 2")
