"""Malformed store descriptions through the real command line (issue 26, part 4): every one
is exit code 2 and one bounded line, never a traceback, a hang or gigabytes, and a run
given one writes nothing."""

from __future__ import annotations

import copy
import time

import numpy as np
import pytest
import yaml
from conftest import make_store_dict

from walkout.cli import main

BIG = 10**400  # an integer of 401 digits: float() of it overflows


def _set(d: dict, path: str, value) -> dict:
    d = copy.deepcopy(d)
    keys = [int(k) if k.isdigit() else k for k in path.split(".")]
    node = d
    for k in keys[:-1]:
        node = node[k]
    node[keys[-1]] = value
    return d


# (key path, values that are all wrong there): every pair is one case
BAD_VALUES = [
    ("camera.width", [0, -640, 16385, BIG, 640.5, "640", None, [640], True]),
    ("camera.height", [0, 100000, BIG, "x"]),
    ("camera.fps", [0, -10, 1e300, BIG, 1001, float("nan"), float("inf"), "ten"]),
    ("sensors.rate_hz", [0, 1e-300, 0.5, 1e300, BIG, -60, "60 Hz"]),
    ("sensors.clock_offset_s", [1e300, -1e300, BIG, float("nan"), "0"]),
    ("detector.imgsz", [200000, 31, BIG, 416.0, "416"]),
    ("detector.confidence", [1, 1.5, -0.1, BIG, "0.25"]),
    ("detector.person_classes", [[], [-1], [BIG], ["0"], "0"]),
    ("detector.trust", ["yes", 1, None]),
    ("catalogue.0.weight_g", [0, -5, 1e7, BIG, "50 g"]),
    ("catalogue.0.price", [-1, 1e13, BIG]),
    ("shelves.0.plates.0.units", [-1, 10**7, BIG, 1.5]),
    ("zones.exit", [[[0, 0], [BIG, 0], [0, 10]], [[0, 0], [1e300, 0], [0, 10]],
                    [[0, 0], [10, 0]], [[0, 0], [5, 5], [10, 10]], "everywhere",
                    [[0, 0], [10, 10], [10, 0], [0, 10]]]),
]
CASES = [(f"{key}={value!r:.30}", key, value) for key, values in BAD_VALUES
         for value in values]


def _check_one_line_exit_2(argv, capsys) -> str:
    code = main(argv)
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert code == 2, err
    assert len(lines) == 1 and lines[0].startswith("walkout: error: "), err[:500]
    assert len(lines[0]) <= 400 and "Traceback" not in err
    return lines[0]


@pytest.mark.parametrize("name, key, value", CASES, ids=[c[0] for c in CASES])
def test_a_wrong_value_is_one_line_naming_its_key(name, key, value, tmp_path, capsys):
    path = tmp_path / "store.yaml"
    path.write_text(yaml.safe_dump(_set(make_store_dict(), key, value), sort_keys=False))
    line = _check_one_line_exit_2(["validate", str(path)], capsys)
    assert key.split(".")[0] in line


def _write(tmp_path, text: str | bytes):
    path = tmp_path / "store.yaml"
    (path.write_bytes if isinstance(text, bytes) else path.write_text)(text)
    return path


def _valid_text() -> str:
    return yaml.safe_dump(make_store_dict(), sort_keys=False)


def test_a_yaml_alias_bomb_is_refused_at_once(tmp_path, capsys):
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 10):
        prev = chr(ord("a") + i - 1)
        cur = chr(ord("a") + i)
        lines.append(f"{cur}: &{cur} [{', '.join(['*' + prev] * 9)}]")
    path = _write(tmp_path, "\n".join(lines) + "\n" + _valid_text())
    t0 = time.perf_counter()
    line = _check_one_line_exit_2(["validate", str(path)], capsys)
    assert "a YAML alias" in line and time.perf_counter() - t0 < 5


def test_a_key_given_twice_is_refused(tmp_path, capsys):
    text = _valid_text()
    camera = text[text.index("camera:"):text.index("sensors:")]
    path = _write(tmp_path, text + camera.replace("640", "1280"))
    assert "duplicate key 'camera'" in _check_one_line_exit_2(["validate", str(path)], capsys)


@pytest.mark.parametrize("case", ["binary", "nested", "huge", "empty", "list", "tabs"])
def test_files_that_are_not_a_store(case, tmp_path, capsys):
    text = {"binary": b"\xff\xfe\x00camera:\n",
            "nested": "a: " + "[" * 100000,
            "huge": "name: " + "x" * (11 * 1024 * 1024) + "\n",
            "empty": "",
            "list": "- 1\n- 2\n",
            "tabs": "camera:\n\twidth: 640\n"}[case]
    _check_one_line_exit_2(["validate", str(_write(tmp_path, text))], capsys)


def test_a_large_polygon_is_refused_quickly(tmp_path, capsys):
    angles = np.linspace(0, 2 * np.pi, 6000, endpoint=False)
    ring = [[float(320 + 100 * np.cos(a)), float(240 + 100 * np.sin(a))] for a in angles]
    path = tmp_path / "store.yaml"
    path.write_text(yaml.safe_dump(_set(make_store_dict(), "zones.exit", ring)))
    t0 = time.perf_counter()
    line = _check_one_line_exit_2(["validate", str(path)], capsys)
    assert "at most 1000" in line and time.perf_counter() - t0 < 5


def test_generated_mutations_are_errors_or_valid_never_a_traceback(tmp_path, capsys):
    # seeded: a random scalar of a valid store replaced by a random hostile value; each
    # either validates (a value that happens to be fine) or is one line and exit 2
    rng = np.random.default_rng(2026)
    base = make_store_dict()
    paths = []

    def walk(node, prefix):
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for k, v in items:
            p = f"{prefix}.{k}" if prefix else str(k)
            if isinstance(v, (dict, list)):
                walk(v, p)
            else:
                paths.append(p)

    walk(base, "")
    hostile = [BIG, -BIG, 1e308, -1e-308, float("nan"), "", "x" * 10000, None, True, [],
               {}, [[1, 2]], -1, 0, 10**9, "\u202e", 1e-300]
    outcomes = {0: 0, 2: 0}
    for k in range(60):
        key = paths[int(rng.integers(len(paths)))]
        value = hostile[int(rng.integers(len(hostile)))]
        path = tmp_path / f"s{k}.yaml"
        try:
            path.write_text(yaml.safe_dump(_set(base, key, value), sort_keys=False))
        except (KeyError, IndexError, TypeError):
            continue
        code = main(["validate", str(path)])
        cap = capsys.readouterr()
        assert code in (0, 2) and "Traceback" not in cap.err
        if code == 2:
            lines = cap.err.strip().splitlines()
            assert len(lines) == 1 and len(lines[0]) <= 400
        outcomes[code] += 1
    assert outcomes[2] >= 40  # nearly every hostile value is refused


def test_a_run_with_a_bad_store_writes_nothing(tmp_path, capsys):
    from conftest import ROOT

    path = tmp_path / "store.yaml"
    path.write_text(yaml.safe_dump(_set(make_store_dict(), "camera.fps", BIG)))
    out = tmp_path / "out"
    _check_one_line_exit_2(["run", str(ROOT / "sample_videos" / "pair" / "video.mp4"),
                            "--store", str(path), "--out", str(out)], capsys)
    assert not out.exists()
