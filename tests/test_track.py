"""Trackers: the update contract, scripted trajectories, SORT's published numbers, the CLI."""

from __future__ import annotations

import importlib.resources
import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import shared_path

from walkout import Detections
from walkout.io import read_mot, read_mot_detections
from walkout.mot import evaluate_mot
from walkout.sim import make_scenario
from walkout.sim.detections import noisy_detections
from walkout.sim.layout import View
from walkout.sim.render import gt_boxes
from walkout.track import (
    STD_POSITION,
    SortTracker,
    Tracker,
    TrackerConfig,
    batch_predict,
    batch_update,
    full_covariance,
    initial_covariance,
    iou_batch,
    kalman_filter,
    linear_assignment,
    make_tracker,
    noise_scales,
    pack,
    process_noise,
    unpack,
    virtual_path,
)

PRESETS = ["default", "sort"]


def dets(boxes, scores=None) -> Detections:
    boxes = np.asarray(boxes, float).reshape(-1, 4)
    scores = np.full(len(boxes), 0.9) if scores is None else np.asarray(scores, float)
    return Detections(boxes, scores, np.zeros(len(boxes), int))


def box(cx, cy, w=40.0, h=80.0):
    return [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]


def run(tracker, frames):
    """Feed frames (lists of boxes); return {frame: {id: det_index}}."""
    out = {}
    for f, boxes in enumerate(frames):
        res = tracker.update(dets(boxes))
        out[f] = dict(zip(res.tracker_id.tolist(), res.data["det_index"].tolist()))
    return out


# ---- the contract, for every preset --------------------------------------------------------
@pytest.mark.parametrize("preset", PRESETS)
def test_empty_frames_are_fine(preset):
    t = make_tracker(preset)
    for _ in range(5):
        res = t.update(Detections.empty())
        assert len(res) == 0 and res.tracker_id is not None
    res = t.update(dets([box(100, 100)]))
    assert res.tracker_id.dtype == np.int64


@pytest.mark.parametrize("preset", PRESETS)
def test_ids_stable_across_identical_frames(preset):
    t = make_tracker(preset)
    frame = [box(100, 100), box(300, 120), box(500, 300)]
    seen = [run(t, [frame])[0] for _ in range(10)]
    assert seen[-1] and all(s == seen[-1] for s in seen[3:])
    assert sorted(seen[-1]) == [1, 2, 3]  # ids start at 1 and are compact


@pytest.mark.parametrize("preset", PRESETS)
def test_ids_do_not_leak_between_videos(preset):
    a, b = make_tracker(preset), make_tracker(preset)
    frames = [[box(100 + 5 * k, 100), box(400, 300 - 5 * k)] for k in range(8)]
    first = run(a, frames)
    second = run(b, frames)  # a second instance starts from scratch
    assert first == second
    a.reset()
    assert run(a, frames) == first  # and so does a reset one


@pytest.mark.parametrize("preset", PRESETS)
def test_det_index_points_at_the_input(preset):
    t = make_tracker(preset)
    for k in range(6):
        order = [box(100 + 4 * k, 100), box(400 - 4 * k, 300)]
        if k % 2:
            order = order[::-1]
        res = t.update(dets(order))
    for b, i in zip(res.xyxy, res.data["det_index"]):
        assert np.abs(b - np.array(order[i])).max() < 8


# ---- scripted trajectories -----------------------------------------------------------------
def test_crossing_keeps_ids():
    """Two people walk through each other; momentum and the filter keep them apart."""
    t = Tracker()
    frames = [[box(100 + 10 * k, 200), box(400 - 10 * k, 210)] for k in range(31)]
    out = run(t, frames)
    first = {i: frames[5][d][0] < 250 for i, d in out[5].items()}  # id -> started left?
    last = {i: frames[30][d][0] > 250 for i, d in out[30].items()}  # id -> ended right?
    assert set(first) == set(last) and len(first) == 2
    assert all(first[i] == last[i] for i in first)


def test_occlusion_gap_keeps_the_id():
    t = Tracker(frame_rate=10, coast_s=0.1)
    frames = [[box(100 + 8 * k, 200)] for k in range(10)]
    frames += [[] for _ in range(6)]  # hidden for 6 frames (0.6 s)
    frames += [[box(100 + 8 * k, 200)] for k in range(16, 24)]
    out = run(t, frames)
    ids = {i for f in out.values() for i in f}
    assert ids == {1}
    assert out[10] == {1: -1}  # coasting: the prediction is reported for 0.1 s
    assert all(out[f] == {} for f in range(11, 16))  # then a lost track is not reported
    assert out[16] == {1: 0}  # found again at once, on the first frame back


def test_reappearance_after_max_age_gets_a_new_id():
    for coast_s, reported in ((0.1, [1, 1, 1, 0, 0]), (0.0, [0, 0, 0, 0, 0])):
        t = Tracker(frame_rate=30, max_age_s=5 / 30, coast_s=coast_s)  # 5 frames
        frames = [[box(100, 200)] for _ in range(5)] + [[] for _ in range(8)]
        frames += [[box(100, 200)] for _ in range(5)]
        out = run(t, frames)
        assert set(out[4]) == {1} and set(out[17]) == {2}
        assert [len(out[f]) for f in range(5, 10)] == reported  # 0.1 s: 3 frames coast


def _walk_out_and_in() -> list[list[list[float]]]:
    """Street seed 510 (7 fps) in miniature: a walker leaves through the image's left
    border, their box cut narrower each frame, and 0.4 s later someone steps in there."""
    frames = [[[max(0.0, 150.0 - 25 * k), 200, 190.0 - 25 * k, 380]] for k in range(8)]
    frames += [[] for _ in range(3)]  # out of view (0.4 s)
    frames += [[[0, 205, 20 + 12 * k, 380]] for k in range(4)]  # a newcomer steps in
    return frames


def test_a_newcomer_where_someone_walked_out_of_the_image_gets_a_new_id():
    """Knowing the image, the walker's track ends once its prediction has collapsed
    against the border they left through; without it (as the published trackers), OC-SORT's
    recovery matches the newcomer to the walker's last box and gives them the old id."""
    out = run(Tracker(frame_rate=7, image_size=(640, 480)), _walk_out_and_in())
    assert set(out[7]) == {1}  # the last sliver: 15 px of 40
    assert set(out[12]) == {2} and set(out[14]) == {2}
    out = run(Tracker(frame_rate=7), _walk_out_and_in())
    assert set(out[12]) == {1}
    out = run(Tracker(frame_rate=7, image_size=(640, 480), border_exit=False),
              _walk_out_and_in())
    assert set(out[12]) == {1}


def test_a_box_that_collapses_inside_the_image_keeps_its_track():
    """Seen from above, a shopper's box narrows as they crouch; missed for a few frames,
    its prediction shrinks to nothing in the middle of the image. That is no exit: when
    the shopper is seen again there, the track goes on."""
    t = Tracker(frame_rate=10, image_size=(640, 480))
    frames = [[[300 + 8 * k, 200, 380 - 8 * k, 300]] for k in range(5)]  # 80 px -> 16 px
    frames += [[] for _ in range(4)]  # unseen 0.4 s: the prediction collapses
    frames += [[[328, 200, 352, 300]] for _ in range(3)]
    out = run(t, frames)
    assert set(out[4]) == {1} and set(out[9]) == {1} and set(out[11]) == {1}


def test_someone_standing_at_the_border_keeps_their_id():
    """Half out of view at the border but not leaving (the box's size holds), missed for
    0.5 s: the prediction stays where they stand, so it is no exit."""
    t = Tracker(frame_rate=10, image_size=(640, 480))
    frames = [[[0, 200, 30 + (k % 2), 380]] for k in range(8)] + [[] for _ in range(5)]
    frames += [[[0, 201, 31, 380]] for _ in range(3)]
    out = run(t, frames)
    assert set(out[14]) == {1}


@pytest.mark.parametrize("size", [(0, 480), (640, -1), (float("nan"), 480)])
def test_a_bad_image_size_is_refused(size):
    with pytest.raises(ValueError, match="image_size"):
        Tracker(image_size=size)


def test_low_score_detections_keep_a_track_alive():
    """ByteTrack's second pass: a dim detection continues a track but never starts one."""
    t = Tracker()
    for k in range(5):
        t.update(dets([box(100 + 5 * k, 200)], [0.9]))
    res = t.update(dets([box(125, 200), box(400, 300)], [0.3, 0.3]))
    assert res.tracker_id.tolist() == [1] and res.data["det_index"].tolist() == [0]
    assert len(Tracker().update(dets([box(400, 300)], [0.3]))) == 0


def test_tentative_tracks_need_min_hits():
    t = Tracker(min_hits=3)
    for _ in range(4):  # the first min_hits frames of a video report at once (as SORT)
        t.update(Detections.empty())
    outs = [len(t.update(dets([box(200, 200)]))) for _ in range(4)]
    assert outs == [0, 0, 1, 1]


def test_floor_gating_refuses_impossible_jumps():
    """With a homography (10 px = 1 m), a box that overlaps but whose centre jumped 5 m in
    one frame is not the same shopper."""
    H = np.diag([0.1, 0.1, 1.0])
    wide = [0, 0, 800, 100]
    t = Tracker(frame_rate=10, homography=H)
    for _ in range(5):
        t.update(dets([wide]))
    res = t.update(dets([[0, 0, 800, 100]]))
    assert res.tracker_id.tolist() == [1]
    t2 = Tracker(frame_rate=10, homography=H, coast_s=0.1)
    for _ in range(5):
        t2.update(dets([[0, 0, 100, 100]]))
    far = t2.update(dets([[40, 0, 150, 100]]))  # IoU 0.43 but centre moved 4.5 m
    assert far.data["det_index"][far.tracker_id == 1].tolist() == [-1]  # coasting, unmatched
    t3 = Tracker(frame_rate=10)
    for _ in range(5):
        t3.update(dets([[0, 0, 100, 100]]))
    near = t3.update(dets([[40, 0, 150, 100]]))
    assert near.data["det_index"][near.tracker_id == 1].tolist() == [0]



def test_momentum_scores_the_direction_of_motion():
    """OC-SORT's direction term of a candidate pair is asin(cos angle) / pi times weight and
    score: +1/2 straight ahead, 0 across, -1/2 straight back, between the direction the
    track moved (over its last observations) and the direction to the detection."""
    t = Tracker(frame_rate=30)
    for k in range(6):  # moving right, 5 px a frame
        t.update(dets([box(100 + 5 * k, 100)]))
    last = 125.0
    ahead, across, back = box(last + 20, 100), box(last, 130), box(last - 20, 100)
    diagonal = box(last + 20, 120)  # 45 degrees: asin(cos 45) / pi = 1/4
    boxes = np.array([ahead, across, back, diagonal])
    scores = np.array([0.9, 0.8, 0.7, 1.0], np.float32)
    terms = t._momentum([(0, 0), (0, 1), (0, 2), (0, 3)], boxes, scores)
    w = t.config.momentum_weight
    expected = [0.5 * w * 0.9, 0.0, -0.5 * w * 0.7, 0.25 * w]
    assert terms == pytest.approx(expected, abs=1e-6)
    still = Tracker(frame_rate=30)  # a track that has not moved adds nothing
    for _ in range(6):
        still.update(dets([box(100, 100)]))
    assert still._momentum([(0, 0)], boxes[:1], scores[:1]) == [0.0]


@pytest.mark.parametrize("heading", [1, -1])
def test_momentum_breaks_a_tie_in_favour_of_the_way_the_track_was_going(heading):
    """Two detections overlap the prediction equally, one on each side: the track takes the
    one it was heading for (down-right, or up-left), whichever way that is."""
    t = Tracker(frame_rate=30, high_score=0.5)
    for k in range(8):  # along the diagonal
        t.update(dets([box(300 + heading * 4 * k, 300 + heading * 4 * k)]))
    (x1, y1, x2, y2), = t.S[:, :4].tolist()
    t.S[0, 4:8] = 0.0  # a prediction standing still, so IoU alone cannot tell them apart
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    behind, ahead = box(cx - 12 * heading, cy - 12 * heading), box(cx + 12 * heading,
                                                                   cy + 12 * heading)
    candidates = np.array([behind, ahead])
    iou = iou_batch(t.S[:, :4], candidates)[0]
    assert iou[0] == pytest.approx(iou[1], abs=1e-9) and iou[0] > 0.4
    res = t.update(dets(candidates))
    assert dict(zip(res.tracker_id.tolist(), res.data["det_index"].tolist()))[1] == 1

# ---- the filter and the assignment ---------------------------------------------------------
def test_batched_filter_equals_filterpy():
    rng = np.random.default_rng(0)
    b0 = np.array([100.0, 50.0, 160.0, 190.0])
    kf = kalman_filter(b0)
    S = pack(kf.x.T.copy(), initial_covariance(b0[None]))
    np.testing.assert_allclose(full_covariance(unpack(S)[1])[0], kf.P)
    for k in range(20):
        # the tracker scales Q and R with the box at every step: give filterpy the same
        kf.Q = np.diag(process_noise((kf.F @ kf.x).T)[0])
        kf.predict()
        batch_predict(S)
        np.testing.assert_allclose(full_covariance(unpack(S)[1])[0], kf.P, rtol=1e-9)
        z = b0 + np.array([3.0 * k, 1.0 * k, 4.0 * k, 1.0 * k]) + rng.normal(0, 2, 4)
        wh = np.maximum(kf.x[2:4, 0] - kf.x[0:2, 0], 1.0)
        kf.R = np.diag((STD_POSITION * np.r_[wh, wh]) ** 2)
        kf.update(z.reshape(4, 1))
        S = batch_update(S, z[None])
        x, C = unpack(S)
        np.testing.assert_allclose(x[0], kf.x[:, 0], rtol=1e-9)
        np.testing.assert_allclose(full_covariance(C)[0], kf.P, rtol=1e-7, atol=1e-9)


def test_linear_assignment_handles_empty_and_gates():
    r, c = linear_assignment(np.zeros((0, 3), bool), np.zeros((0, 3)))
    assert len(r) == len(c) == 0
    score = np.array([[0.9, 0.8], [0.85, 0.1]])
    r, c = linear_assignment(score > 0.05, score)
    assert sorted(zip(r.tolist(), c.tolist())) == [(0, 1), (1, 0)]  # best total, not greedy
    r, c = linear_assignment(score > 0.5, score)
    assert sorted(zip(r.tolist(), c.tolist())) == [(0, 1), (1, 0)]
    valid = np.array([[True, False], [False, False]])
    r, c = linear_assignment(valid, score)
    assert list(zip(r.tolist(), c.tolist())) == [(0, 0)]


# ---- SORT's published numbers --------------------------------------------------------------
def _mot_gt(name: str) -> np.ndarray:
    mm = pytest.importorskip("motmetrics")
    return read_mot(importlib.resources.files(mm) / "data" / name / "gt.txt")


def track_file(preset: str, det: np.ndarray, **kw) -> np.ndarray:
    t = make_tracker(preset, **kw)
    rows = []
    for f in range(1, int(det[:, 0].max()) + 1):
        r = det[det[:, 0] == f]
        res = t.update(dets(np.c_[r[:, 2:4], r[:, 2:4] + r[:, 4:6]], r[:, 6]))
        for b, i in zip(res.xyxy, res.tracker_id):
            rows.append([f, i, b[0], b[1], b[2] - b[0], b[3] - b[1], 1, -1, -1, -1])
    return np.array(rows)


def test_sort_preset_reproduces_published_tud_campus_numbers():
    det = read_mot_detections(shared_path("mot15", "TUD-Campus", "det.txt"))
    m = evaluate_mot(_mot_gt("TUD-Campus"), track_file("sort", det))
    assert round(100 * m.mota, 1) == 62.7
    assert (m.fp, m.fn, m.idsw) == (15, 113, 6)


def test_default_tracker_beats_sort_on_tud_campus():
    det = read_mot_detections(shared_path("mot15", "TUD-Campus", "det.txt"))
    gt = _mot_gt("TUD-Campus")
    sort = evaluate_mot(gt, track_file("sort", det))
    ours = evaluate_mot(gt, track_file("default", det, frame_rate=25))
    # committed baseline (benchmarks/tracking.py): HOTA 55.0, IDF1 76.7, MOTA 66.0
    assert ours.hota >= 0.53 and ours.idf1 >= 0.75 and ours.idsw <= 3
    assert ours.hota > sort.hota + 0.05 and ours.idf1 > sort.idf1 + 0.1
    assert ours.mota > sort.mota


def test_sort_tracker_is_the_sort_preset():
    assert isinstance(make_tracker("sort"), SortTracker)
    with pytest.raises(ValueError, match="unknown tracker preset"):
        make_tracker("deepsort")


# ---- the CLI -------------------------------------------------------------------------------
def _walkout(*args):
    return subprocess.run([sys.executable, "-m", "walkout", *args], capture_output=True,
                          text=True, timeout=120)


def test_cli_track_writes_mot_tracks(tmp_path):
    det = tmp_path / "det.txt"
    lines = [f"{k + 1},-1,{100 + 5 * k},200,40,80,0.9,-1,-1,-1" for k in range(10)]
    det.write_text("\n".join(lines) + "\n")
    out = tmp_path / "tracks.txt"
    res = _walkout("track", "--det", str(det), "--out", str(out), "--frame-rate", "10")
    assert res.returncode == 0, res.stderr
    rows = read_mot(out)
    assert len(rows) >= 8 and set(rows[:, 1].astype(int)) == {1}


@pytest.mark.parametrize(
    "bad, message, line",
    [
        ("1,-1,1,2,3\n", "expected 7-10 columns", 2),
        ("1,-1,1,2,nan,4,0.9\n", "NaN", 2),
        ("1,-1,1,2,-3,4,0.9\n", "positive width", 2),
        ("2,-1,1,2,3,4,0.9\n1,-1,1,2,3,4,0.9\n", "frame 1 comes after frame 2", 3),
        ("x,-1,1,2,3,4,0.9\n", "expected numbers", 2),
    ],
)
def test_cli_track_rejects_bad_rows_without_writing(tmp_path, bad, message, line):
    det = tmp_path / "det.txt"
    det.write_text("1,-1,10,20,30,40,0.9,-1,-1,-1\n" + bad)
    out = tmp_path / "tracks.txt"
    out.write_text("old\n")
    res = _walkout("track", "--det", str(det), "--out", str(out))
    assert res.returncode == 2
    assert message in res.stderr and f"line {line}:" in res.stderr
    assert "Traceback" not in res.stderr
    assert out.read_text() == "old\n"  # nothing already written is lost


def _det_file(path: Path, frames) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{f + 1},-1,{x0},{y0},{x1 - x0},{y1 - y0},0.9,-1,-1,-1\n"
                            for f, boxes in enumerate(frames) for x0, y0, x1, y1 in boxes))


def test_cli_track_reads_the_sequences_seqinfo(tmp_path):
    """In MOTChallenge's layout (SEQ/det/det.txt beside SEQ/seqinfo.ini) the frame rate and
    the image size come from seqinfo.ini; --image-size gives the size where there is none."""
    seq = tmp_path / "SEQ"
    _det_file(seq / "det" / "det.txt", _walk_out_and_in())
    out = tmp_path / "tracks.txt"

    def ids_at_the_end(*extra) -> set[int]:
        res = _walkout("track", "--det", str(seq / "det" / "det.txt"), "--out", str(out),
                       *extra)
        assert res.returncode == 0, res.stderr
        rows = read_mot(out)
        return set(rows[rows[:, 0] == 15, 1].astype(int).tolist())

    assert ids_at_the_end("--frame-rate", "7") == {1}  # no image size: the old id
    assert ids_at_the_end("--frame-rate", "7", "--image-size", "640x480") == {2}
    (seq / "seqinfo.ini").write_text("[Sequence]\nname=SEQ\nframeRate=7\nimWidth=640\n"
                                     "imHeight=480\n")
    assert ids_at_the_end() == {2}
    assert ids_at_the_end("--frame-rate", "30") == {2}


@pytest.mark.parametrize("ini, message", [
    ("[Sequence]\nframeRate=7\nimWidth=640\n", "imHeight: expected a positive number, "
                                                 "got nothing"),
    ("[Sequence]\nframeRate=x\nimWidth=640\nimHeight=480\n", "frameRate: expected a "
                                                               "positive number, got 'x'"),
    ("frameRate=7\n", "not an ini file"),
    ("[Other]\nframeRate=7\n", "expected a [Sequence] section"),
])
def test_cli_track_names_a_bad_seqinfo(tmp_path, ini, message):
    seq = tmp_path / "SEQ"
    _det_file(seq / "det" / "det.txt", [[[10, 20, 40, 80]]])
    (seq / "seqinfo.ini").write_text(ini)
    out = tmp_path / "tracks.txt"
    res = _walkout("track", "--det", str(seq / "det" / "det.txt"), "--out", str(out))
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert "seqinfo.ini" in res.stderr and message in res.stderr, res.stderr
    assert not out.exists()


def test_cli_track_refuses_a_bad_image_size(tmp_path):
    det = tmp_path / "det.txt"
    _det_file(det, [[[10, 20, 40, 80]]])
    res = _walkout("track", "--det", str(det), "--out", str(tmp_path / "t.txt"),
                   "--image-size", "640by480")
    assert res.returncode == 2 and "expected WIDTHxHEIGHT" in res.stderr


def test_virtual_path_equals_the_batched_steps():
    rng = np.random.default_rng(5)
    boxes = rng.uniform(0, 100, (3, 4))
    boxes[:, 2:] += boxes[:, :2] + 10
    S0 = pack(np.hstack([boxes, rng.normal(0, 2, (3, 4))]),
              initial_covariance(boxes) * rng.uniform(0.5, 2, (3, 3, 4)))
    z1 = boxes + rng.normal(0, 3, (3, 4)) + 20
    for gap in (0, 1, 4):
        S = S0.copy()
        for step in range(1, gap + 1):  # predict, update on the line from z0 to z1
            batch_predict(S)
            S = batch_update(S, boxes + (z1 - boxes) * step / (gap + 1))
        batch_predict(S)
        for i in range(3):
            path = virtual_path(S0[i].tolist(), boxes[i].tolist(), z1[i].tolist(), gap)
            np.testing.assert_allclose(path, S[i], rtol=1e-10)



# ---- settings that follow the frame rate, and an unseen sequence -----------------------------
@pytest.mark.parametrize("fps, frames", [(30, (30, 3, 3)), (25, (25, 3, 3)), (10, (10, 1, 1)),
                                         (7, (7, 1, 1)), (60, (60, 6, 6))])
def test_durations_become_frames_at_the_frame_rate(fps, frames):
    """max_age_s, coast_s and momentum_s are seconds: (max_age, coast, momentum) frames
    (coasting 0.1 s as the store pipeline sets it; none by default)."""
    assert TrackerConfig(coast_s=0.1).frames(fps) == frames
    t = Tracker(frame_rate=fps, coast_s=0.1)
    assert (t.max_age, t.coast_frames, t.momentum_frames) == frames
    assert Tracker(frame_rate=fps).coast_frames == 0


@pytest.mark.parametrize("fps", [10, 25, 30])
def test_a_track_is_kept_for_the_same_time_at_any_frame_rate(fps):
    """Hidden for 0.8 s the person keeps the id; hidden for 1.3 s, past max_age_s = 1 s,
    they get a new one, whatever the frame rate."""
    for hidden_s, ids in ((0.8, {1}), (1.3, {1, 2})):
        t = Tracker(frame_rate=fps)
        n = round(hidden_s * fps)
        frames = [[box(100, 200)]] * round(0.5 * fps) + [[]] * n + [[box(100, 200)]] * 5
        assert {i for f in run(t, frames).values() for i in f} == ids


def test_process_noise_per_second_does_not_depend_on_the_frame_rate():
    """The velocity variance a filter gains in one second, in pixels per second, is the same
    at 10, 25 and 30 fps (white-noise acceleration); the position's per-frame share scales
    with the frame interval."""
    gained = [fps * noise_scales(fps)[1] * fps**2 for fps in (10.0, 25.0, 30.0)]
    assert gained == pytest.approx([gained[-1]] * 3)
    assert noise_scales(30.0) == (1.0, 1.0) and noise_scales(10.0)[0] == pytest.approx(3.0)


def _store_sequence(seed: int, fps: float = 10.0):
    """A simulated `busy` store seen from the ceiling, with detector-like noise (as
    benchmarks/tracking.py builds them)."""
    sc = make_scenario("busy", seed, duration=60.0)
    view = View(640, 480)
    n = round(sc.duration * fps)
    gt = np.asarray([[k + 1, sid, b[0], b[1], b[2] - b[0], b[3] - b[1], 1, -1, -1, -1]
                     for k in range(n) for sid, b in gt_boxes(sc, view, k / fps).items()])
    det = noisy_detections(gt, n, (640, 480), np.random.default_rng(seed))
    return gt, det, view.homography


def test_default_beats_sort_on_an_unseen_store_sequence():
    """Seed 917 was used for no setting: the default is ahead of SORT on IDF1 and MOTA."""
    gt, det, H = _store_sequence(917)
    sort = evaluate_mot(gt, track_file("sort", det))
    ours = evaluate_mot(gt, track_file("default", det, frame_rate=10.0, homography=H))
    assert ours.idf1 > sort.idf1 + 0.2 and ours.mota > sort.mota


def _street_sequence(seed: int) -> dict:
    """A simulated street seen from head height (benchmarks/tracking.py street_sequence)."""
    spec = importlib.util.spec_from_file_location(
        "tracking_benchmark", Path(__file__).resolve().parents[1] / "benchmarks" / "tracking.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.street_sequence(seed)


@pytest.mark.parametrize("seed", [901, 902, 903, 904])  # 14, 7, 30 and 25 fps
def test_default_beats_sort_on_an_unseen_street_sequence(seed):
    """Street seeds 901-904 were used for no setting (round 1 explored 1-8 and 401-408, the
    benchmark reports 501-512): the default is ahead of SORT on IDF1 and MOTA."""
    s = _street_sequence(seed)
    det = np.vstack([np.c_[np.full(len(b), f), -np.ones(len(b)), b[:, :2], b[:, 2:] - b[:, :2],
                           sc, -np.ones((len(b), 3))] for f, b, sc in s["frames"]])
    sort = evaluate_mot(s["gt"], track_file("sort", det))
    ours = evaluate_mot(s["gt"], track_file("default", det, frame_rate=s["fps"],
                                            image_size=s["image_size"]))
    assert ours.idf1 > sort.idf1 and ours.mota > sort.mota
