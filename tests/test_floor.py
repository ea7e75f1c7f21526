"""Tracking on the floor from several calibrated cameras: boxes become floor positions with
an uncertainty, and one tracker in metres keeps each person while any camera sees them.
People are simulated as upright cylinders walking through the two-camera shop of
test_world_store.py, seen as the bounding boxes of their images (with seeded jitter)."""

from __future__ import annotations

import numpy as np
import pytest
from test_world_store import world_store, write

from walkout.config import load_store
from walkout.floor import HEIGHT_M, FloorTracker, floor_measurement

FPS = 10.0


@pytest.fixture(scope="module")
def cameras(tmp_path_factory):
    store = load_store(write(tmp_path_factory.mktemp("shop"), world_store()))
    return {c.id: c for c in store.world.cameras}


def box_of(cam, xy, height, heading=0.0, rng=None, jitter_px=2.0):
    """The box a detector draws around a person of ``height`` standing at floor ``xy``
    facing ``heading`` (radians) in ``cam``: the bounding box of the image of their body
    (an elliptic column, 0.48 m across the shoulders and 0.26 m chest to back, narrowing
    to a 0.2 m head), jittered; None when they are not (mostly) in the frame. Not the
    reader's own model (a round column of one height)."""
    a = np.linspace(0, 2 * np.pi, 16, endpoint=False)
    c, s = np.cos(heading), np.sin(heading)
    pts = []
    for z, (half_w, half_d) in ((0.0, (0.16, 0.14)), (0.5 * height, (0.22, 0.13)),
                                (0.82 * height, (0.24, 0.13)), (height, (0.10, 0.10))):
        u, v = half_d * np.cos(a), half_w * np.sin(a)   # forward, sideways
        pts.append(np.c_[xy[0] + c * u - s * v, xy[1] + s * u + c * v, np.full(16, z)])
    px, front = cam.calibration.project(np.concatenate(pts))
    if not front.all():
        return None
    x1, y1 = px.min(axis=0)
    x2, y2 = px.max(axis=0)
    cx1, cy1 = max(x1, 0), max(y1, 0)
    cx2, cy2 = min(x2, cam.width), min(y2, cam.height)
    if cx2 <= cx1 or cy2 <= cy1 or (cx2 - cx1) * (cy2 - cy1) < 0.8 * (x2 - x1) * (y2 - y1):
        return None
    box = np.array([x1, y1, x2, y2])
    return box + (rng.normal(0, jitter_px, 4) if rng is not None else 0.0)


def path(points, speed=1.2, stand=None):
    """Floor positions at FPS along straight legs between ``points`` at ``speed`` m/s;
    ``stand`` = (leg end index, seconds) waits there."""
    out = [np.asarray(points[0], float)]
    for k in range(1, len(points)):
        a, b = np.asarray(points[k - 1], float), np.asarray(points[k], float)
        n = max(1, int(round(np.hypot(*(b - a)) / speed * FPS)))
        out += [a + (b - a) * (i / n) for i in range(1, n + 1)]
        if stand and stand[0] == k:
            out += [b] * int(stand[1] * FPS)
    return np.array(out)


def people():
    """Two shoppers: A walks in, stands at the shelf, and walks to the exit; B crosses the
    shop towards the shelf and back out, passing A."""
    a = path([(0.7, 0.6), (2.5, 3.1), (5.5, 0.6)], stand=(1, 3.0))
    b = path([(5.4, 1.2), (1.6, 3.0), (1.0, 1.0)])
    n = max(len(a), len(b))

    def pad(p):   # the one who finishes first stands still at the end
        return np.r_[p, np.repeat(p[-1:], n - len(p), axis=0)]

    return {"A": (pad(a), 1.62), "B": (pad(b), 1.85)}, n


def run(cameras, use, hidden, seed=0):
    """Frames of both people through ``use`` cameras (ids); ``hidden``: (camera, person,
    t0, t1) spells a camera does not see someone. Returns per frame {person: (track,
    error m)} for the people a confirmed track covers."""
    rng = np.random.default_rng(seed)
    crowd, n = people()
    tracker = FloorTracker([cameras[c] for c in use])
    seen, visible = [], []
    for f in range(n):
        t = f / FPS
        boxes, owner = {}, {}
        for cid in use:
            rows = []
            for who, (pos, h) in crowd.items():
                if any(c == cid and w == who and t0 <= t < t1 for c, w, t0, t1 in hidden):
                    continue
                step = pos[min(f + 1, n - 1)] - pos[max(f - 1, 0)]
                heading = float(np.arctan2(step[1], step[0])) if step.any() else np.pi / 2
                b = box_of(cameras[cid], pos[f], h, heading, rng=rng)
                if b is not None:
                    owner[cid, len(rows)] = who
                    rows.append(b)
            boxes[cid] = np.array(rows).reshape(-1, 4)
        visible.append(set(owner.values()))
        out = {tid: np.array([x, y]) for tid, x, y in tracker.update(t, boxes)}
        frame = {}
        for tr in tracker.tracks:
            if tr.id in out and tr.seen_by:
                whos = {owner[c, k] for c, k in tr.seen_by.items()}
                assert len(whos) == 1, f"t={t:.1f}: track {tr.id} took boxes of {whos}"
                who = whos.pop()
                frame[who] = (tr.id, float(np.hypot(*(out[tr.id] - crowd[who][0][f]))))
        seen.append(frame)
    return seen, visible


def test_a_box_from_above_is_read_where_the_person_stands(cameras):
    """Straight below the lens and 2 m away from it, the box of a person of average height
    is read within 10 cm (a fifth of their width) of where they stand, though their box
    spans their feet and head images; the uncertainty is larger the further the person
    stands from the lens."""
    top = cameras["top"]
    errs, spreads = [], []
    for xy in ([3.0, 2.0], [1.6, 1.2], [4.4, 2.9]):
        z, cov = floor_measurement(top, box_of(top, xy, HEIGHT_M))
        errs.append(np.hypot(*(z - xy)))
        spreads.append(np.sqrt(np.linalg.eigvalsh(cov)[-1]))
    assert max(errs) < 0.10
    assert spreads[0] < spreads[1] and spreads[0] < spreads[2]


def test_an_oblique_camera_reads_the_feet(cameras):
    corner = cameras["corner"]
    for xy in ([2.5, 3.0], [4.0, 2.0]):
        z, _ = floor_measurement(corner, box_of(corner, xy, 1.85))
        assert np.hypot(*(z - xy)) < 0.10


def test_two_cameras_keep_each_shopper_on_one_track_through_a_hiding(cameras):
    """A is hidden from the top camera for 2.5 s while she stands at the shelf, and B from
    the corner camera for 1.5 s as he passes her: with both cameras each keeps one track
    from first sight to the end, within 25 cm of where they are (median under 10 cm)."""
    hidden = [("top", "A", 5.0, 7.5), ("corner", "B", 3.0, 4.5)]
    frames, visible = run(cameras, ["top", "corner"], hidden)
    for who in ("A", "B"):
        ids = [f[who][0] for f in frames if who in f]
        errs = [f[who][1] for f in frames if who in f]
        assert len(set(ids)) == 1, (who, sorted(set(ids)))
        # reported on every frame a camera sees them, once confirmed (3 ticks)
        missed = [k for k, (f, v) in enumerate(zip(frames, visible, strict=True))
                  if who in v and who not in f]
        assert missed == [0, 1], (who, missed)
        assert np.median(errs) < 0.10 and max(errs) < 0.25, (who, max(errs))


def test_one_camera_alone_loses_a_shopper_it_cannot_see(cameras):
    """The same 2.5 s hiding with the top camera alone: A's track ends, and she comes back
    on a new one (what the second camera saves)."""
    frames, _ = run(cameras, ["top"], [("top", "A", 5.0, 7.5)])
    ids = [f["A"][0] for f in frames if "A" in f]
    assert len(set(ids)) == 2
    assert not any("A" in f for f in frames[int(5.5 * FPS):int(7.4 * FPS)])


def test_floor_zones_follow_a_shopper_in_through_a_reach_and_out(tmp_path):
    """Floor tracks through FloorZones: A walks in through the entrance, stands half a metre
    in front of the shelves (within their reach zone in both views, and still in the corner
    camera's while the top camera cannot see her), then leaves by the exit; B turns up in
    the middle of the shop, so the cameras did not see him come in."""
    from walkout.zones.floor import FloorZones

    store = load_store(write(tmp_path, world_store()))
    cams = {c.id: c for c in store.world.cameras}
    zones = FloorZones(store)
    tracker = FloorTracker(list(cams.values()))
    crowd, n = people()
    rng = np.random.default_rng(0)
    hidden = ("top", "A", 5.0, 7.5)
    entered, exited, appeared, near_a = [], [], [], {}
    for f in range(n + 15):   # and 1.5 s of nobody seen at the end
        t = f / FPS
        boxes = {}
        for cid, cam in cams.items():
            rows = []
            for who, (pos, h) in crowd.items():
                if f >= n or ((cid, who) == hidden[:2] and hidden[2] <= t < hidden[3]):
                    continue
                b = box_of(cam, pos[f], h, rng=rng)
                if b is not None:
                    rows.append(b)
            boxes[cid] = np.array(rows).reshape(-1, 4)
        people_now = tracker.update(t, boxes)
        confirmed = {tid for tid, _, _ in people_now}
        views = {cid: (None, [(tr.id, boxes[cid][tr.seen_by[cid]]) for tr in tracker.tracks
                              if tr.id in confirmed and cid in tr.seen_by]) for cid in cams}
        scene = zones.update(t, people_now, views)
        entered += scene.entered
        exited += scene.exited
        appeared += scene.appeared + scene.unseen
        a = next((tid for tid, sid in zones.shopper_of.items() if sid == "1"), None)
        near_a[round(t, 1)] = {nr.shelf for nr in scene.near if nr.track == a}
    assert [s for s, _ in entered] == ["1"] and entered[0][1] < 0.5
    assert [s for s, _ in appeared] == ["2"]
    assert not scene.appeared   # nobody was missing when B turned up: he came in unseen
    assert [s for s, _ in exited] == ["1"]
    at_shelf = [near_a[round(k / FPS, 1)] for k in range(int(3.0 * FPS), int(5.5 * FPS))]
    hidden_top = [near_a[round(k / FPS, 1)] for k in range(int(5.0 * FPS), int(5.5 * FPS))]
    assert all(s == {"G1S1", "G1S2"} for s in at_shelf + hidden_top)
    assert near_a[1.0] == set()   # walking in, far from the shelves


def test_a_box_cut_by_the_frame_is_read_from_its_uncut_sides(cameras, monkeypatch):
    """A person partly out of the frame gets a box cut at the frame's edge (detectors clip
    to the image). Their floor position is read from the sides the frame did not cut:
    within 25 cm (half a body), and closer than reading the cut box as if it were whole."""
    import walkout.floor as floor

    cases = []
    for cam in cameras.values():
        for x in np.arange(-1.0, 7.0, 0.25):
            for y in np.arange(-1.0, 5.0, 0.25):
                box = box_of(cam, (x, y), HEIGHT_M)
                if box is None:
                    continue
                cut = np.clip(box, 0, [cam.width - 1, cam.height - 1] * 2)
                lost = 1 - np.prod(cut[2:] - cut[:2]) / np.prod(box[2:] - box[:2])
                if 0.05 < lost < 0.2:
                    cases.append((cam, np.array([x, y]), cut))
    assert len(cases) >= 20

    def errors():
        return np.array([np.hypot(*(floor_measurement(cam, cut)[0] - xy))
                         for cam, xy, cut in cases])

    read = errors()
    monkeypatch.setattr(floor, "CUT_PX", -1e9)   # no side counts as cut
    whole = errors()
    assert read.max() < 0.25, read.max()
    assert np.mean(read) < 0.8 * np.mean(whole), (np.mean(read), np.mean(whole))


def test_an_oblique_box_whose_feet_are_hidden_is_read_from_the_head(cameras, monkeypatch):
    """Behind a shelf or a nearer shopper an oblique camera sees only the top of a person:
    their box ends above their feet. Read as feet, its bottom puts them metres further off;
    read from the head (the two readings disagree by more than people's heights explain),
    within 0.5 m."""
    import walkout.floor as floor

    corner = cameras["corner"]
    cases = []
    for xy in ([2.5, 3.0], [4.0, 2.0], [3.0, 3.5], [1.5, 2.5]):
        x1, y1, x2, y2 = box_of(corner, xy, 1.75)
        cases.append((np.array(xy), np.array([x1, y1, x2, y1 + 0.5 * (y2 - y1)])))
    head = [np.hypot(*(floor_measurement(corner, b)[0] - xy)) for xy, b in cases]
    monkeypatch.setattr(floor, "HIDDEN_SLACK_M", np.inf)   # always the feet
    feet = [np.hypot(*(floor_measurement(corner, b)[0] - xy)) for xy, b in cases]
    assert max(head) < 0.5, head
    assert min(feet) > 1.0, feet


def test_a_person_seen_twice_by_one_camera_is_one_track(cameras):
    """A detector that boxes one person twice (a split box, 6 px off) does not make a
    second person: nobody stands closer to someone than two bodies allow."""
    top = cameras["top"]
    tracker = FloorTracker([top])
    for f in range(40):
        xy = np.array([2.0 + 0.05 * f, 2.0])
        b = box_of(top, xy, HEIGHT_M)
        people_now = tracker.update(f / FPS, {"top": np.array([b, b + 6.0])})
    assert len(people_now) == 1
    assert len({tr.id for tr in tracker.tracks}) == 1


def test_floor_zones_judge_reach_on_the_floor(tmp_path):
    """On the floor, a shopper standing at a shelf's front is near it, closest to the plate
    in front of them; one 1.5 m off is near nothing."""
    from walkout.zones.floor import FloorZones

    store = load_store(write(tmp_path, world_store()))
    zones = FloorZones(store)
    shelf = store.world.shelves[0]
    mid = shelf.plates[1]
    at = shelf.to_world(np.array([[(mid.x0 + mid.x1) / 2, -0.35, 0.0]]))[0, :2]
    off = shelf.to_world(np.array([[(mid.x0 + mid.x1) / 2, -1.5, 0.0]]))[0, :2]
    near = zones._floor_near(7, at)
    assert {n.shelf for n in near} == {s.id for s in store.world.shelves
                                       if np.allclose(s.origin[:2], shelf.origin[:2])}
    gaps = next(n for n in near if n.shelf == shelf.id).plate_gaps
    assert min(gaps, key=gaps.get) == mid.id
    assert zones._floor_near(7, off) == []


def test_a_weak_box_keeps_a_track_but_never_starts_one(cameras):
    """Boxes under the detector's counting confidence (ByteTrack's low ones) keep a person's
    track going but start nobody; a box lying inside one a track took (a head or an arm
    boxed again) starts nobody either."""
    top = cameras["top"]
    tracker = FloorTracker([top], start_confidence=0.45)
    a, b = np.array([2.0, 2.0]), np.array([4.0, 2.5])
    for f in range(20):
        box_a, box_b = box_of(top, a, HEIGHT_M), box_of(top, b, HEIGHT_M)
        part = np.r_[box_a[:2], (box_a[:2] + box_a[2:]) / 2]   # the top-left quarter of A
        score_b = 0.9 if f < 5 else 0.3                          # B: sure, then weak
        people_now = tracker.update(f / FPS, {"top": np.array([box_a, box_b, part])},
                                    scores={"top": np.array([0.9, score_b, 0.9])})
    assert len(people_now) == 2          # A and B; B kept by weak boxes; no third
    weak = FloorTracker([top], start_confidence=0.45)
    for f in range(20):
        out = weak.update(f / FPS, {"top": box_of(top, b, HEIGHT_M)[None]},
                          scores={"top": np.array([0.3])})
    assert out == [] and weak.tracks == []


def test_someone_first_seen_outside_the_door_is_not_a_shopper_until_they_come_in(tmp_path):
    """A camera that looks through a door sees the street. A floor track first reported
    beyond the entrance's wall becomes a shopper who enters when they cross the entrance
    (not one who `appeared` inside, whose receipt is flagged); one that only walks past
    outside never enters, nor does one first seen in the exit walking out; one first
    reported in the middle of the shop still appeared."""
    from walkout.zones.floor import FloorZones

    store = load_store(write(tmp_path, world_store()))
    zones = FloorZones(store)
    walk_in = path([(0.5, -1.5), (0.5, 2.0)])        # through the entrance (x 0-1, y 0-0.8)
    walk_by = path([(2.0, -1.0), (6.5, -1.0)])       # along the street, past both doors
    walk_out = path([(5.5, 0.6), (5.5, -0.8)])       # out through the exit (x 5-6, y 0-0.8)
    entered, appeared = [], []
    for f in range(max(len(walk_in), len(walk_by))):
        people = [(k, *p[min(f, len(p) - 1)]) for k, p in ((1, walk_in), (2, walk_by))]
        if f < len(walk_out):
            people.append((4, *walk_out[f]))
        if f >= 10:
            people.append((3, 3.0, 2.5))           # standing in the shop
        scene = zones.update(f / FPS, people, {})
        entered += [s for s, _ in scene.entered]
        appeared += [s for s, _ in scene.appeared + scene.unseen]
    assert entered == ["1"]
    assert appeared == [zones.shopper_of[3]]
    assert zones.shoppers["2"].state == "outside"
    assert zones.shoppers[zones.shopper_of[4]].state == "outside"


def visible_box(cam, xy, height, fixtures):
    """The box of what ``cam`` sees of a person (a 0.4 m column of ``height``) at floor
    ``xy``: the parts no shelving unit hides."""
    a = np.linspace(0, 2 * np.pi, 16, endpoint=False)
    pts = np.concatenate([np.c_[xy[0] + 0.2 * np.cos(a), xy[1] + 0.2 * np.sin(a),
                                np.full(16, z)] for z in np.linspace(0.0, height, 18)])
    eye = cam.calibration.t
    seen = []
    for p in pts:
        d = float(np.linalg.norm(p - eye))
        hit = fixtures.hit(eye, (p - eye) / d)
        seen.append(hit is None or np.linalg.norm(hit - eye) >= d - 1e-6)
    px, _ = cam.calibration.project(pts[np.array(seen)])
    return np.r_[px.min(axis=0), px.max(axis=0)], float(np.mean(seen))


def test_an_oblique_box_whose_feet_a_shelf_hides_is_read_above_it(tmp_path):
    """From the back right ceiling corner of the simulated store, the back wall's gondola
    hides the feet of people in the aisle in front of it: their box ends on the gondola's
    top edge, and that bottom, read as feet, lands behind them, with heads and feet too
    close to tell. Given the store's fixtures the reader knows the bottom is the
    gondola's edge, that the feet are nearer, and reads the head: within 0.25 m, where
    the bottom puts some of them 0.7 m off."""
    from test_sim_views import rig_store

    from walkout.floor import Fixtures

    store = rig_store(tmp_path, 4)
    cam, fixtures = store.world.camera("c4"), Fixtures.of(store.world)
    read, bottom = [], []
    for x in (2.6, 3.1, 3.6, 4.1, 4.6):
        xy = np.array([x, 5.0])
        box, share = visible_box(cam, xy, 1.75, fixtures)
        assert 0.5 < share < 0.8   # the legs hidden, the rest in view
        read.append(np.hypot(*(floor_measurement(cam, box, fixtures=fixtures)[0] - xy)))
        bottom.append(np.hypot(*(floor_measurement(cam, box)[0] - xy)))
    assert max(read) < 0.25, read
    assert max(bottom) > 0.6, bottom


def test_a_track_learns_its_height_and_reads_hidden_feet_by_it(tmp_path):
    """A short person (1.5 m) walks up the open floor toward the back wall's gondola, in
    full view of the back right corner camera, and stands in the aisle in front of it,
    where the gondola hides their legs. Read as a person of average height (1.7 m), their
    head puts them over half a metre nearer the lens. The tracker has read their height
    from the boxes that showed their feet and reads the hidden ones at it: within 0.15 m."""
    from test_sim_views import rig_store

    from walkout.floor import Fixtures

    store = rig_store(tmp_path, 4)
    cam, fixtures = store.world.camera("c4"), Fixtures.of(store.world)
    tracker = FloorTracker([cam], fixtures=fixtures)
    rng = np.random.default_rng(7)
    walk = path([(3.6, 3.7), (3.6, 5.0)], speed=0.6, stand=(1, 3.0))
    errs, alone = [], []
    for f, xy in enumerate(walk):
        box, share = visible_box(cam, xy, 1.5, fixtures)
        box = box + rng.normal(0, 1.0, 4)
        out = tracker.update(f / FPS, {"c4": box[None]})
        if xy[1] == 5.0:   # standing behind the gondola's top edge
            assert share < 0.8
            (_, x, y), = out
            errs.append(np.hypot(x - xy[0], y - xy[1]))
            alone.append(np.hypot(*(floor_measurement(cam, box, fixtures=fixtures)[0] - xy)))
    assert tracker.tracks[0].height == pytest.approx(1.5, abs=0.06)
    assert np.median(alone) > 0.5, alone
    assert max(errs[10:]) < 0.15, errs


def test_fixtures_are_solid_from_the_floor_to_their_top_shelf(tmp_path):
    """The test shop's gondola (two shelves, 2.0-3.5 m along x, 3.6-4.0 m deep, boards at
    0.3 and 1.2 m, 0.4 m clear each) is one solid up to 1.6 m: a ray from the corner is
    stopped at its front face or its top, one over it or beside it is not."""
    from walkout.floor import Fixtures

    fx = Fixtures.of(load_store(write(tmp_path, world_store())).world)
    assert fx.solids.shape == (1, 6) and fx.solids[0, 5] == pytest.approx(1.6)
    eye = np.array([2.5, 1.0, 3.0])

    def hit(target, eye=eye):
        d = np.asarray(target, float) - eye
        return fx.hit(eye, d / np.linalg.norm(d))

    front = hit([2.5, 4.5, 0.0])   # through the front face (y = 3.6) at 0.77 m up
    assert front == pytest.approx([2.5, 3.6, 3.0 * (1 - 2.6 / 3.5)], abs=1e-6)
    top = hit([3.0, 3.9, 0.0], eye=np.array([3.0, 3.7, 3.0]))   # down onto its top
    assert top == pytest.approx([3.0, 3.7 + 0.2 * 1.4 / 3.0, 1.6], abs=1e-6)
    assert hit([2.5, 5.0, 2.0]) is None   # over it
    assert hit([1.5, 4.5, 0.0]) is None   # beside it


def test_part_of_a_body_seen_from_above_is_read_with_the_doubt_of_what_is_missing(cameras):
    """From above, a shelf's top or a neighbour can hide most of a person, from the side
    nearer the lens: their box is the far quarter of a body, and its middle is off by
    3/8 of a body's image. The reader sees the box is shorter than a whole person there:
    the true position is well inside its uncertainty (its 80% ellipse; without that
    doubt it falls outside)."""
    top = cameras["top"]
    for xy in ([3.9, 2.5], [2.0, 2.6], [3.6, 1.1], [2.2, 1.3], [4.3, 2.0], [1.7, 1.8]):
        xy = np.array(xy)
        x1, y1, x2, y2 = box_of(top, xy, HEIGHT_M)
        toward = xy - top.calibration.t[:2]   # the image stretches away from the lens
        part = np.array([x1, y1, x2, y2])
        if abs(toward[0]) > abs(toward[1]):   # image x runs with world x
            part[0 if toward[0] > 0 else 2] = x2 - 0.25 * (x2 - x1) if toward[0] > 0 \
                else x1 + 0.25 * (x2 - x1)
        else:                                 # image y runs against world y
            part[3 if toward[1] > 0 else 1] = y1 + 0.25 * (y2 - y1) if toward[1] > 0 \
                else y2 - 0.25 * (y2 - y1)
        z, cov = floor_measurement(top, part)
        e = z - xy
        assert np.hypot(*e) > 0.2   # the quarter box's middle is off
        assert e @ np.linalg.solve(cov, e) < 3.22, (xy, e, cov)


def test_a_track_found_again_at_once_continues_its_shopper(tmp_path):
    """A track that ends and is found again a moment later (a new floor track 0.2 s on,
    before the shopper even counts as lost) continues that shopper: nobody `appeared`,
    so nothing is flagged. Someone new turning up elsewhere still appeared."""
    from walkout.zones.floor import FloorZones

    zones = FloorZones(load_store(write(tmp_path, world_store())))
    walk = path([(0.5, 0.2), (2.5, 2.8)], stand=(1, 2.0))
    appeared = []
    for f in range(len(walk)):
        k = 1 if f < 20 else 2                       # track 1 ends at 2.0 s
        people = [] if f in (20, 21) else [(k, *walk[f])]   # 0.2 s with no track
        if f >= 30:
            people.append((3, 4.5, 1.5))
        scene = zones.update(f / FPS, people, {})
        appeared += [s for s, _ in scene.appeared + scene.unseen]
    assert zones.shopper_of[1] == zones.shopper_of[2] == "1"
    assert appeared == [zones.shopper_of[3]]
