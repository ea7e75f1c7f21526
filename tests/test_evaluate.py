"""`walkout eval`: hand-computed receipt, event and attribution scores, properties on random
receipts, tracking metrics against motmetrics, and bad input."""

from __future__ import annotations

import dataclasses
import importlib.resources
import json
import math
import shutil
from collections import Counter
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from walkout.cli import main
from walkout.evaluate import (
    Evaluation,
    Prediction,
    Truth,
    clip_tag,
    evaluate,
    evaluate_clip,
    write_oracle_prediction,
)
from walkout.io import read_mot
from walkout.mot import combine_mot, evaluate_mot
from walkout.report import COLUMNS, terminal_table

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "sample_videos"
PRICES = {"x": 1.0, "y": 2.0, "z": 3.0, "w": 0.5}
NO_TRACKS = np.zeros((0, 10))

# Two shoppers: A takes 2 x and 1 y, B takes 1 z.
TRUE_EVENTS = [
    {"t": 10.0, "shopper": "A", "shelf": "S1", "sku": "x", "qty": 2},
    {"t": 20.0, "shopper": "A", "shelf": "S2", "sku": "y", "qty": 1},
    {"t": 30.0, "shopper": "B", "shelf": "S3", "sku": "z", "qty": 1},
]


def truth(items=None, events=TRUE_EVENTS, exited=None) -> Truth:
    items = items if items is not None else {"A": {"x": 2, "y": 1}, "B": {"z": 1}}
    items = {k: Counter(v) for k, v in items.items()}
    exited = exited or {k: 40.0 + i for i, k in enumerate(sorted(items))}
    return Truth("clip", "tag", Path("."), items, exited, list(events), NO_TRACKS, PRICES)


def pred(items: dict, cart_shoppers: dict | None = None, item_events=None, totals=None,
         flags=None) -> Prediction:
    """A prediction with receipts ``items`` (priced right unless ``totals`` says otherwise),
    the true item events unless given, and cart events on ``cart_shoppers`` (true shopper
    -> predicted id; default: the true ids)."""
    items = {k: Counter(v) for k, v in items.items()}
    totals = totals or {k: sum(q * PRICES.get(s, 0) for s, q in c.items())
                        for k, c in items.items()}
    ev = item_events if item_events is not None else [
        {"t": e["t"], "shelf": e["shelf"], "sku": e["sku"], "qty": e["qty"]} for e in TRUE_EVENTS]
    cs = cart_shoppers or {}
    carts = [{"t": e["t"], "shelf": e["shelf"], "sku": e["sku"], "qty": e["qty"],
              "shopper": cs.get(e["shopper"], e["shopper"])} for e in TRUE_EVENTS]
    return Prediction(Path("."), items, totals, {}, flags or {k: [] for k in items}, ev,
                      carts, NO_TRACKS)


def scores(t: Truth, p: Prediction) -> dict:
    return evaluate_clip(t, p).scores()


def test_perfect_prediction_scores_one_everywhere():
    s = scores(truth(), pred({"A": {"x": 2, "y": 1}, "B": {"z": 1}}))
    for k in ("receipt_precision", "receipt_recall", "receipt_f1", "exact_receipt_rate",
              "event_precision", "event_recall", "attribution_accuracy"):
        assert s[k] == 1.0, k
    assert s["flagged_rate"] == 0.0


def test_swapped_shopper_ids_still_score_one():
    p = pred({"9": {"x": 2, "y": 1}, "7": {"z": 1}}, cart_shoppers={"A": "9", "B": "7"})
    s = scores(truth(), p)
    assert (s["receipt_f1"], s["exact_receipt_rate"], s["attribution_accuracy"]) == (1, 1, 1)


@pytest.mark.parametrize("case, items, want", [
    # one unit of x missing: TP 3, FP 0, FN 1; B's receipt alone is exact
    ("missing", {"A": {"x": 1, "y": 1}, "B": {"z": 1}},
     dict(p=Fraction(1), r=Fraction(3, 4), f1=Fraction(6, 7), exact=Fraction(1, 2))),
    # one extra z on A: TP 4, FP 1, FN 0
    ("extra", {"A": {"x": 2, "y": 1, "z": 1}, "B": {"z": 1}},
     dict(p=Fraction(4, 5), r=Fraction(1), f1=Fraction(8, 9), exact=Fraction(1, 2))),
    # y charged to B instead of A: TP 3, FP 1, FN 1; neither receipt exact
    ("wrong shopper", {"A": {"x": 2}, "B": {"z": 1, "y": 1}},
     dict(p=Fraction(3, 4), r=Fraction(3, 4), f1=Fraction(3, 4), exact=Fraction(0))),
    # A split over two ids: A <-> P1 (2 units agree), P2's y is a false positive and A's y
    # a miss; of the 2 true receipts only B's is exact
    ("split track", {"P1": {"x": 2}, "P2": {"y": 1}, "B": {"z": 1}},
     dict(p=Fraction(3, 4), r=Fraction(3, 4), f1=Fraction(3, 4), exact=Fraction(1, 2))),
    # A and B merged on one id: it matches A (3 units agree); z is extra there and B's z
    # is missing; 2 true receipts, none exact
    ("merged track", {"M": {"x": 2, "y": 1, "z": 1}},
     dict(p=Fraction(3, 4), r=Fraction(3, 4), f1=Fraction(3, 4), exact=Fraction(0))),
])
def test_hand_computed_receipt_scores(case, items, want):
    s = scores(truth(), pred(items))
    assert s["receipt_precision"] == pytest.approx(float(want["p"]), abs=1e-12), case
    assert s["receipt_recall"] == pytest.approx(float(want["r"]), abs=1e-12), case
    assert s["receipt_f1"] == pytest.approx(float(want["f1"]), abs=1e-12), case
    assert s["exact_receipt_rate"] == pytest.approx(float(want["exact"]), abs=1e-12), case


def test_wrong_shopper_shows_in_attribution_and_receipt_diff():
    # the y pick is attributed to B
    p = pred({"A": {"x": 2}, "B": {"z": 1, "y": 1}})
    p.cart_events[1]["shopper"] = "B"
    r = evaluate_clip(truth(), p)
    assert r.scores()["attribution_accuracy"] == pytest.approx(2 / 3)
    diff = {d["true_shopper"]: d for d in r.diffs}
    assert diff["A"]["missing"] == {"y": 1}
    assert diff["A"]["to_other_shopper"] == {"y": ["B"]}
    assert diff["B"]["extra"] == {"y": 1}


def test_wrong_total_is_not_an_exact_receipt():
    items = {"A": {"x": 2, "y": 1}, "B": {"z": 1}}
    s = scores(truth(), pred(items, totals={"A": 4.0, "B": 3.5}))
    assert s["receipt_f1"] == 1.0
    assert s["exact_receipt_rate"] == 0.5


def test_events_need_shelf_sku_sign_and_1_5_s():
    ev = [
        {"t": 11.5, "shelf": "S1", "sku": "x", "qty": 1},    # 1.5 s late, qty differs: match
        {"t": 21.6, "shelf": "S2", "sku": "y", "qty": 1},    # 1.6 s late: no
        {"t": 30.0, "shelf": "S1", "sku": "z", "qty": 1},    # wrong shelf: no
        {"t": 30.0, "shelf": "S3", "sku": "z", "qty": -1},   # wrong sign: no
        {"t": 20.0, "shelf": "S2", "sku": "w", "qty": 1},    # wrong sku: a confusion
    ]
    r = evaluate_clip(truth(), pred({"A": {"x": 2, "y": 1}, "B": {"z": 1}}, item_events=ev))
    s = r.scores()
    assert s["event_precision"] == pytest.approx(1 / 5)
    assert s["event_recall"] == pytest.approx(1 / 3)
    assert r.confusions == [("y", "w")]


def test_each_event_matches_once_and_unexplained_matches_nothing():
    ev = [{"t": 10.0, "shelf": "S1", "sku": "x", "qty": 2},
          {"t": 10.2, "shelf": "S1", "sku": "x", "qty": 1},
          {"t": 20.0, "shelf": "S2", "sku": "unexplained", "qty": 0}]
    s = scores(truth(), pred({"A": {"x": 2, "y": 1}, "B": {"z": 1}}, item_events=ev))
    assert s["event_precision"] == pytest.approx(1 / 3)
    assert s["event_recall"] == pytest.approx(1 / 3)


def test_empty_receipts_and_flags():
    t = truth(items={"A": {"x": 2, "y": 1}, "B": {}}, events=TRUE_EVENTS[:2])
    p = pred({"A": {"x": 2, "y": 1}, "B": {}}, flags={"A": ["ambiguous"], "B": []})
    s = scores(t, p)
    assert s["receipt_f1"] == 1.0 and s["exact_receipt_rate"] == 1.0
    assert s["flagged_rate"] == 0.5
    # nobody bought anything and nothing was predicted: vacuously perfect
    s = scores(truth(items={"A": {}}, events=[]), pred({"Q": {}}, item_events=[]))
    assert s["receipt_f1"] == 1.0 and s["exact_receipt_rate"] == 1.0


def test_empty_receipt_matches_empty_receipt_not_a_buyer():
    # two true shoppers, one empty; the prediction has the buyer and a phantom empty one
    t = truth(items={"A": {"x": 1}, "B": {}}, events=[])
    p = pred({"1": {}, "2": {"x": 1}}, item_events=[])
    r = evaluate_clip(t, p)
    assert r.shoppers == {"A": "2", "B": "1"}
    assert r.scores()["exact_receipt_rate"] == 1.0


def test_unknown_sku_is_a_false_positive():
    r = evaluate_clip(truth(), pred({"A": {"x": 2, "y": 1, "NOPE": 1}, "B": {"z": 1}}))
    assert r.scores()["receipt_precision"] == pytest.approx(4 / 5)
    assert r.unknown_skus == ["NOPE"]


receipts = st.dictionaries(
    st.sampled_from(["a", "b", "c", "d"]),
    st.dictionaries(st.sampled_from(sorted(PRICES)), st.integers(1, 3), max_size=3),
    max_size=4)


@settings(max_examples=150, deadline=None)
@given(true=receipts, predicted=receipts, perm=st.permutations(["1", "2", "3", "4"]))
def test_f1_is_invariant_to_relabelling_shoppers(true, predicted, perm):
    t = truth(items=true, events=[])
    base = scores(t, pred(predicted, item_events=[]))
    relabel = dict(zip(["a", "b", "c", "d"], perm))
    renamed = {relabel[k]: v for k, v in predicted.items()}
    again = scores(t, pred(renamed, item_events=[]))
    for k in ("receipt_precision", "receipt_recall", "receipt_f1", "exact_receipt_rate"):
        assert again[k] == pytest.approx(base[k], abs=1e-12), k
    for k, v in base.items():
        if isinstance(v, float) and k not in ("hota", "idf1", "mota", "deta", "assa"):
            if k in NOTHING_TO_COUNT:  # no events here: n/a, never a made-up score
                assert math.isnan(v), k
            else:
                assert 0.0 <= v <= 1.0, k


@settings(max_examples=150, deadline=None)
@given(true=receipts, data=st.data())
def test_precision_is_one_when_predictions_are_a_subset(true, data):
    sub = {}
    for k, items in true.items():
        keep = {s: data.draw(st.integers(0, q)) for s, q in items.items()}
        if data.draw(st.booleans()):
            sub["p" + k] = {s: q for s, q in keep.items() if q}
    s = scores(truth(items=true, events=[]), pred(sub, item_events=[]))
    assert s["receipt_precision"] == 1.0
    assert 0.0 <= s["receipt_recall"] <= 1.0


NOTHING_TO_COUNT = ("event_precision", "event_recall", "attribution_accuracy")


def test_scores_with_nothing_to_count_are_na_not_one():
    # a video-only run: receipts but no item events, so no event or attribution score
    t = truth(items={"A": {"x": 1}}, events=TRUE_EVENTS[:1])
    p = dataclasses.replace(pred({"1": {"x": 1}}, item_events=[]), cart_events=[])
    s = scores(t, p)
    assert s["receipt_f1"] == 1.0 and s["event_recall"] == 0.0
    assert math.isnan(s["event_precision"]) and math.isnan(s["attribution_accuracy"])
    ev = Evaluation([evaluate_clip(t, p)])
    summary = ev.summary()
    assert summary["event_precision"] is None and summary["attribution_accuracy"] is None
    row = terminal_table(summary).splitlines()[-1].split()
    cols = [h for _, h, _ in COLUMNS]
    assert row[0] == "overall"
    assert row[1 + cols.index("evP")] == "n/a" and row[1 + cols.index("attr")] == "n/a"
    assert row[1 + cols.index("F1")] == "1.000"


def test_per_clip_table_tells_a_clip_from_its_tag():
    # a clip folder named like its tag ("pair", no seed) must not give two "pair" rows
    t = truth(items={"A": {"x": 1}}, events=[])
    t = dataclasses.replace(t, name="pair", tag="pair")
    summary = Evaluation([evaluate_clip(t, pred({"1": {"x": 1}}, item_events=[]))]).summary()
    names = [ln.split()[0] if not ln.startswith("tag ") else ln[:8]
             for ln in terminal_table(summary, per_clip=True).splitlines()[1:]]
    assert names == ["pair", "tag pair", "overall"]


def test_clip_tag_strips_the_seed():
    assert clip_tag("sim-busy-seed12") == "sim-busy"
    assert clip_tag("pair_3") == "pair"
    assert clip_tag("cps-test") == "cps-test"


# ---- tracking metrics through eval ---------------------------------------------------------
def test_combined_tracking_metrics_equal_one_long_sequence():
    """Two sequences combined score as one sequence made by playing them one after the
    other with disjoint ids (TrackEval's and motmetrics' way of summing counts)."""
    mm = pytest.importorskip("motmetrics")
    data = importlib.resources.files(mm) / "data"
    seqs = [(read_mot(data / s / "gt.txt"), read_mot(data / s / "test.txt"))
            for s in ("TUD-Campus", "TUD-Stadtmitte")]
    parts = [evaluate_mot(g, p) for g, p in seqs]
    (g1, p1), (g2, p2) = seqs
    shift = np.array([g1[:, 0].max(), 1000] + [0] * 8)
    whole = evaluate_mot(np.r_[g1, g2 + shift], np.r_[p1, p2 + shift])
    both = combine_mot(parts)
    for k in ("hota", "deta", "assa", "idf1", "mota"):
        assert both[k] == pytest.approx(getattr(whole, k), abs=1e-12), k
    one = combine_mot(parts[:1])
    for k in ("hota", "idf1", "mota"):
        assert one[k] == pytest.approx(getattr(parts[0], k), abs=1e-12), k


def test_eval_tracking_agrees_with_motmetrics_published_values(tmp_path):
    mm = pytest.importorskip("motmetrics")
    data = importlib.resources.files(mm) / "data" / "TUD-Campus"
    clip = tmp_path / "clips" / "tud"
    shutil.copytree(SAMPLES / "single", clip)
    shutil.copy(data / "gt.txt", clip / "gt" / "tracks.txt")
    out = write_oracle_prediction(clip, tmp_path / "pred" / "tud")
    shutil.copy(data / "test.txt", out / "tracks.txt")
    s = evaluate([clip], tmp_path / "pred").summary()
    # motmetrics 1.4.0 tests/test_metrics.py::test_motchallenge_files
    assert s["mota"] == pytest.approx(0.526462, abs=1e-6)
    assert s["idf1"] == pytest.approx(0.557659, abs=1e-6)
    assert s["hota"] == pytest.approx(0.391397, abs=1e-6)  # TrackEval, see test_mot.py
    assert s["receipt_f1"] == 1.0


# ---- the command -------------------------------------------------------------------------
@pytest.fixture
def oracle(tmp_path):
    """The sample clips and perfect predictions for them."""
    for c in ("single", "pair", "busy"):
        write_oracle_prediction(SAMPLES / c, tmp_path / "pred" / c)
    return tmp_path / "pred"


def test_cli_scores_oracle_predictions_and_writes_report(oracle, tmp_path, capsys):
    rc = main(["eval", "--clips", str(SAMPLES), "--pred", str(oracle),
               "--json", str(tmp_path / "s.json"), "--report", str(tmp_path / "rep")])
    assert rc == 0
    s = json.loads((tmp_path / "s.json").read_text())
    for k in ("receipt_precision", "receipt_recall", "receipt_f1", "exact_receipt_rate",
              "event_precision", "event_recall", "hota", "idf1", "mota"):
        assert s[k] == 1.0, k
    assert s["flagged_rate"] == 0.0
    assert set(s["per_clip"]) == {"single", "pair", "busy"}
    assert set(s["per_tag"]) == {"sim-single", "sim-pair", "sim-busy"}
    assert s["counts"]["ev_true"] == 3 + 7 + 20
    rep = (tmp_path / "rep" / "report.md").read_text()
    assert "Every receipt is exactly right." in rep
    for png in ("f1_per_clip.png", "timeline_busy.png"):
        assert (tmp_path / "rep" / png).read_bytes()[:4] == b"\x89PNG"
    assert "overall" in capsys.readouterr().out


def test_report_lists_worst_receipts_and_unknown_skus(oracle, tmp_path):
    path = oracle / "busy" / "receipts.json"
    doc = json.loads(path.read_text())
    doc["receipts"][0]["lines"].append({"sku": "BOGUS", "name": "?", "qty": 1,
                                        "unit_price": 1.0})
    doc["receipts"][1]["lines"] = []
    path.write_text(json.dumps(doc))
    ev = evaluate([SAMPLES / "busy"], oracle)
    s = ev.summary()
    assert s["receipt_precision"] < 1.0 and s["receipt_recall"] < 1.0
    from walkout.report import write_report

    rep = write_report(ev, tmp_path / "rep").read_text()
    assert "BOGUS" in rep and "## Worst receipts" in rep
    assert "Every receipt is exactly right." not in rep


def _run(argv, capsys) -> tuple[int, str]:
    rc = main(argv)
    return rc, capsys.readouterr().err


def test_clip_without_gt_is_an_error(oracle, tmp_path, capsys):
    clip = tmp_path / "clips" / "single"
    shutil.copytree(SAMPLES / "single", clip)
    shutil.rmtree(clip / "gt")
    rc, err = _run(["eval", "--clips", str(clip), "--pred", str(oracle)], capsys)
    assert rc == 2 and "no gt/ folder" in err and str(clip) in err
    assert "Traceback" not in err



def test_an_unlabelled_clip_is_refused_before_any_clip_runs(tmp_path, capsys):
    """Without --pred, every clip's labels are read before the first run: a folder of a
    labelled clip and an unlabelled one fails at once, and nothing runs."""
    clips = tmp_path / "clips"
    shutil.copytree(SAMPLES / "single", clips / "a")
    shutil.copytree(SAMPLES / "single", clips / "b")
    shutil.rmtree(clips / "b" / "gt")
    out = tmp_path / "pred"
    rc, err = _run(["eval", "--clips", str(clips), "--out", str(out)], capsys)
    assert rc == 2 and err.strip() == (f"walkout: error: {clips / 'b'}: no gt/ folder "
                                       "(expected a labelled clip with gt/tracks.txt, "
                                       "gt/events.jsonl and gt/receipts.json)")
    assert not (out / "a").exists()

@pytest.mark.parametrize("missing", ["receipts.json", "events.jsonl", "tracks.txt"])
def test_prediction_missing_a_file_is_an_error(oracle, tmp_path, capsys, missing):
    (oracle / "single" / missing).unlink()
    out = tmp_path / "s.json"
    rc, err = _run(["eval", "--clips", str(SAMPLES / "single"), "--pred", str(oracle),
                    "--json", str(out)], capsys)
    assert rc == 2 and missing in err and "file not found" in err
    assert not out.exists()


@pytest.mark.parametrize("name, text, expect", [
    ("receipts.json", '{"receipts": [', "invalid JSON"),
    ("receipts.json", '{"receipts": [{"shopper_id": "1", "lines": [{"sku": "P01", '
                      '"qty": "two"}], "total": 1}]}', "receipts[0].lines[0]"),
    ("events.jsonl", '{"type": "item", "t": 1.0, "shelf_id": "G1S1"\n', "line 1"),
    ("events.jsonl", '{"type": "item", "t": 1.0, "sku": "P01", "qty": 1}\n', "'shelf_id'"),
])
def test_malformed_prediction_is_an_error_naming_the_file(oracle, capsys, name, text, expect):
    (oracle / "single" / name).write_text(text)
    rc, err = _run(["eval", "--clips", str(SAMPLES / "single"), "--pred", str(oracle)],
                   capsys)
    assert rc == 2 and name in err and expect in err


def test_without_pred_the_pipeline_runs_first(tmp_path, capsys):
    out = tmp_path / "pred"
    rc = main(["-q", "eval", "--clips", str(SAMPLES / "single"), "--out", str(out),
               "--json", str(tmp_path / "s.json")])
    assert rc == 0
    assert (out / "single" / "receipts.json").is_file()
    s = json.loads((tmp_path / "s.json").read_text())
    assert s["receipt_f1"] == 1.0 and s["exact_receipt_rate"] == 1.0


def test_evaluation_of_no_clips_is_refused(tmp_path, capsys):
    rc, err = _run(["eval", "--clips", str(tmp_path), "--pred", str(tmp_path)], capsys)
    assert rc == 2 and "no store.yaml" in err


def test_summary_is_plain_json():
    ev = Evaluation([evaluate_clip(truth(), pred({"A": {"x": 2, "y": 1}, "B": {"z": 1}}))])
    s = ev.summary()
    assert s["mota"] is None  # no true boxes at all: undefined, and JSON has no NaN
    json.dumps(s, allow_nan=False)
