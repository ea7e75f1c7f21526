"""One run per output folder, and a ledger that is checked whole (issue 26, part 3): a
second run into a busy folder is refused, a ledger longer than the rerun or damaged is a
one-line error that touches nothing, and temporary files a killed run left are cleaned."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, cut_video

from walkout.carts import Ledger
from walkout.cli import main


def files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def test_a_second_run_into_a_busy_folder_is_refused(short_clip, tmp_path, capsys):
    out = tmp_path / "o"
    busy = Ledger(out / "cart_ledger.jsonl")  # another run holds the folder
    try:
        before = files(out)
        capsys.readouterr()
        assert main(["-q", "run", str(short_clip), "--out", str(out)]) == 2
        err = capsys.readouterr().err.strip()
        assert err == (f"walkout: error: {out}: another walkout run is writing into this "
                       "folder (expected one run per folder: wait for it to end, or use "
                       "another --out)")
        assert files(out) == before
    finally:
        busy.close()
    assert main(["-q", "run", str(short_clip), "--out", str(out)]) == 0  # free again


def test_two_runs_started_together_never_write_one_ledger_twice(short_clip, tmp_path):
    out = tmp_path / "o"
    cmd = [sys.executable, "-m", "walkout", "-q", "run", str(short_clip), "--out", str(out)]
    procs = [subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(2)]
    results = [(p.wait(timeout=300), p.stderr.read()) for p in procs]
    for p in procs:
        p.stdout.close()
        p.stderr.close()
    codes = sorted(code for code, _ in results)
    assert codes in ([0, 0], [0, 2]), results  # the second either waited its turn or failed
    if codes == [0, 2]:
        assert "another walkout run is writing into this folder" in \
            next(err for code, err in results if code == 2)
    seqs = [json.loads(ln)["seq"] for ln in (out / "cart_ledger.jsonl").read_text().splitlines()]
    assert seqs == list(range(1, len(seqs) + 1))  # every operation once, in order


def test_a_ledger_longer_than_the_rerun_is_refused_and_nothing_is_touched(
        short_clip, tmp_path, capsys):
    clip = tmp_path / "clip"
    shutil.copytree(short_clip, clip)
    out = tmp_path / "o"
    assert main(["-q", "run", str(clip), "--out", str(out)]) == 0
    capsys.readouterr()
    before = files(out)
    # the same input path now holds a shorter video: its run replays only a prefix
    cut_video(short_clip / "video.mp4", clip / "video.mp4", 5.0)
    assert main(["-q", "run", str(clip), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "more operation(s) than this run made" in err[0], err
    assert files(out) == before  # receipts.json and the ledger as the longer run left them


def test_a_damaged_ledger_is_one_line(short_clip, tmp_path, capsys):
    out = tmp_path / "o"
    assert main(["-q", "run", str(short_clip), "--out", str(out)]) == 0
    capsys.readouterr()
    ledger = out / "cart_ledger.jsonl"
    ledger.write_bytes(ledger.read_bytes().replace(b'"open"', b'"op\xffn"', 1))
    before = files(out)
    assert main(["-q", "run", str(short_clip), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"walkout: error: {ledger}: line 1: not UTF-8 text")
    assert files(out) == before


def test_temporary_files_of_a_killed_run_are_cleaned(short_clip, tmp_path):
    out = tmp_path / "o"
    assert main(["-q", "run", str(short_clip), "--out", str(out)]) == 0
    stray = [out / ".receipts.json.k2x9.tmp", out / ".annotated.q1w2.tmp.mp4"]
    for p in stray:
        p.write_bytes(b"half")
    (out / "notes.tmp").write_text("mine")  # not walkout's: left alone
    assert main(["-q", "run", str(short_clip), "--out", str(out)]) == 0
    assert not any(p.exists() for p in stray)
    assert (out / "notes.tmp").read_text() == "mine"


# ---- network input (issue 26, part 2) ------------------------------------------------------
def _rows(asm, until: float):
    block = asm.rows_until(until)
    return (block.t.tolist(), block.grams.tolist()) if block is not None else ([], [])


def test_the_reported_hostile_lines_are_counted_not_raised():
    from walkout.sensors.live import LineAssembler

    asm = LineAssembler(["G1S1P1", "G1S1P2"], rate_hz=10.0)
    # a reading at t = -1e300, then a normal one: was a ValueError that ended `walkout live`
    asm.feed("G1S1P1 100 -1e300", 0.0)
    asm.feed("G1S1P1 101", 0.05)
    # 60 KB of nested JSON: was a RecursionError that killed the scale thread
    asm.feed("{" * 30000 + "}" * 30000, 0.06)
    asm.feed('{"plates": ' * 5000 + "1" + "}" * 5000, 0.06)
    # one reading at t = 1e300: every later reading was then "out of order"
    asm.feed("G1S1P1 99 1e300", 0.07)
    asm.feed("G1S1P2 7e307", 0.08)           # grams beyond any shelf
    asm.feed("G1S1P2 250", 0.09)
    asm.feed("G1S1P1 102", 0.15)
    t, grams = _rows(asm, 0.2)
    assert t == pytest.approx([0.05, 0.15]) and grams[-1] == [102.0, 250.0]
    st = asm.stats
    assert (st.out_of_range, st.bad_lines) == (3, 2)


def _hostile_lines(rng, n: int) -> list[str]:
    """Seeded nonsense of every kind a network can deliver."""
    kinds = [
        lambda: "G1S1P1 " + rng.choice(["1e400", "-1e308", "nan", "inf", "1e7", "x"]),
        lambda: f"G1S1P1 100 {rng.choice(['1e300', '-1e300', '1e15', '-50', 'nan'])}",
        lambda: "{" * int(rng.integers(3, 40000)),
        lambda: "[" * int(rng.integers(1, 40000)) + "]" * 3,
        lambda: '{"plate": "G1S1P1", "g": ' + rng.choice(['"12"x', "[1]", "{}", "true",
                                                           "1e999", "null"]) + "}",
        lambda: '{"plates": ' + rng.choice(['[1, 2]', '"abc"', '{"G1S1P1": {"a": 1}}']) + "}",
        lambda: "Z9Z9 " + str(rng.normal(300, 50)),
        lambda: "A" * int(rng.integers(9000, 70000)),
        lambda: bytes(rng.integers(0, 256, int(rng.integers(1, 300)), dtype=np.uint8)
                      ).decode("utf-8", errors="replace"),
        lambda: " ".join(["G1S1P1"] * int(rng.integers(4, 50))),
    ]
    return [kinds[int(rng.integers(len(kinds)))]() for _ in range(n)]


def test_ten_thousand_hostile_lines_leave_the_rows_unchanged():
    from walkout.sensors.live import LineAssembler

    rng = np.random.default_rng(26)
    real = [(0.02 * k, f"G1S1P{1 + k % 2} {300 + (k // 50) * 25 + (k % 2)}")
            for k in range(500)]                  # a board: 50 readings a second, 10 s
    clean, attacked = LineAssembler(["G1S1P1", "G1S1P2"], 60.0), \
        LineAssembler(["G1S1P1", "G1S1P2"], 60.0)
    for t, line in real:
        clean.feed(line, t)
    hostile = _hostile_lines(rng, 10_000)
    at = np.sort(rng.uniform(0, 10, len(hostile)))
    events = sorted([(t, 0, line) for t, line in real] +
                    [(float(t), 1, line) for t, line in zip(at, hostile)])
    for t, _, line in events:
        attacked.feed(line, t)
    assert _rows(attacked, 10.0) == _rows(clean, 10.0)
    st = attacked.stats
    assert st.bad_lines + st.out_of_range + st.unknown_plates + st.filled >= 9_000


def test_signed_datagrams_only_with_a_key():
    import socket

    from walkout.sensors.live import UdpLines, sign, signed_payload

    key = b"s3cret"
    good = sign(b"G1S1P1 100\nG1S1P2 50\n", key)
    assert signed_payload(good, key) == b"G1S1P1 100\nG1S1P2 50"
    assert signed_payload(good, b"other") is None
    assert signed_payload(b"G1S1P1 100\n", key) is None
    assert signed_payload(good.replace(b"100", b"900"), key) is None  # tampered
    lines = UdpLines("127.0.0.1", 0, timeout=1.0, key=key)
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
            tx.sendto(b"G1S1P1 999\n", lines.address)          # unsigned: dropped
            tx.sendto(good, lines.address)
        assert lines.read() == []
        assert lines.read() == ["G1S1P1 100", "G1S1P2 50"]
        assert lines.unauthenticated == 1
    finally:
        lines.close()


def test_listening_beyond_this_machine_is_said(caplog):
    from walkout.sensors.live import UdpLines

    with caplog.at_level("WARNING"):
        UdpLines("0.0.0.0", 0).close()
        UdpLines("127.0.0.1", 0).close()
    said = [r.getMessage() for r in caplog.records]
    assert len(said) == 1 and "listens beyond this machine" in said[0] and "?key=" in said[0]


def test_a_bad_port_is_one_line(tmp_path, capsys):
    store = ROOT / "walkout" / "stores" / "webcam.yaml"
    for url in ("udp://localhost:99999", "udp://localhost:0", "serial:///dev/x?baud=abc"):
        assert main(["weight-events", url, "--store", str(store), "--seconds", "0.1",
                     "--out", str(tmp_path / "e.jsonl")]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and err.startswith(f"walkout: error: {url}: expected")


def test_the_live_scale_thread_survives_hostile_datagrams():
    import socket
    import time

    from walkout.config import load_store
    from walkout.live import LineScale

    store = load_store(ROOT / "walkout" / "stores" / "webcam.yaml")
    plate = store.plate_ids[0]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:  # a free port
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    t0 = time.monotonic()
    scale = LineScale(f"udp://127.0.0.1:{port}", store, lambda: time.monotonic() - t0)
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
            for bad in (b"{" * 60000, f"{plate} 100 -1e300".encode(), b"\xff\xfe" * 100,
                        b"[" * 60000):
                tx.sendto(bad, scale.lines.address)
            for k in range(5):
                tx.sendto(f"{plate} {200 + k}".encode(), scale.lines.address)
                time.sleep(0.02)
        time.sleep(0.2)
        assert scale._thread.is_alive()
        block = scale.rows_until(time.monotonic() - t0)
        assert block is not None and block.grams[-1][0] == 204
        assert scale.asm.stats.bad_lines >= 3 and scale.asm.stats.out_of_range == 1
    finally:
        scale.close()


# ---- model files (issue 26, part 1) --------------------------------------------------------
class _Payload:
    """What a hostile checkpoint carries: unpickling it runs a shell command."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        import os

        return (os.system, (f"touch {self.marker}",))


def _checkpoint(tmp_path: Path, name: str, extra: dict) -> Path:
    import torch

    ckpt = torch.load(ROOT / "models" / "walkout-sim.pt", weights_only=False)  # shipped
    ckpt.update(extra)
    path = tmp_path / name
    torch.save(ckpt, path)
    return path


def test_a_checkpoint_that_runs_code_is_refused_trusted_or_not(tmp_path, capsys):
    marker = tmp_path / "pwned"
    evil = _checkpoint(tmp_path, "evil.pt", {"x": _Payload(marker)})
    for trust in ([], ["--trust-model"]):
        assert main(["-q", "run", "--model", str(evil), "--backend", "torch", *trust,
                     "--out", str(tmp_path / "o")]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1
        assert ("refused even with --trust-model: its pickle calls posix.system" in err
                if trust else "not a model shipped with walkout" in err)
    assert not marker.exists() and not (tmp_path / "o").exists()


def test_a_trusted_checkpoint_loads_and_the_run_says_so(tmp_path, caplog):
    from walkout.detect import Detector

    mine = _checkpoint(tmp_path, "mine.pt", {"date": "2026-12-05"})  # a user's fine-tune
    with caplog.at_level("WARNING"):
        det = Detector(mine, trusted=True, device="cpu").load()
    assert det.backend == "torch" and det.names == {0: "person"}
    said = [r.getMessage() for r in caplog.records]
    assert len(said) == 1 and "not a shipped model; loading it as trusted" in said[0]


def test_a_shipped_model_needs_no_trust_wherever_it_lies(tmp_path):
    from walkout.detect import Detector

    copy = tmp_path / "renamed.pt"
    shutil.copy(ROOT / "models" / "walkout-sim.pt", copy)
    assert Detector(copy, device="cpu").load().names == {0: "person"}


def test_a_store_model_never_resolves_against_the_current_folder(tmp_path, monkeypatch):
    from walkout.cli import make_detector
    from walkout.config import load_store

    (tmp_path / "models").mkdir()
    for name in ("walkout-sim.pt", "walkout-sim.onnx"):  # look-alikes in the working folder
        (tmp_path / "models" / name).write_bytes(b"not the shipped model")
    monkeypatch.chdir(tmp_path)
    store = load_store(ROOT / "sample_videos" / "pair" / "store.yaml")
    assert make_detector(store, None, "auto", "cpu").path == ROOT / "models" / "walkout-sim.onnx"
    assert make_detector(store, None, "torch", "cpu").path == ROOT / "models" / "walkout-sim.pt"
    # beside its store.yaml it does resolve: a store may ship its own model
    clip = tmp_path / "clip"
    shutil.copytree(ROOT / "sample_videos" / "pair", clip)
    (clip / "models").mkdir()
    for name in ("walkout-sim.pt", "walkout-sim.onnx"):
        shutil.copy(ROOT / "models" / name, clip / "models" / name)
    store = load_store(clip / "store.yaml")
    assert make_detector(store, None, "onnx", "cpu").path == \
        clip / "models" / "walkout-sim.onnx"


def test_detector_trust_in_a_store_is_a_boolean(store_dict, write_store):
    from walkout.config import load_store
    from walkout.errors import ConfigError

    store_dict["detector"]["trust"] = "yes"
    with pytest.raises(ConfigError, match=r"detector\.trust: expected true or false"):
        load_store(write_store(store_dict))
    store_dict["detector"]["trust"] = True
    assert load_store(write_store(store_dict)).detector.trust is True


# ---- flat memory (issue 26, part 5) --------------------------------------------------------
def test_row_spool_gives_rows_back_in_order_from_disk(tmp_path, monkeypatch):
    import walkout.spool as spool

    monkeypatch.setattr(spool, "CHUNK_ROWS", 5)  # read back across chunk edges
    rng = np.random.default_rng(7)
    parts = [rng.normal(size=(n, 7)) for n in (3, 0, 8, 1, 6)]
    on_disk, in_memory = spool.RowSpool(7, tmp_path), spool.RowSpool(7)
    for p in parts:
        on_disk.append(p)
        in_memory.append(p)
    assert list(tmp_path.iterdir()) == []  # an anonymous file: nothing left by a crash
    want = np.concatenate(parts)
    for s in (on_disk, in_memory):
        got = np.concatenate(list(s.chunks()))
        assert s.rows == 18 and np.array_equal(got, want)
    on_disk.append(parts[0])  # appending after reading goes on at the end
    assert np.array_equal(np.concatenate(list(on_disk.chunks()))[-3:], parts[0])
    on_disk.close()


# ---- videos and ledgers (issue 26, part 6) -------------------------------------------------
@pytest.mark.parametrize("case", ["garbage", "empty", "text", "folder-of-junk", "junk-frame"])
def test_a_damaged_video_is_one_line_and_nothing_is_written(case, short_clip, tmp_path,
                                                            capsys):
    rng = np.random.default_rng(3)
    clip = tmp_path / "clip"
    shutil.copytree(short_clip, clip)
    video = clip / "video.mp4"
    source = clip
    if case == "garbage":
        video.write_bytes(rng.integers(0, 256, 20000, dtype=np.uint8).tobytes())
    elif case == "empty":
        video.write_bytes(b"")
    elif case == "text":
        video.write_text("this is not a video\n")
    else:  # a folder of images, one of them damaged
        import cv2

        source = tmp_path / "frames"
        source.mkdir()
        cap = cv2.VideoCapture(str(short_clip / "video.mp4"))
        for k in range(5):
            cv2.imwrite(str(source / f"{k:03d}.jpg"), cap.read()[1])
        cap.release()
        bad = source / ("000.jpg" if case == "folder-of-junk" else "003.jpg")
        bad.write_bytes(rng.integers(0, 256, 3000, dtype=np.uint8).tobytes())
    out = tmp_path / "o"
    code = main(["-q", "run", str(source), "--store", str(clip / "store.yaml"),
                 "--weights", "none", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert err.startswith("walkout: error: ") and "Traceback" not in err
    assert not out.exists()


@pytest.mark.parametrize("case", ["other-op", "not-json", "torn", "empty"])
def test_a_ledger_edited_by_hand_is_refused_or_resumed(case, short_clip, tmp_path, capsys):
    out = tmp_path / "o"
    assert main(["-q", "run", str(short_clip), "--out", str(out)]) == 0
    capsys.readouterr()
    ledger = out / "cart_ledger.jsonl"
    lines = ledger.read_text().splitlines(keepends=True)
    first = (out / "receipts.json").read_bytes()
    edited = {"other-op": [lines[0].replace('"open"', '"close"'), *lines[1:]],
              "not-json": ["{not json\n", *lines[1:]],
              "torn": [*lines[:-1], lines[-1][:7]],      # a kill in mid-write
              "empty": []}[case]
    ledger.write_text("".join(edited))
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    code = main(["-q", "run", str(short_clip), "--out", str(out)])
    err = capsys.readouterr().err
    if case in ("torn", "empty"):  # a rerun finishes the ledger: the same receipts
        assert code == 0 and (out / "receipts.json").read_bytes() == first
        assert ledger.read_text() == "".join(lines)
    else:
        assert code == 2 and "line 1: the ledger already there records another run" in err
        assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before


def test_ten_thousand_hostile_datagrams_leave_the_receipts_unchanged(tmp_path):
    # the sample clip's shelf weights sent as a board would (a row a datagram, on the
    # stream clock) through the live line assembler, once clean and once among 10,000
    # hostile datagrams: the whole pipeline must give the same receipts and events
    import json as _json

    from walkout.cli import make_detector
    from walkout.config import load_store
    from walkout.io import read_weights_csv
    from walkout.pipeline import Pipeline
    from walkout.sensors.live import LineAssembler
    from walkout.sources import open_source

    clip = ROOT / "sample_videos" / "pair"
    store = load_store(clip / "store.yaml")
    frames = list(open_source(clip))
    detector = make_detector(store, None, "auto", "cpu")
    boxes = [detector(f.image) for f in frames]
    table = read_weights_csv(clip / "weights.csv")
    board = [(float(t), _json.dumps({"t": float(t), "plates": dict(zip(table.plate_ids,
                                                                      map(float, row)))}))
             for t, row in zip(table.t, table.grams)]
    rng = np.random.default_rng(2612)
    hostile = _hostile_lines(rng, 10_000)
    hostile_t = np.sort(rng.uniform(0, float(table.t[-1]), len(hostile)))

    def run(lines: list[tuple[float, int, str]]) -> tuple[str, str]:
        replayed = iter(boxes)  # the detections, computed once
        pipe = Pipeline(store, lambda image: next(replayed))
        asm = LineAssembler(list(store.plate_ids), store.sensors.rate_hz)
        k = 0
        for frame in frames:
            while k < len(lines) and lines[k][0] <= frame.t:
                asm.feed(lines[k][2], lines[k][0])
                k += 1
            block = asm.rows_until(min(frame.t, asm.now))
            if block is not None:
                pipe.weights(block)
            pipe.frame(frame)
        pipe.finish()
        receipts = _json.dumps([r.to_dict() for r in pipe.carts.receipts])
        return receipts, pipe.events_text()

    clean = run([(t, 0, line) for t, line in board])
    attacked = run(sorted([(t, 0, line) for t, line in board] +
                          [(float(t), 1, line) for t, line in zip(hostile_t, hostile)]))
    bought = [line["sku"] for r in json.loads(clean[0]) for line in r["lines"]]
    assert len(bought) >= 4 and attacked == clean  # shelf events came through the board


@pytest.mark.parametrize("row, why", [(b"\xff\xfe,1\n", b"not UTF-8 text"),
                                      (b"1e15" + b",1" * 24 + b"\n", b"expected times within"),
                                      (b"99" + b",1e308" * 24 + b"\n", b"grams within")])
def test_check_clip_reads_a_damaged_weights_file_as_a_problem(row, why, short_clip, tmp_path,
                                                              capsys):
    clip = tmp_path / "clip"
    shutil.copytree(short_clip, clip)
    with (clip / "weights.csv").open("ab") as fh:
        fh.write(row)
    assert main(["check-clip", str(clip)]) == 1
    out = capsys.readouterr().out
    assert why.decode() in out and "Traceback" not in out


def _weights_with(clip: Path, dest: Path, rename=None, keep=None) -> None:
    """``clip`` copied to ``dest`` with its weights.csv's plate columns renamed or kept."""
    shutil.copytree(clip, dest)
    lines = (clip / "weights.csv").read_text().splitlines()
    header = lines[0].split(",")
    cols = [0] + [k for k, h in enumerate(header) if k and (keep is None or h in keep)]
    head = [header[k] if k == 0 or rename is None else rename(header[k]) for k in cols]
    rows = [",".join(head)] + [",".join(ln.split(",")[k] for k in cols) for ln in lines[1:]]
    (dest / "weights.csv").write_text("\n".join(rows) + "\n")


def test_weights_of_another_store_are_one_line_and_nothing_is_written(short_clip, tmp_path,
                                                                      capsys):
    clip = tmp_path / "clip"
    _weights_with(short_clip, clip, rename=lambda h: "X" + h[1:])  # G1S1P1 -> X1S1P1
    out = tmp_path / "o"
    capsys.readouterr()
    assert main(["-q", "run", str(clip), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"walkout: error: {clip / 'weights.csv'}: none of its 24 plates "
                          "(X1S1P1, X1S1P2, X1S1P3 and 21 more) is a plate of ")
    assert "(expected its plate ids: G1S1P1, G1S1P2, G1S1P3 and 21 more)" in err
    assert "\n" not in err and not out.exists()


def test_weights_lacking_some_plates_say_which_and_the_others_still_count(short_clip,
                                                                          tmp_path, capsys):
    header = (short_clip / "weights.csv").read_text().splitlines()[0].split(",")[1:]
    kept = [h for h in header if not h.startswith("G4S2")]   # a shelf with a take left out
    clip = tmp_path / "clip"
    _weights_with(short_clip, clip, keep=set(kept))
    full, part = tmp_path / "full", tmp_path / "part"
    assert main(["-q", "run", str(short_clip), "--out", str(full)]) == 0
    capsys.readouterr()
    assert main(["-q", "run", str(clip), "--out", str(part)]) == 0
    err = capsys.readouterr().err
    assert (f"walkout: warning: {clip / 'weights.csv'}: 3 of the store's plates are not in "
            "it (G4S2P1, G4S2P2, G4S2P3): those plates give no weight events") in err

    def events(folder):
        return [json.loads(ln) for ln in (folder / "events.jsonl").read_text().splitlines()]
    gone = [e for e in events(full) if e["shelf_id"] == "G4S2"]
    assert [e["type"] for e in gone] == ["weight", "item", "unattributed"]
    assert events(part) == [e for e in events(full) if e not in gone]  # the rest as before


def test_weights_with_no_samples_are_one_line(short_clip, tmp_path, capsys):
    clip = tmp_path / "clip"
    shutil.copytree(short_clip, clip)
    header = (short_clip / "weights.csv").read_text().splitlines()[0]
    (clip / "weights.csv").write_text(header + "\n")   # an export cut after its header
    out = tmp_path / "o"
    capsys.readouterr()
    assert main(["-q", "run", str(clip), "--out", str(out)]) == 2
    assert capsys.readouterr().err.strip() == (
        f"walkout: error: {clip / 'weights.csv'}: no samples (expected rows of a time and "
        "each plate's grams after the header; run without weights with --weights none)")
    assert not out.exists()


def test_weights_on_another_clock_than_the_video_are_one_line(short_clip, tmp_path, capsys):
    """A scale that stamps epoch seconds and a video counted from 0, with no
    clock offset in store.yaml: not one sample falls in the video's time."""
    clip = tmp_path / "clip"
    shutil.copytree(short_clip, clip)
    lines = (short_clip / "weights.csv").read_text().splitlines()
    rows = [lines[0]] + [f"{float(ln.split(',', 1)[0]) + 1.7e9:.4f},{ln.split(',', 1)[1]}"
                         for ln in lines[1:]]
    (clip / "weights.csv").write_text("\n".join(rows) + "\n")
    out = tmp_path / "o"
    capsys.readouterr()
    assert main(["-q", "run", str(clip), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        f"walkout: error: {clip / 'weights.csv'}: no time in common with the video: its "
        "samples run 1700000000.0-1700000040.0 s, the video 0.0-9.9 s (expected the "
        "store's sensors.clock_offset_s to put them on one clock: t_video = t_weights + "
        "offset)")
    assert not out.exists()
