"""`walkout live`: a recorded clip as the camera with a scripted keyboard scale gives the
expected receipt; the newest-frame reader; the UDP scale on loopback; bad sources."""

from __future__ import annotations

import itertools
import json
import socket
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from walkout.cli import main
from walkout.config import load_store
from walkout.errors import InputError
from walkout.live import KeyboardScale, LineScale, LiveCamera, read_keys
from walkout.sensors import ItemIdentifier, Planogram, WeightEventDetector

ROOT = Path(__file__).resolve().parents[1]
SINGLE = ROOT / "sample_videos" / "single"
WEBCAM = ROOT / "walkout" / "stores" / "webcam.yaml"


@pytest.fixture
def single_store(tmp_path) -> Path:
    """The sample clip's store with shelf G2S2 first, so keys 1-3 are its three plates;
    the clip's shopper reaches into G2S2 plate 3 at 10.4 s."""
    raw = yaml.safe_load((SINGLE / "store.yaml").read_text())
    raw["shelves"].sort(key=lambda s: s["id"] != "G2S2")
    path = tmp_path / "store.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_live_on_a_recorded_clip_with_scripted_keys_gives_the_receipt(single_store, tmp_path,
                                                                       capsys):
    keys = tmp_path / "keys.txt"
    keys.write_text("# the shopper takes one P23 from G2S2\n10.4 3\n")
    out = tmp_path / "out"
    rc = main(["live", "--source", str(SINGLE / "video.mp4"), "--store", str(single_store),
               "--scale", "keyboard", "--keys", str(keys), "--headless", "--out", str(out),
               "--max-frames", "400", "--no-realtime", "--model", "models/walkout-sim.pt",
               "--classes", "0"])
    assert rc == 0
    text = capsys.readouterr().out
    assert "took one P23 (G2S2P3)" in text and "dropped 0 of 400" in text
    receipts = json.loads((out / "receipts.json").read_text())["receipts"]
    assert len(receipts) == 1
    r = receipts[0]
    assert [(x["sku"], x["qty"]) for x in r["lines"]] == [("P23", 1)] and r["flags"] == []
    assert r["total"] == pytest.approx(1.99)
    assert abs(r["exited_t"] - 34.8) < 1.0   # the clip's shopper leaves at 34.8 s
    assert (out / "annotated.mp4").stat().st_size > 10_000


def test_camera_not_found(tmp_path, capsys):
    rc = main(["live", "--source", "9", "--headless", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert rc == 2 and "camera 9: cannot open it" in err and "Traceback" not in err


def test_headless_needs_out(capsys):
    assert main(["live", "--source", str(SINGLE / "video.mp4"), "--headless"]) == 2
    assert "--out" in capsys.readouterr().err


def test_ambiguous_below_out_of_range(tmp_path, capsys):
    out = tmp_path / "o"
    rc = main(["live", "--source", str(SINGLE / "video.mp4"), "--headless", "--out", str(out),
               "--ambiguous-below", "-0.1"])
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert "--ambiguous-below: expected a confidence from 0 to 1, got -0.1" in err
    assert not out.exists()


def test_newest_frame_reader_drops_and_never_queues():
    cam = LiveCamera(str(SINGLE / "video.mp4"), realtime=True)  # plays at 10 fps
    try:
        got = []
        for _ in range(5):
            item = cam.read()
            got.append((item[0].index, time.monotonic() - cam.t0))
            time.sleep(0.35)  # a slow consumer: 3.5 frame periods per frame
        indices = [k for k, _ in got]
        assert cam.dropped >= 6
        # each frame read is the newest one, not the next in a queue
        assert all(b - a >= 3 for a, b in itertools.pairwise(indices))
        for k, t in got[1:]:
            assert k >= int(t * 10) - 2
        assert cam.captured - cam.dropped - len(got) <= 1   # at most one frame held
    finally:
        cam.close()


def test_every_frame_without_realtime():
    cam = LiveCamera(str(SINGLE / "video.mp4"), realtime=False)
    try:
        seen = []
        for _ in range(12):
            item = cam.read()
            seen.append(item[0].index)
            time.sleep(0.02)
        assert seen == list(range(12)) and cam.dropped == 0
    finally:
        cam.close()


def test_keyboard_scale_steps_are_found_by_the_event_detector():
    store = load_store(WEBCAM)
    scale = KeyboardScale(store, seed=3)
    plan = Planogram.from_store(store)
    det, ident = WeightEventDetector(plan.shelves, store.sensors.rate_hz), ItemIdentifier(plan)
    assert scale.press("2", 3.0) == "took one W2 (S1P2)"
    assert scale.press("shift+1", 6.0) == "put back one W1 (S1P1)"
    assert scale.press("x", 7.0) is None
    items = []
    for t in np.arange(0.5, 10.0, 0.5):
        block = scale.rows_until(float(t))
        for ev in det.update(block):
            items += ident.identify(ev)
    assert [(i.sku, i.qty) for i in items] == [("W2", 1), ("W1", -1)]
    assert abs(items[0].t - 3.15) < 0.3


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_udp_scale_on_loopback():
    store = load_store(WEBCAM)
    port = _free_port()
    t0 = time.monotonic()
    scale = LineScale(f"udp://127.0.0.1:{port}", store, lambda: time.monotonic() - t0)
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
            for _ in range(5):
                tx.sendto(b"S1P1 3170.5\nS1P2 1090.0\nS1P3 1490.0\nbogus\n",
                          ("127.0.0.1", port))
                time.sleep(0.05)
        time.sleep(0.1)
        block = scale.rows_until(time.monotonic() - t0)
        assert block is not None and len(block) >= 5
        assert block.plate_ids == tuple(store.plate_ids)
        assert block.grams[-1].tolist() == [3170.5, 1090.0, 1490.0]
        assert scale.asm.stats.bad_lines == 5
    finally:
        scale.close()


def test_key_script_errors_name_the_line(tmp_path):
    bad = tmp_path / "keys.txt"
    bad.write_text("1.0 1\nsoon 2\n")
    with pytest.raises(InputError, match="line 2"):
        read_keys(bad)
    bad.write_text("2 shift+1\n1 3\n")
    assert read_keys(bad) == [(1.0, "3"), (2.0, "shift+1")]


def test_webcam_store_scales_to_any_camera():
    store = load_store(WEBCAM)
    big = store.scaled(1280, 720)
    assert (big.camera.width, big.camera.height) == (1280, 720)
    assert big.shelves[0].polygon[:, 0].max() == 1280
    assert big.zones.exit[:, 1].max() == 720
    assert store.scaled(640, 480) is store
