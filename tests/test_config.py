"""store.yaml loading: a valid store round-trips; each kind of mistake gives one clear line."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from walkout import ConfigError, dump_store, load_store
from walkout.config import StoreConfig


def test_valid_store_loads_and_round_trips(store_dict, write_store, tmp_path):
    cfg = load_store(write_store(store_dict))
    assert cfg.camera.width == 640 and cfg.camera.fps == 10
    assert len(cfg.shelves) == 8 and len(cfg.plate_ids) == 24
    assert cfg.plates["G1S1P1"][1].sku == "P01"
    assert cfg.products["P19"].weight_g == 1500
    # the homography maps the image centre to the floor centre (8 x 6 m store)
    centre = cfg.camera.homography @ np.array([320, 240, 1.0])
    assert centre[:2] / centre[2] == pytest.approx([4.0, 3.0])
    out = tmp_path / "again.yaml"
    dump_store(cfg, out)
    text = out.read_text()
    assert "# image width, pixels" in text  # written files explain their keys
    assert load_store(out).to_dict() == cfg.to_dict()


def test_optional_sections_take_defaults(store_dict, write_store):
    del store_dict["sensors"]
    del store_dict["detector"]["confidence"]
    cfg = load_store(write_store(store_dict))
    assert cfg.sensors.rate_hz == 60.0 and cfg.sensors.clock_offset_s == 0.0
    assert cfg.detector.confidence == 0.25


def _error(write_store, d) -> str:
    path = write_store(d)
    with pytest.raises(ConfigError) as info:
        load_store(path)
    msg = str(info.value)
    assert msg.startswith(str(path)), msg  # names the file
    assert "\n" not in msg  # one line
    return msg


def test_unknown_top_level_key(store_dict, write_store):
    store_dict["camra"] = {}
    msg = _error(write_store, store_dict)
    assert "camra: unknown key" in msg and "camera" in msg


def test_unknown_nested_key(store_dict, write_store):
    store_dict["shelves"][2]["plates"][1]["colour"] = "red"
    assert "shelves[2].plates[1].colour: unknown key" in _error(write_store, store_dict)


def test_missing_key(store_dict, write_store):
    del store_dict["camera"]["fps"]
    assert "camera.fps: missing required key" in _error(write_store, store_dict)


def test_missing_section(store_dict, write_store):
    del store_dict["zones"]
    assert "zones: missing required key" in _error(write_store, store_dict)


@pytest.mark.parametrize(
    "polygon, why",
    [
        ([[0, 0], [10, 0]], "at least 3"),
        ([[0, 0], [10, 0], [10, 10, 3]], "this point is"),
        ([[0, 0], [10, 0], ["a", 10]], "this point is"),
        ([[0, 0], [5, 5], [10, 10]], "no area"),
        ([[0, 0], [10, 10], [10, 0], [0, 10]], "cross"),
        ("everywhere", "at least 3"),
    ],
)
def test_non_polygon_zone(store_dict, write_store, polygon, why):
    store_dict["zones"]["exit"] = polygon
    msg = _error(write_store, store_dict)
    assert "zones.exit" in msg and "polygon" in msg and why in msg


def test_non_polygon_reach_zone(store_dict, write_store):
    store_dict["shelves"][0]["reach_zone"] = [[1, 1]]
    assert "shelves[0].reach_zone: expected a polygon" in _error(write_store, store_dict)


def test_plate_with_unknown_sku(store_dict, write_store):
    store_dict["shelves"][1]["plates"][0]["sku"] = "NOPE"
    msg = _error(write_store, store_dict)
    assert "shelves[1].plates[0].sku: unknown sku 'NOPE'" in msg


@pytest.mark.parametrize("key", ["weight_g", "weight_sd_g", "price"])
def test_negative_weight_or_price(store_dict, write_store, key):
    store_dict["catalogue"][3][key] = -5
    msg = _error(write_store, store_dict)
    assert f"catalogue[3].{key}: expected a number" in msg and "-5" in msg


def test_zero_unit_weight(store_dict, write_store):
    store_dict["catalogue"][0]["weight_g"] = 0
    assert "catalogue[0].weight_g: expected a number > 0" in _error(write_store, store_dict)


@pytest.mark.parametrize("conf", [1, 1.5, 25])
def test_a_confidence_threshold_of_one_or_more_is_refused(store_dict, write_store, conf):
    # a score is at most 1: such a threshold would keep no person (25 for 0.25, a slip)
    store_dict["detector"]["confidence"] = conf
    msg = _error(write_store, store_dict)
    assert f"detector.confidence: expected a number < 1, got {conf}" in msg


def test_track_confidence_defaults_to_confidence_and_may_not_exceed_it(store_dict,
                                                                      write_store):
    store_dict["detector"]["confidence"] = 0.45
    store_dict["detector"].pop("track_confidence", None)
    assert load_store(write_store(store_dict)).detector.track_floor == 0.45
    store_dict["detector"]["track_confidence"] = 0.25
    cfg = load_store(write_store(store_dict))
    assert (cfg.detector.confidence, cfg.detector.track_floor) == (0.45, 0.25)
    store_dict["detector"]["track_confidence"] = 0.5
    msg = _error(write_store, store_dict)
    assert "detector.track_confidence: expected at most detector.confidence (0.45)" in msg


def test_wrong_type(store_dict, write_store):
    store_dict["camera"]["width"] = "wide"
    assert "camera.width: expected an integer, got 'wide'" in _error(write_store, store_dict)


def test_duplicate_ids(store_dict, write_store):
    store_dict["shelves"][1]["plates"][0]["id"] = store_dict["shelves"][0]["plates"][0]["id"]
    assert "duplicate plate id" in _error(write_store, store_dict)


def test_singular_homography(store_dict, write_store):
    store_dict["camera"]["homography"] = [[1, 0, 0], [2, 0, 0], [0, 0, 1]]
    assert "camera.homography: expected an invertible" in _error(write_store, store_dict)


def test_invalid_yaml_names_the_line(tmp_path):
    path = tmp_path / "store.yaml"
    path.write_text("camera:\n  width: 640\n  height: [480\n")
    with pytest.raises(ConfigError, match=r"store.yaml: line \d+: invalid YAML"):
        load_store(path)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        load_store(tmp_path / "nothing.yaml")


def test_from_dict_rejects_non_mapping():
    with pytest.raises(ConfigError, match="expected a mapping"):
        StoreConfig.from_dict([1, 2, 3], "inline")


def _walkout(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "walkout", *args], capture_output=True,
                          text=True, timeout=120)


def test_cli_exits_2_with_one_line_and_no_traceback(store_dict, write_store):
    store_dict["shelves"][0]["plates"][0]["sku"] = "GHOST"
    path = write_store(store_dict)
    res = _walkout("validate", str(path))
    assert res.returncode == 2
    assert "Traceback" not in res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and str(path) in lines[0] and "GHOST" in lines[0]


def test_cli_validate_ok(store_dict, write_store):
    res = _walkout("validate", str(write_store(store_dict)))
    assert res.returncode == 0, res.stderr
    assert "8 shelves, 24 plates" in res.stdout
