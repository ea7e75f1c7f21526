"""Tracking metrics: agreement with py-motmetrics' published values and TrackEval's HOTA."""

from __future__ import annotations

import importlib.resources

import numpy as np
import pytest

from walkout.io import mot_lines, read_mot
from walkout.mot import evaluate_mot


def _data(seq: str, name: str) -> np.ndarray:
    mm = pytest.importorskip("motmetrics")
    return read_mot(importlib.resources.files(mm) / "data" / seq / f"{name}.txt")


# motmetrics 1.4.0, tests/test_metrics.py::test_motchallenge_files (expected values)
MOTMETRICS = {
    "TUD-Campus": dict(idf1=0.557659, idp=0.729730, idr=0.451253, recall=0.582173,
                       precision=0.941441, fp=13, fn=150, idsw=7, mota=0.526462,
                       motp=0.277201),
    "TUD-Stadtmitte": dict(idf1=0.644619, idp=0.819760, idr=0.531142, recall=0.608997,
                           precision=0.939920, fp=45, fn=452, idsw=7, mota=0.564014,
                           motp=0.345904),
}
# HOTA of the same files from the `trackers` 2.6.1 evaluator, which follows TrackEval
# (trackers.eval.evaluate_mot_sequence, metrics HOTA; rows given class 1)
TRACKEVAL_HOTA = {
    "TUD-Campus": dict(hota=0.391397, deta=0.418047, assa=0.369121, loca=0.770052),
    "TUD-Stadtmitte": dict(hota=0.397849, deta=0.392268, assa=0.408841, loca=0.737521),
}


@pytest.mark.parametrize("seq", sorted(MOTMETRICS))
def test_clear_and_identity_match_motmetrics(seq):
    m = evaluate_mot(_data(seq, "gt"), _data(seq, "test")).as_dict()
    for key, want in MOTMETRICS[seq].items():
        assert m[key] == pytest.approx(want, abs=1e-6), key


@pytest.mark.parametrize("seq", sorted(TRACKEVAL_HOTA))
def test_hota_matches_trackeval(seq):
    m = evaluate_mot(_data(seq, "gt"), _data(seq, "test")).as_dict()
    for key, want in TRACKEVAL_HOTA[seq].items():
        assert m[key] == pytest.approx(want, abs=1e-6), key


@pytest.mark.parametrize("seq", sorted(TRACKEVAL_HOTA))
def test_hota_matches_trackers_live(seq, tmp_path):
    """When the `trackers` evaluator is installed (bench extra), compare live."""
    ev = pytest.importorskip("trackers.eval")
    files = {}
    for name in ("gt", "test"):
        a = _data(seq, name)
        a[:, 6:9] = 1
        files[name] = tmp_path / f"{name}.txt"
        np.savetxt(files[name], a, fmt="%g", delimiter=",")
    r = ev.evaluate_mot_sequence(files["gt"], files["test"], metrics=["HOTA", "Identity"])
    m = evaluate_mot(_data(seq, "gt"), _data(seq, "test"))
    assert m.hota == pytest.approx(r.HOTA.HOTA, abs=1e-9)
    assert m.assa == pytest.approx(r.HOTA.AssA, abs=1e-9)
    assert m.idf1 == pytest.approx(r.Identity.IDF1, abs=1e-9)


def rows(*tracks):
    """MOT rows from (id, [(frame, x, y), ...]) with 10x10 boxes."""
    out = []
    for tid, pts in tracks:
        out += [[f, tid, x, y, 10, 10, 1, -1, -1, -1] for f, x, y in pts]
    return np.array(out, float)


def test_perfect_prediction_scores_one():
    gt = rows((1, [(f, 10 * f, 0) for f in range(1, 11)]), (2, [(f, 0, 50) for f in range(1, 11)]))
    pred = gt.copy()
    pred[:, 1] += 7  # ids are arbitrary
    m = evaluate_mot(gt, pred)
    assert (m.mota, m.idf1, m.hota, m.deta, m.assa, m.loca) == pytest.approx((1,) * 6)
    assert m.idsw == m.fp == m.fn == 0


def test_an_id_switch_halfway():
    """One object, tracked as id 1 for 5 frames then id 2 for 5: DetA 1, AssA 0.5."""
    gt = rows((1, [(f, 0, 0) for f in range(1, 11)]))
    pred = rows((1, [(f, 0, 0) for f in range(1, 6)]), (2, [(f, 0, 0) for f in range(6, 11)]))
    m = evaluate_mot(gt, pred)
    assert m.idsw == 1 and m.mota == pytest.approx(0.9)
    assert m.idf1 == pytest.approx(0.5)
    assert m.deta == pytest.approx(1.0) and m.assa == pytest.approx(0.5)
    assert m.hota == pytest.approx(np.sqrt(0.5))


def test_misses_and_false_positives():
    gt = rows((1, [(f, 0, 0) for f in range(1, 11)]))
    pred = rows((1, [(f, 0, 0) for f in range(1, 9)]), (2, [(f, 100, 100) for f in (3, 4)]))
    m = evaluate_mot(gt, pred)
    assert (m.fn, m.fp, m.idsw) == (2, 2, 0)
    assert m.mota == pytest.approx(1 - 4 / 10)
    assert m.deta == pytest.approx(8 / 12)  # TP / (TP + FN + FP) at every alpha
    assert m.idf1 == pytest.approx(2 * 8 / (10 + 10))


def test_boxes_below_the_iou_threshold_do_not_match():
    gt = rows((1, [(1, 0, 0)]))
    pred = rows((1, [(1, 6, 0)]))  # IoU 4x10 / (200 - 40) = 0.25
    m = evaluate_mot(gt, pred)
    assert (m.fn, m.fp) == (1, 1)
    assert 0 < m.hota < 0.5  # HOTA still credits it at low alphas


def test_empty_prediction_or_ground_truth():
    gt = rows((1, [(1, 0, 0), (2, 0, 0)]))
    none = np.zeros((0, 10))
    m = evaluate_mot(gt, none)
    assert (m.fn, m.fp, m.mota, m.hota, m.idf1) == (2, 0, 0.0, 0.0, 0.0)
    m = evaluate_mot(none, gt)
    assert (m.fn, m.fp, m.hota) == (0, 2, 0.0)


def test_tracks_txt_holds_one_row_per_shopper_and_frame(tmp_path):
    """A track restarted on a shopper while the tracker still reports the old one (coasting)
    shows them twice for a frame or two: tracks.txt keeps the newer track's box. The
    fixed preset `busy` 700 wrote two such rows before."""
    rows = [(1, "1", 3, (10, 10, 20, 40)), (1, "2", 4, (60, 10, 20, 40)),
            (2, "1", 3, (11, 10, 20, 40)), (2, "2", 4, (61, 10, 20, 40)),
            (2, "1", 7, (12, 11, 20, 40)),      # track 7 restarted on shopper 1
            (3, "1", 7, (13, 11, 20, 40))]
    lines = list(mot_lines(rows))
    got = [tuple(line.split(",")[:3]) for line in lines]
    assert got == [("1", "1", "10.00"), ("1", "2", "60.00"), ("2", "1", "12.00"),
                   ("2", "2", "61.00"), ("3", "1", "13.00")]
    (tmp_path / "tracks.txt").write_text("".join(lines))
    a = read_mot(tmp_path / "tracks.txt")
    assert len(a) == 5 and len({(int(f), int(i)) for f, i in a[:, :2]}) == 5
