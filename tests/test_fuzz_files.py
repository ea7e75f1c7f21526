"""Malformed input files through the real CLI: weights.csv, MOT detections, AiFi plate_data,
a labelled clip's gt/ and a prediction folder.

Every malformed file must give exit code 2 and exactly one line ``walkout: error: ...`` on
stderr (no traceback, at most 400 characters) naming the file, and leave the output given to
the command as it was. Values a reader accepts and counts (NaN grams, a tonne on a plate, a
time beyond the year 2286) must give exit code 0 and their count in the stats line. Generated
cases (seeded single-byte corruptions and truncations) are kept only where the damage must
be an error.
"""

from __future__ import annotations

import base64
import json
import random
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT

from walkout.cli import main
from walkout.evaluate import write_oracle_prediction
from walkout.io import MAX_FRAME, read_mot_detections

SINGLE = ROOT / "sample_videos" / "single"
NESTED = b'{"receipts": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
DIGITS_401 = b"1" * 401
DIGITS_5000 = b"1" * 5000
GARBAGE = b"x" * 100_000

Mutate = Callable[[bytes], bytes]


# ---- mutations of a file's bytes -------------------------------------------------------------
def line(k: int, new: bytes) -> Mutate:
    """Replace line ``k`` (1-based)."""
    def f(data: bytes) -> bytes:
        rows = data.split(b"\n")
        rows[k - 1] = new
        return b"\n".join(rows)
    return f


def append(new: bytes) -> Mutate:
    return lambda data: data.rstrip(b"\n") + b"\n" + new + b"\n"


def sub(old: bytes, new: bytes) -> Mutate:
    """Replace the first ``old``."""
    def f(data: bytes) -> bytes:
        assert old in data
        return data.replace(old, new, 1)
    return f


def put(new: bytes) -> Mutate:
    return lambda data: new


def poke(seed: int, alphabet: bytes, after_line: int = 0) -> Mutate:
    """One byte, from ``alphabet``, at a seeded position past the first ``after_line``
    lines."""
    def f(data: bytes) -> bytes:
        rng = random.Random(seed)
        start = sum(len(r) + 1 for r in data.split(b"\n")[:after_line])
        i = rng.randrange(start, len(data))
        return data[:i] + bytes([rng.choice(alphabet)]) + data[i + 1:]
    return f


def cut_columns(seed: int, keep_max: int, after_line: int = 0) -> Mutate:
    """End the file inside a seeded line, just after its k-th comma (k < ``keep_max``), so
    that its last line lacks columns."""
    def f(data: bytes) -> bytes:
        rng = random.Random(seed)
        rows = data.rstrip(b"\n").split(b"\n")
        k = rng.randrange(after_line, len(rows))
        commas = [i for i, c in enumerate(rows[k]) if c == ord(",")]
        return b"\n".join([*rows[:k], rows[k][:commas[rng.randrange(keep_max)] + 1]])
    return f


def cut_json(seed: int, lines: bool = False) -> Mutate:
    """End the file at a seeded point inside its JSON (inside a line's object for JSON
    lines), which can never be valid."""
    def f(data: bytes) -> bytes:
        rng = random.Random(seed)
        if not lines:
            return data[:rng.randrange(0, data.rindex(b"}"))]
        rows = data.rstrip(b"\n").split(b"\n")
        k = rng.randrange(len(rows))
        return b"\n".join([*rows[:k], rows[k][:rng.randrange(1, len(rows[k]))]])
    return f


def invalid_json_pokes(path: Path, n: int) -> list[Mutate]:
    """The first ``n`` seeded '#' pokes of a JSON file that Python's parser refuses (a poke
    inside a string can leave valid JSON, and is passed over)."""
    data, out, seed = path.read_bytes(), [], 0
    while len(out) < n:
        mutate, seed = poke(seed, b"#"), seed + 1
        try:
            json.loads(mutate(data))
        except ValueError:
            out.append(mutate)
    return out


# ---- the inputs: small valid files, written once -----------------------------------------------
def aifi_doc(k: int, rows: int = 12, grams: float = 500.0, **keys) -> bytes:
    """Document ``k`` of a gondola of 2 shelves x 3 plates at 60 Hz (AiFi pads row and column
    0 with NaN); ``keys`` ("a.b.c"-paths, dots as "__") replace values."""
    arr = np.full((rows, 3, 4), np.nan, "<f4")
    arr[:, 1:, 1:] = grams + np.arange(6).reshape(2, 3)
    doc = {"timestamp": 1_600_000_000.0 + 0.2 * (k + 1), "document": {"plate_data": {
        "plate_id": {"shelf_id": {"gondola_id": {"id": 1}}}, "freq_samp": 60.0,
        "values": {"shape": list(arr.shape), "data": base64.b64encode(arr.tobytes()).decode()}}}}
    raw = {}  # bytes values go in as they are: JSON that json.dumps would not write
    for i, (path, value) in enumerate(keys.items()):
        node = doc
        *up, last = path.split("__")
        for p in up:
            node = node[p]
        node[last] = f"@@{i}" if isinstance(value, bytes) else value
        if isinstance(value, bytes):
            raw[f'"@@{i}"'] = value.decode()
    text = json.dumps(doc)
    for key, value in raw.items():
        text = text.replace(key, value)
    return text.encode()


def aifi_set(folder: Path) -> None:
    products = [{"product_id": {"id": f"{100 + p}"}, "metadata": {"weight": 50.0 + 20 * p,
                                                                  "name": f"item {p}"}}
                for p in range(6)]
    planogram = [{"planogram_product_id": {"id": f"{100 + 3 * s + p}"}, "plate_ids": [
        {"shelf_id": {"gondola_id": {"id": 1}, "shelf_index": s + 1}, "plate_index": p + 1}]}
        for s in range(2) for p in range(3)]
    for name, docs in (("products.jsonl", products), ("planogram.jsonl", planogram)):
        (folder / name).write_text("".join(json.dumps(d) + "\n" for d in docs))
    (folder / "plate_data.jsonl").write_bytes(b"\n".join(aifi_doc(k) for k in range(10))
                                              + b"\n")


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("fuzz-base")
    rows = (SINGLE / "weights.csv").read_bytes().split(b"\n")
    (d / "weights.csv").write_bytes(b"\n".join(rows[:601]) + b"\n")  # 10 s at 60 Hz
    (d / "det.txt").write_text("".join(
        f"{f},-1,{10 + 3 * f + 200 * k:.2f},{40 + 2 * f:.2f},60.00,150.00,0.9,-1,-1,-1\n"
        for f in range(1, 41) for k in range(2)))
    aifi_set(d)
    clip = d / "clip" / "single"
    shutil.copytree(SINGLE, clip, ignore=shutil.ignore_patterns("video.mp4", "weights.csv"))
    write_oracle_prediction(clip, d / "pred" / "single")
    return d


# ---- the cases --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Case:
    kind: str          # csv | det | aifi | gt | pred
    target: str        # the file damaged (for gt and pred: under the clip / prediction)
    mutate: Mutate
    expect: str = ""   # in the error message, besides the file's name


def argv(case: Case, base: Path, tmp: Path) -> tuple[list[str], Path, Path]:
    """The command for ``case``, the file it damages and its output, all under ``tmp``."""
    out = tmp / ("scores.json" if case.kind in ("gt", "pred") else "out.txt")
    if case.kind in ("gt", "pred"):
        shutil.copytree(base / "clip", tmp / "clip")
        shutil.copytree(base / "pred", tmp / "pred")
        root = tmp / ("clip" if case.kind == "gt" else "pred") / "single"
        cmd = ["eval", "--clips", str(tmp / "clip" / "single"), "--pred", str(tmp / "pred"),
               "--json", str(out)]
        return cmd, root / case.target, out
    target = tmp / case.target
    shutil.copy(base / case.target, target)
    if case.kind == "csv":
        cmd = ["weight-events", str(target), "--store", str(SINGLE / "store.yaml")]
    elif case.kind == "det":
        cmd = ["track", "--det", str(target)]
    else:
        cmd = ["weight-events", str(target), "--format", "aifi", "--products",
               str(base / "products.jsonl"), "--planogram", str(base / "planogram.jsonl")]
    return [*cmd, "--out", str(out)], target, out


CSV, DET, AIFI = "weights.csv", "det.txt", "plate_data.jsonl"
GD = "document__plate_data__"
GID = GD + "plate_id__shelf_id__gondola_id__id"
FF = b"\xff"

ERRORS = {
    # weights.csv
    "csv-0xff-row": Case("csv", CSV, line(5, b"0.0667,28" + FF + b"7.3" + b",1" * 23),
                         "line 5: not UTF-8 text"),
    "csv-0xff-header": Case("csv", CSV, sub(b"G1S1P2", b"G1S1" + FF), "line 1: not UTF-8"),
    "csv-text-number": Case("csv", CSV, line(7, b"0.1,abc" + b",1" * 23), "line 7: expected"),
    "csv-columns": Case("csv", CSV, line(9, b"0.13,1,2"), "line 9: expected 25 columns"),
    "csv-header": Case("csv", CSV, line(1, b"time,G1S1P1"), "line 1: expected header"),
    "csv-duplicate-plate": Case("csv", CSV, sub(b"G1S1P2", b"G1S1P1"), "duplicate"),
    "csv-garbage-line": Case("csv", CSV, line(3, GARBAGE + b"," * 24), "line 3"),
    "csv-empty": Case("csv", CSV, put(b""), "line 1"),
    **{f"csv-poke-{s}": Case("csv", CSV, poke(s, b"x;#\xff", after_line=1)) for s in range(6)},
    **{f"csv-cut-{s}": Case("csv", CSV, cut_columns(s, 23, after_line=1), "columns")
       for s in range(4)},
    # MOT detections for `walkout track`
    "det-0xff": Case("det", DET, line(4, b"2,-1,2" + FF + b",1,60,150,0.9"),
                     "line 4: not UTF-8"),
    "det-frame-1e12": Case("det", DET, append(b"1000000000000,-1,10,10,60,150,0.9"),
                           "integer frame"),
    "det-frame-1e8": Case("det", DET, append(b"100000000,-1,10,10,60,150,0.9"), "line 81"),
    "det-frame-401-digits": Case("det", DET, append(DIGITS_401 + b",-1,1,1,6,15,0.9"),
                                 "finite"),
    "det-frame-0": Case("det", DET, line(1, b"0,-1,10,10,60,150,0.9"), "line 1"),
    "det-frame-half": Case("det", DET, line(2, b"1.5,-1,10,10,60,150,0.9"), "integer frame"),
    "det-frame-negative": Case("det", DET, line(2, b"-3,-1,10,10,60,150,0.9"), "frame"),
    "det-box-1e300": Case("det", DET, line(5, b"3,-1,1e300,1e300,1e300,1e300,0.9"), "box"),
    "det-box-far": Case("det", DET, line(5, b"3,-1,-200000,10,60,150,0.9"), "line 5: "),
    "det-id-1e10": Case("det", DET, line(5, b"3,10000000000,10,10,60,150,0.9"), "id"),
    "det-id-half": Case("det", DET, line(5, b"3,1.5,10,10,60,150,0.9"), "id"),
    "det-width-0": Case("det", DET, line(5, b"3,-1,10,10,0,150,0.9"), "width"),
    "det-backwards": Case("det", DET, append(b"2,-1,10,10,60,150,0.9"), "in order"),
    "det-nan": Case("det", DET, line(6, b"3,-1,nan,10,60,150,0.9"), "finite"),
    "det-columns": Case("det", DET, line(6, b"3,-1,10,10,60"), "columns"),
    "det-text": Case("det", DET, line(6, b"3,-1,ten,10,60,150,0.9"), "numbers"),
    "det-garbage-line": Case("det", DET, line(6, b"3," + GARBAGE + b",1,1,1,1,1"), "line 6"),
    **{f"det-poke-{s}": Case("det", DET, poke(s, b"#")) for s in range(4)},
    **{f"det-cut-{s}": Case("det", DET, cut_columns(s, 5), "columns") for s in range(2)},
    # AiFi plate_data JSON lines
    "aifi-0xff": Case("aifi", AIFI, line(2, aifi_doc(1)[:-2] + FF + b"}}"),
                      "line 2: not UTF-8"),
    "aifi-gondola-1e999": Case("aifi", AIFI, line(3, aifi_doc(2, **{GID: b"1e999"})),
                               "gondola_id.id: expected an integer"),
    "aifi-gondola-abc": Case("aifi", AIFI, line(3, aifi_doc(2, **{GID: "abc"})),
                             "gondola_id.id: expected an integer, got 'abc'"),
    "aifi-gondola-401-digits": Case("aifi", AIFI, line(3, aifi_doc(2, **{GID: DIGITS_401})),
                                    "gondola_id.id"),
    "aifi-gondola-5000-digits": Case("aifi", AIFI, line(3, aifi_doc(2, **{GID: DIGITS_5000})),
                                     "too many digits"),
    "aifi-gondola-0": Case("aifi", AIFI, line(3, aifi_doc(2, **{GID: 0})), "1..10,000"),
    "aifi-gondola-10001": Case("aifi", AIFI, line(3, aifi_doc(2, **{GID: 10001})), "gondola"),
    "aifi-gondola-half": Case("aifi", AIFI, line(3, aifi_doc(2, **{GID: 2.5})), "integer"),
    "aifi-gondola-bool": Case("aifi", AIFI, line(3, aifi_doc(2, **{GID: True})), "integer"),
    "aifi-array-line": Case("aifi", AIFI, line(4, b"[1, 2, 3]"), "line 4: expected a JSON obj"),
    "aifi-string-line": Case("aifi", AIFI, line(4, b'"abc"'), "expected a JSON object"),
    "aifi-nested": Case("aifi", AIFI, line(4, b"[" * 100_000), "nested too deeply"),
    "aifi-invalid-json": Case("aifi", AIFI, line(4, b"{not json"), "invalid JSON"),
    "aifi-rate-0": Case("aifi", AIFI, line(1, aifi_doc(0, **{GD + "freq_samp": 0})), "rate"),
    "aifi-rate-1e6": Case("aifi", AIFI, line(1, aifi_doc(0, **{GD + "freq_samp": 1e6})),
                          "freq_samp"),
    "aifi-rate-text": Case("aifi", AIFI, line(1, aifi_doc(0, **{GD + "freq_samp": "fast"})),
                           "freq_samp: expected a number"),
    "aifi-shape-no-plates": Case("aifi", AIFI, line(2, aifi_doc(
        1, **{GD + "values__shape": [144, 1, 1]})), "values.shape"),
    "aifi-shape-4d": Case("aifi", AIFI, line(2, aifi_doc(1, **{GD + "values__shape": [1, 2, 3,
                                                                                        4]})),
                          "values.shape"),
    "aifi-shape-huge": Case("aifi", AIFI, line(2, aifi_doc(
        1, **{GD + "values__shape": [10 ** 5, 3, 4]})), "at most 10,000"),
    "aifi-shape-text": Case("aifi", AIFI, line(2, aifi_doc(1, **{GD + "values__shape": "abc"})),
                            "values.shape"),
    "aifi-data-not-base64": Case("aifi", AIFI, line(2, aifi_doc(
        1, **{GD + "values__data": "!!!!"})), "base64"),
    "aifi-data-number": Case("aifi", AIFI, line(2, aifi_doc(1, **{GD + "values__data": 7})),
                             "base64"),
    "aifi-no-document": Case("aifi", AIFI, line(2, b'{"timestamp": 1}'), "missing key"),
    "aifi-plate-data-list": Case("aifi", AIFI, line(2, aifi_doc(
        1, **{"document__plate_data": [1, 2]})), "document.plate_data: expected an object"),
    "aifi-timestamp-nan": Case("aifi", AIFI, line(2, aifi_doc(1, timestamp=b"NaN")),
                               "timestamp"),
    "aifi-shape-changes": Case("aifi", AIFI, append(aifi_doc(
        10, **{GD + "values__shape": [9, 3, 5],
               GD + "values__data": base64.b64encode(bytes(9 * 3 * 5 * 4)).decode()})),
        "line 11: gondola 1 has shape"),
    **{f"aifi-poke-{s}": Case("aifi", AIFI, poke(s, b"#")) for s in range(4)},
    # a labelled clip's gt/ (walkout eval)
    "gt-receipts-0xff": Case("gt", "gt/receipts.json", sub(b'"P22"', b'"P' + FF + b'"'),
                             "line 8: not UTF-8"),
    "gt-receipts-nested": Case("gt", "gt/receipts.json", put(NESTED), "nested too deeply"),
    "gt-receipts-qty-401-digits": Case("gt", "gt/receipts.json", sub(b'"P22": 1',
                                                                     b'"P22": ' + DIGITS_401),
                                       "'qty'"),
    "gt-receipts-qty-5000-digits": Case("gt", "gt/receipts.json", sub(b'"P22": 1',
                                                                      b'"P22": ' + DIGITS_5000),
                                        "too many digits"),
    "gt-receipts-qty-text": Case("gt", "gt/receipts.json", sub(b'"P22": 1', b'"P22": "1"'),
                                 "qty"),
    "gt-receipts-exit-inf": Case("gt", "gt/receipts.json", sub(b"34.77", b"1e999"), "exited_t"),
    "gt-receipts-exit-401-digits": Case("gt", "gt/receipts.json", sub(b"34.77", DIGITS_401),
                                        "exited_t"),
    "gt-receipts-array": Case("gt", "gt/receipts.json", put(b"[]"), "JSON object"),
    "gt-receipts-long-sku": Case("gt", "gt/receipts.json", sub(b'"P22": 1',
                                                               b'"' + GARBAGE + b'": -1'),
                                 "qty"),
    "gt-events-0xff": Case("gt", "gt/events.jsonl", sub(b'"P22"', b'"' + FF + b'"'),
                           "line 2: not UTF-8"),
    "gt-events-array": Case("gt", "gt/events.jsonl", line(2, b"[1]"), "line 2"),
    "gt-events-nested": Case("gt", "gt/events.jsonl", line(2, b"[" * 100_000),
                             "line 2: invalid JSON (nested"),
    "gt-events-qty-0": Case("gt", "gt/events.jsonl", sub(b'"qty": 1', b'"qty": 0'), "qty"),
    "gt-events-long-t": Case("gt", "gt/events.jsonl", sub(b"10.404", b'"' + GARBAGE + b'"'),
                             "'t'"),
    "gt-tracks-0xff": Case("gt", "gt/tracks.txt", line(3, b"20,1," + FF + b",1,1,1"),
                           "line 3: not UTF-8"),
    "gt-tracks-frame-1e12": Case("gt", "gt/tracks.txt", line(3, b"1e12,1,1,1,1,1,1,-1,-1,-1"),
                                 "line 3: expected a 1-based integer frame"),
    "gt-tracks-box-1e300": Case("gt", "gt/tracks.txt", line(3, b"20,1,1e300,1,1,1,1,-1,-1,-1"),
                                "line 3"),
    **{f"gt-receipts-cut-{s}": Case("gt", "gt/receipts.json", cut_json(s), "invalid JSON")
       for s in range(2)},
    **{f"gt-receipts-poke-{s}": Case("gt", "gt/receipts.json", m, "invalid JSON")
       for s, m in enumerate(invalid_json_pokes(SINGLE / "gt" / "receipts.json", 2))},
    # a prediction folder (walkout eval --pred)
    "pred-tracks-0xff": Case("pred", "tracks.txt", line(2, FF), "line 2: not UTF-8"),
    "pred-tracks-frame-1e8": Case("pred", "tracks.txt", line(2, b"100000000,1,1,1,1,1,1"),
                                  "line 2"),
    "pred-tracks-id-1e10": Case("pred", "tracks.txt", line(2, b"19,1e10,1,1,1,1,1"), "id"),
    "pred-receipts-0xff": Case("pred", "receipts.json", sub(b'"P22"', b'"P' + FF + b'"'),
                               "not UTF-8"),
    "pred-receipts-nested": Case("pred", "receipts.json", put(NESTED), "nested too deeply"),
    "pred-receipts-total-inf": Case("pred", "receipts.json", sub(b'"total": ',
                                                                b'"total": 1e999, "x": '),
                                    "total"),
    "pred-receipts-qty-401-digits": Case("pred", "receipts.json", sub(b'"qty": 1',
                                                                      b'"qty": ' + DIGITS_401),
                                         "'qty'"),
    "pred-receipts-lines-text": Case("pred", "receipts.json", sub(b'"lines": [',
                                                                  b'"lines": "x", "y": ['),
                                     "'lines'"),
    "pred-events-0xff": Case("pred", "events.jsonl", line(1, b'{"type": "' + FF + b'"}'),
                             "line 1: not UTF-8"),
    "pred-events-array": Case("pred", "events.jsonl", line(1, b"[]"), "line 1"),
    "pred-events-t-nan": Case("pred", "events.jsonl", sub(b'"t": 10.404', b'"t": NaN'), "'t'"),
    "pred-events-qty-half": Case("pred", "events.jsonl", sub(b'"qty": 1', b'"qty": 1.5'),
                                 "qty"),
    **{f"pred-events-cut-{s}": Case("pred", "events.jsonl", cut_json(s, lines=True),
                                    "invalid JSON") for s in range(2)},
    **{f"pred-tracks-poke-{s}": Case("pred", "tracks.txt", poke(s, b"#")) for s in range(2)},
}

# accepted and counted: (kind, target, mutate, what the stats line must say)
COUNTED = {
    "csv-nan-grams": ("csv", CSV, sub(b",286.8,", b",nan,"), "; 1 filled"),
    "csv-inf-grams": ("csv", CSV, sub(b",286.8,", b",-inf,"), "; 1 filled"),
    "csv-1e308-grams": ("csv", CSV, sub(b",286.8,", b",1e308,"), "; 1 filled"),
    "csv-tonne-grams": ("csv", CSV, sub(b",286.8,", b",-1000001,"), "; 1 filled"),
    "csv-empty-grams": ("csv", CSV, sub(b",286.8,", b",,"), "; 1 filled"),
    "csv-time-1e15": ("csv", CSV, sub(b"\n0.0167,", b"\n1e15,"), "; 1 bad time"),
    "csv-time-nan": ("csv", CSV, sub(b"\n0.0167,", b"\nnan,"), "; 1 bad time"),
    "csv-time-negative-1e11": ("csv", CSV, sub(b"\n0.0167,", b"\n-1e11,"), "; 1 bad time"),
    "aifi-time-1e300": ("aifi", AIFI, line(4, aifi_doc(3, timestamp=1e300)), "; 12 bad time"),
    "aifi-grams-1e30": ("aifi", AIFI, line(4, aifi_doc(3, grams=1e30)), "; 72 filled"),
}


def _snapshot(path: Path) -> bytes | None:
    return path.read_bytes() if path.is_file() else None


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_malformed_file_is_one_line_and_writes_nothing(name, base, tmp_path, capsys):
    case = ERRORS[name]
    cmd, target, out = argv(case, base, tmp_path)
    target.write_bytes(case.mutate(target.read_bytes()))
    if sorted(ERRORS).index(name) % 2:  # half the cases: an output already there stays
        out.write_bytes(b"earlier output\n")
    before = _snapshot(out)
    code = main(cmd)
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith("walkout: error: ") and err.count("\n") == 1, err[:2000]
    assert len(err) <= 401 and "Traceback" not in err, err[:2000]
    assert target.name in err and case.expect in err, err
    assert _snapshot(out) == before


@pytest.mark.parametrize("name", sorted(COUNTED))
def test_bad_values_are_counted_not_raised(name, base, tmp_path, capsys):
    kind, target_name, mutate, stats = COUNTED[name]
    cmd, target, out = argv(Case(kind, target_name, mutate), base, tmp_path)
    target.write_bytes(mutate(target.read_bytes()))
    code = main(cmd)
    err = capsys.readouterr().err
    assert code == 0, err
    stats_line = next(ln for ln in err.splitlines() if ln.startswith(str(target)))
    assert stats_line.endswith(stats), stats_line
    assert "out of order" not in stats_line and out.is_file()


def test_the_unharmed_inputs_pass(base, tmp_path, capsys):
    for kind, target in (("csv", CSV), ("det", DET), ("aifi", AIFI), ("gt", "gt/tracks.txt")):
        work = tmp_path / kind
        work.mkdir()
        cmd, _, out = argv(Case(kind, target, put(b"")), base, work)
        assert main(cmd) == 0, capsys.readouterr().err
        assert out.is_file()
    assert "clean" in capsys.readouterr().err


def test_frames_up_to_the_bound_are_read_and_tracked_quickly(tmp_path, capsys):
    det = tmp_path / "det.txt"
    det.write_text("1,-1,10,10,60,150,0.9\n10000000,-1,10,10,60,150,0.9\n")
    assert read_mot_detections(det)[-1, 0] == MAX_FRAME
    det.write_text("1,-1,10,10,60,150,0.9\n1000000,-1,10,10,60,150,0.9\n")
    assert main(["track", "--det", str(det), "--out", str(tmp_path / "t.txt")]) == 0
    assert "over 1000000 frames" in capsys.readouterr().out  # a million empty frames: ~1 s
