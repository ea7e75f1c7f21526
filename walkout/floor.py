"""Tracking on the floor: one tracker, in floor metres, fed by every calibrated camera.

Each camera's person boxes become floor positions with an uncertainty
(:func:`floor_measurement`):

- a person is modelled as an upright cylinder (``BODY_RADIUS_M`` round, ``HEIGHT_M``
  tall) whose image's bounding box is their box; the floor point is the one whose model
  box matches what is read of the real one (Newton's method on the calibration);
- an ``oblique`` camera reads the bottom middle of the box (the feet; the head may be cut
  off by the frame), an ``overhead`` one its middle (from above a person's image stretches
  away from the point below the lens, from the feet to the head); a side of the box cut by
  the frame's edge is not read, the opposite edge is;
- people differ in height by ``HEIGHT_SPREAD_M`` either way, so a point read from above is
  also uncertain along the line from the lens's foot point (parallax).

The box's own jitter (``box_jitter`` of its size, in pixels) is carried to the floor by the
model's Jacobian, so a box far from the camera counts less than one below it.

:class:`FloorTracker` keeps one constant-velocity Kalman filter (filterpy) per person in
floor metres. Each tick it predicts every track, then takes the cameras one after another:
their measurements are matched to the tracks by the Hungarian method (scipy) on the
Mahalanobis distance, gated at the 99% point of a chi-square with two degrees of freedom,
and each match updates its track (sequential updates are exact for cameras whose errors are
independent); a second pass gives a track left without a box the nearest one within
``jump_m`` (an arm's reach: a box's middle jumps when an arm goes into a shelf). With the
cameras' images, each track also keeps a colour model (:mod:`walkout.zones.looks`), learnt
from its boxes that stand apart, and a match's cost adds the colour distance: where two
people's boxes merged and part again, their clothes say who is who. A person one camera
loses is kept by another. A measurement no track takes
starts a tentative track, which the next camera of the same tick can already confirm; a
track is confirmed after ``min_hits`` ticks with a measurement and dropped after ``max_age_s``
without one. Each track also learns its person's height from oblique boxes that show both
head and feet (:func:`box_height`); where a fixture hides the feet, the box is read at the
head of a person of that height (:func:`head_reading`), not of any height.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from filterpy.kalman import KalmanFilter
from scipy.optimize import linear_sum_assignment

from .config.world import CameraSpec
from .zones.looks import distance, look

# an adult of average height, give or take 0.2 m between a short and a tall one (the 5th
# and 95th percentiles are about 1.50 and 1.90 m)
HEIGHT_M = 1.7
HEIGHT_SPREAD_M = 0.2
# a standing body is modelled as an upright cylinder this wide around (half an adult's
# shoulder width, 0.4-0.5 m)
BODY_RADIUS_M = 0.22
# a track's colour model counts once 10 looks of it standing apart are averaged (a second
# at 10 fps), then follows it by 5% a look: clothing does not change, light and pose do
SETTLED_LOOKS = 10
LOOK_RATE = 0.05
# chi-square, 2 degrees of freedom, 99%: a measurement further than this (in its own and
# the track's uncertainty) is someone else
GATE_CHI2 = 9.21


@dataclass(frozen=True)
class Fixtures:
    """The store's shelving units as solids, each from the floor to the top of its highest
    shelf (a gondola's base and sides are closed): what hides a person's feet or body
    from a camera. One solid per footprint; ``solids`` rows are (x, y, yaw radians,
    length, depth, top), in the frame of :class:`walkout.config.world.ShelfBox`."""

    solids: np.ndarray   # (N, 6)

    @classmethod
    def of(cls, world) -> Fixtures:
        tops: dict[tuple, float] = {}
        for s in world.shelves:
            key = (round(s.origin[0], 3), round(s.origin[1], 3), round(s.yaw_deg, 3),
                   round(s.size[0], 3), round(s.size[1], 3))
            tops[key] = max(tops.get(key, 0.0), s.origin[2] + s.size[2])
        rows = [(x, y, np.radians(yaw), L, D, top) for (x, y, yaw, L, D), top in tops.items()]
        return cls(np.array(rows, float).reshape(-1, 6))

    def hit(self, origin: np.ndarray, direction: np.ndarray) -> np.ndarray | None:
        """Where the ray from ``origin`` along ``direction`` (world) first enters a solid,
        or None."""
        best = np.inf
        for x, y, yaw, L, D, top in self.solids:
            c, s = np.cos(yaw), np.sin(yaw)
            ox, oy = origin[0] - x, origin[1] - y
            o = np.array([ox * c + oy * s, -ox * s + oy * c, origin[2]])
            d = np.array([direction[0] * c + direction[1] * s,
                          -direction[0] * s + direction[1] * c, direction[2]])
            lo, hi = np.zeros(3), np.array([L, D, top])
            with np.errstate(divide="ignore", invalid="ignore"):
                a, b = (lo - o) / d, (hi - o) / d
            near = np.where(d == 0, np.where((o >= lo) & (o <= hi), -np.inf, np.inf),
                            np.minimum(a, b))
            far = np.where(d == 0, np.where((o >= lo) & (o <= hi), np.inf, -np.inf),
                           np.maximum(a, b))
            t0, t1 = float(near.max()), float(far.min())
            if t1 >= max(t0, 0.0) and max(t0, 0.0) < best:
                best = max(t0, 0.0)
        return None if not np.isfinite(best) else origin + best * direction


@dataclass(frozen=True)
class FloorParams:
    """The floor tracker's settings, each a property of people or cameras."""

    # a person walks at up to about 1.5 m/s and starts or stops within about half a second
    # (turning to a shelf, stopping at it): accelerations of 2-3 m/s^2, the white-noise
    # acceleration of the filter
    accel_m_s2: float = 2.0
    # a detector's box moves by about 5% of its size from frame to frame on a still person
    box_jitter: float = 0.05
    # a person unseen by every camera for a second has walked out of the modelled spot
    # (1.5 m at a walking pace): the track ends
    max_age_s: float = 1.0
    # three ticks with a measurement before a track is reported: one-frame false boxes
    # (a detector's flicker) never become people
    min_hits: int = 3
    # a new track starts with this speed uncertainty: anything up to a brisk walk
    init_speed_m_s: float = 1.5
    # how far a box's middle can jump from its track when the person does not move: an arm
    # stretched into a shelf (0.7 m) or a bag swung out; a box that far off an unmatched
    # track is still its person (second pass), counted with that much more uncertainty
    jump_m: float = 0.8
    # two tracks closer than two people can stand for a second (ten frames of a person
    # walking past another, which takes a fraction of that) are one person followed twice
    merge_s: float = 1.0


def floor_measurement(cam: CameraSpec, box, params: FloorParams = FloorParams(),
                      fixtures: Fixtures | None = None
                      ) -> tuple[np.ndarray, np.ndarray] | None:
    """A person box (x1, y1, x2, y2 pixels) of ``cam`` as a floor position (x, y metres)
    and its 2x2 covariance; None when no floor point explains it. With the store's
    ``fixtures``, an oblique box whose bottom ends on a shelving unit standing in front of
    the person (the feet behind a gondola) is read from its top, as one cut by the frame's
    bottom is."""
    m = _measure(cam, box, params, fixtures)
    return None if m is None else (m[0], m[1])


def _measure(cam: CameraSpec, box, params: FloorParams, fixtures: Fixtures | None
             ) -> tuple[np.ndarray, np.ndarray, str] | None:
    """:func:`floor_measurement`, and what it read of an oblique box with its head in the
    frame: ``feet`` (where they agree with the head of a person of average height),
    ``doubt`` (the feet, the head disagreeing), ``hidden`` (the bottom on a fixture) or
    ``head`` (the feet hidden by someone); ``other`` for the rest."""
    x1, y1, x2, y2 = (float(v) for v in box)
    sigma = params.box_jitter * max(x2 - x1, y2 - y1, 1.0)
    calib = cam.calibration
    if not calib.full:   # a floor homography alone: the box's middle, on the floor
        centre = np.array([(x1 + x2) / 2, (y1 + y2) / 2])
        return calib.to_floor(centre[None])[0], calib.floor_cov(centre, 0.0, sigma), "other"
    oblique = cam.view == "oblique"
    how = _reading(np.array([x1, y1, x2, y2]), cam, oblique)
    if how is None:
        return None
    xy = _read(calib, np.array([x1, y1, x2, y2]), how, oblique)
    if xy is None:
        return None
    doubt = np.zeros((2, 2))
    kind = "other"
    box = np.array([x1, y1, x2, y2])
    hidden = fixtures is not None and oblique and how[1] == "hi" \
        and _feet_hidden(calib, box, xy, fixtures)
    if hidden and y1 <= CUT_PX:   # the feet behind a fixture, the head cut by the frame
        return None
    if oblique and how[1] == "hi" and y1 > CUT_PX:
        # the feet may be hidden (behind a shelf, or a nearer shopper: the box then ends
        # above them) where the head rarely is: read from the head too
        head_how = (how[0], "lo")
        head = _read(calib, box, head_how, oblique)
        if head is not None:
            foot = calib.t[:2]
            dist = float(np.hypot(*(head - foot)))
            lens_h = float(calib.t[2])
            spread = HEIGHT_SPREAD_M * dist / max(lens_h - HEIGHT_M, 0.1)
            gap = float(np.hypot(*(head - xy)))
            kind = "feet"
            if hidden:
                # the bottom is a fixture's edge: the ray through it passes over the
                # fixture and meets the floor behind the person, so the feet are nearer
                # than it reads, and the head (within people's heights) says how much
                kind = "hidden"
                if dist < float(np.hypot(*(xy - foot))):
                    how, xy, head = head_how, head, xy
                doubt = np.outer(head - xy, head - xy)
            elif gap > spread + HIDDEN_SLACK_M:
                # they disagree by more than people's heights explain: the head is right
                kind = "head"
                how, xy = head_how, head
            elif gap > HIDDEN_SLACK_M:   # either may be right: as uncertain as they differ
                kind = "doubt"
                doubt = np.outer(head - xy, head - xy)
    # the box's jitter, carried to the floor through the fitted model (its Jacobian)
    J = _jacobian(calib, xy, how)
    Ji = np.linalg.inv(J)
    # a body is no point: where it stands is known to within a hand's width of its middle
    # (arms, a bag, a turned torso move the box's middle that far without a step)
    cov = Ji @ Ji.T * sigma**2 + doubt + np.eye(2) * BODY_SD_M**2
    # a box shorter than a whole body there is part of one (the rest hidden by a shelf or
    # a neighbour, on a side nothing says): a middle read of it may be off by half of what
    # is missing
    model = _model_box(calib, xy)
    short = np.array([model[2] - model[0] - (x2 - x1), model[3] - model[1] - (y2 - y1)])
    short = np.where([h == "mid" for h in how] & np.isfinite(short), np.maximum(short, 0), 0)
    cov = cov + Ji @ np.diag((short / 2) ** 2) @ Ji.T
    # the height spread: a shorter or taller person shifts the box's middle seen from above
    # along the line from the lens's foot point (the feet do not move with it)
    # (half the spread for the middle of a box, all of it for a head)
    away = xy - calib.t[:2]
    dist, lens_h = float(np.hypot(*away)), float(calib.t[2])
    share = 0.0 if how[1] == "hi" and oblique else 1.0 if oblique else 0.5
    if share and dist > 1e-6 and lens_h > HEIGHT_M:
        shift = share * HEIGHT_SPREAD_M * dist / (lens_h - HEIGHT_M)
        cov = cov + shift**2 * np.outer(away / dist, away / dist)
    return xy, cov, kind


# one clean oblique box (head and feet in view, the feet on the floor) shows a person's
# height to within a few centimetres (a box edge's pixel or two at 3-5 m); a track keeps
# the last HEIGHT_SAMPLES of them (5 s at 10 fps) and, from HEIGHT_MIN_SAMPLES on, their
# median as the person's height, known then to about HEIGHT_KNOWN_SD_M (a stoop, a step,
# hair and hats)
HEIGHT_SAMPLES = 50
HEIGHT_MIN_SAMPLES = 5
HEIGHT_KNOWN_SD_M = 0.05
# what a reading of a height may be: a child in the store to a very tall adult
HEIGHT_RANGE_M = (1.0, 2.3)


def _top_ray(calib, box: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    o, d = calib.rays(np.array([[(box[0] + box[2]) / 2, box[1]]]))
    return o[0], d[0]


def box_height(calib, box: np.ndarray, feet: np.ndarray) -> float | None:
    """The height of a person standing at floor ``feet`` whose box's top is ``box``'s:
    where the ray through the top's middle passes over their feet."""
    o, d = _top_ray(calib, box)
    run = float(np.hypot(*d[:2]))
    if run < 1e-9:
        return None
    s = float(np.dot(np.asarray(feet, float) - o[:2], d[:2])) / run**2
    h = float(o[2] + s * d[2])
    return h if HEIGHT_RANGE_M[0] <= h <= HEIGHT_RANGE_M[1] else None


def head_reading(cam: CameraSpec, box: np.ndarray, height: float, params: FloorParams
                 ) -> tuple[np.ndarray, np.ndarray] | None:
    """An oblique box read from its top alone for a person of known ``height``: the floor
    point below where the ray through the top's middle is at that height, and its
    covariance (the box's jitter there, a body's spread, the height's own doubt carried
    along the line from the lens)."""
    calib = cam.calibration
    o, d = _top_ray(calib, box)
    if d[2] >= -1e-9 or o[2] <= height + 0.1:
        return None
    xy = (o + (height - o[2]) / d[2] * d)[:2]
    sigma = params.box_jitter * max(box[2] - box[0], box[3] - box[1], 1.0)
    top = np.array([(box[0] + box[2]) / 2, box[1]])
    cov = calib.floor_cov(top, height, sigma) + np.eye(2) * BODY_SD_M**2
    away = xy - o[:2]
    dist = float(np.hypot(*away))
    if dist > 1e-6:
        shift = HEIGHT_KNOWN_SD_M * dist / (o[2] - height)
        cov = cov + shift**2 * np.outer(away / dist, away / dist)
    return xy, cov


def _read(calib, box: np.ndarray, how: tuple[str, str], oblique: bool) -> np.ndarray | None:
    """The floor point of a box read as ``how``. Newton starts on the ray through the read
    point at the height it shows: the feet (the bottom of an oblique view's box), a head
    (its top), or a body's middle from above."""
    start_h = (0.0 if how[1] == "hi" else HEIGHT_M) if oblique else HEIGHT_M / 2
    return _fit(calib, _features(box, how), how, start_h)


_ANGLES = np.linspace(0.0, 2 * np.pi, 12, endpoint=False)
_RING = np.c_[np.cos(_ANGLES), np.sin(_ANGLES)] * BODY_RADIUS_M


def _model_box(calib, xy: np.ndarray) -> np.ndarray:
    """The box of a person of ``HEIGHT_M`` standing at ``xy``: the bounding box of the
    image of an upright cylinder of ``BODY_RADIUS_M``; NaN if any of it is behind the lens."""
    return _model_boxes(calib, np.asarray(xy, float)[None])[0]


_CYLINDER = np.r_[np.c_[_RING, np.zeros(len(_RING))], np.c_[_RING, np.full(len(_RING), HEIGHT_M)]]


def _model_boxes(calib, xys: np.ndarray) -> np.ndarray:
    """:func:`_model_box` of each floor point of ``xys`` (M, 2), in one projection."""
    pts = (_CYLINDER[None] + np.c_[xys, np.zeros(len(xys))][:, None]).reshape(-1, 3)
    if np.any(calib.dist):
        px, front = calib.project(pts)
    else:   # a distortion-free pinhole, without OpenCV's per-call overhead
        cam = (pts - calib.t) @ calib.R
        front = cam[:, 2] > 1e-9
        px = (cam[:, :2] / np.where(front, cam[:, 2], 1.0)[:, None]) @ calib.K[:2, :2].T \
            + calib.K[:2, 2]
    px = px.reshape(len(xys), len(_CYLINDER), 2)
    out = np.c_[px.min(axis=1), px.max(axis=1)]
    out[~front.reshape(len(xys), -1).all(axis=1)] = np.nan
    return out


# a box edge within this many pixels of the frame's edge is cut by the frame
CUT_PX = 2.0
# two people's middles are never closer than this: chest to back, pressed in a crowd, 0.25
# to 0.3 m; side by side, shoulders touching, 0.4 m and more
PERSON_GAP_M = 0.3
# how far a body's box middle strays from where the body stands, without a step: a hand's
# width (arms, a bag, a turned torso)
BODY_SD_M = 0.1
# beyond what people's heights explain, a head and the feet of one box may disagree by a
# body's width (a leg stepping out, a bag) before the feet count as hidden
HIDDEN_SLACK_M = 0.45


def _reading(box: np.ndarray, cam: CameraSpec, oblique: bool) -> tuple[str, str] | None:
    """What to read of a box along x and along y: its middle (``mid``), or one edge
    (``lo`` the left/top one, ``hi`` the right/bottom one). From above the middle; at an
    angle the bottom along y (the feet; a head may be out of the frame). A side cut by the
    frame's edge says nothing of where the person ends: the other edge is read instead;
    None when both sides of an axis are cut."""
    x1, y1, x2, y2 = box
    lo_x, lo_y = x1 <= CUT_PX, y1 <= CUT_PX
    hi_x, hi_y = x2 >= cam.width - 1 - CUT_PX, y2 >= cam.height - 1 - CUT_PX

    def axis(lo: bool, hi: bool, prefer: str) -> str | None:
        if lo and hi:
            return None
        if lo or hi:
            return "hi" if lo else "lo"
        return prefer

    ax, ay = axis(lo_x, hi_x, "mid"), axis(lo_y, hi_y, "hi" if oblique else "mid")
    return None if ax is None or ay is None else (ax, ay)


# how far below a box to look for what ends it: a few pixels, or a twentieth of the box
# (a detector's box edge is that loose)
PAST_PX = 3.0
PAST_SHARE = 0.05


def _feet_hidden(calib, box: np.ndarray, xy: np.ndarray, fixtures: Fixtures) -> bool:
    """Whether an oblique box's bottom ends on a fixture standing between the lens and the
    person read at ``xy``: the pixel just below the bottom's middle looks at a solid
    nearer the lens (along the floor) than the person's near edge, so the bottom is where
    the fixture starts, not where the feet are. (From above the same test says little: a
    person stands at a fixture's edge, their box touching its top, with nothing hidden.)"""
    x1, y1, x2, y2 = box
    below = max(PAST_PX, PAST_SHARE * (y2 - y1))
    o, d = calib.rays(np.array([[(x1 + x2) / 2, y2 + below]]))
    hit = fixtures.hit(o[0], d[0])
    if hit is None:
        return False
    foot = calib.t[:2]
    return float(np.hypot(*(hit[:2] - foot))) < float(np.hypot(*(xy - foot))) - BODY_RADIUS_M


def _features(box: np.ndarray, how: tuple[str, str]) -> np.ndarray:
    """The reading ``how`` (:func:`_reading`) of a box."""
    x1, y1, x2, y2 = box
    pick = {"lo": lambda a, b: a, "hi": lambda a, b: b, "mid": lambda a, b: (a + b) / 2}
    return np.array([pick[how[0]](x1, x2), pick[how[1]](y1, y2)])


_STEPS = np.array([[0.0, 0.0], [0.01, 0.0], [-0.01, 0.0], [0.0, 0.01], [0.0, -0.01]])


def _model_and_jacobian(calib, xy: np.ndarray, how: tuple[str, str]
                        ) -> tuple[np.ndarray, np.ndarray]:
    """The features of the model box at ``xy`` and their derivative by the floor point
    (central differences of a centimetre), from one projection of five model boxes."""
    f = [_features(b, how) for b in _model_boxes(calib, xy + _STEPS)]
    return f[0], np.column_stack([(f[1] - f[2]) / 0.02, (f[3] - f[4]) / 0.02])


def _jacobian(calib, xy: np.ndarray, how: tuple[str, str]) -> np.ndarray:
    """d(features)/d(floor point) at ``xy``."""
    return _model_and_jacobian(calib, xy, how)[1]


def _fit(calib, seen: np.ndarray, how: tuple[str, str], start_h: float,
         steps: int = 6) -> np.ndarray | None:
    """The floor point whose model box (:func:`_model_box`) reads as ``seen``: Newton's
    method from the ray through the read point at ``start_h`` metres up."""
    pixel = seen[None]
    xy = calib.to_floor(pixel, start_h)[0]
    for _ in range(steps):
        if not np.isfinite(xy).all():
            return None
        model, J = _model_and_jacobian(calib, xy, how)
        r = model - seen
        if not (np.isfinite(J).all() and np.isfinite(r).all()) \
                or abs(np.linalg.det(J)) < 1e-12:
            return None
        step = np.linalg.solve(J, r)
        xy = xy - step
        if float(np.hypot(*step)) < 1e-3:   # a millimetre: converged
            break
    return xy if np.isfinite(xy).all() else None


# a box lying this much inside a box a track already took is part of that person (a
# detector's second box on one body: a head, legs, an arm stretched out)
PART_SHARE = 0.6


def _part_of(boxes: np.ndarray, k: int, held: list[int]) -> bool:
    """Whether box ``k`` lies ``PART_SHARE`` or more inside one of the ``held`` boxes."""
    b = boxes[k]
    area = max((b[2] - b[0]) * (b[3] - b[1]), 1e-9)
    for h in held:
        o = boxes[h]
        w = min(b[2], o[2]) - max(b[0], o[0])
        ht = min(b[3], o[3]) - max(b[1], o[1])
        if w > 0 and ht > 0 and w * ht >= PART_SHARE * area:
            return True
    return False


@dataclass
class _Track:
    id: int
    kf: KalmanFilter
    hits: int = 1
    last_seen: float = 0.0
    confirmed: bool = False
    seen_by: dict[str, int] = field(default_factory=dict)   # camera -> box index this tick
    doubled_since: float | None = None   # when another track came as close as this one
    look: np.ndarray | None = None    # colour model (walkout.zones.looks), None: no image yet
    looks: int = 0                    # looks learnt into it
    heights: list[float] = field(default_factory=list)   # heights read of it, the latest last

    @property
    def height(self) -> float | None:
        """The person's height (the median of the readings), once there are enough."""
        if len(self.heights) < HEIGHT_MIN_SAMPLES:
            return None
        return float(np.median(self.heights))


class FloorTracker:
    """People on the floor from every camera's boxes (see the module doc). ``update`` once
    a tick with each camera's boxes; it returns the confirmed tracks."""

    def __init__(self, cameras: tuple[CameraSpec, ...] | list[CameraSpec],
                 params: FloorParams | None = None, start_confidence: float = 0.0,
                 fixtures: Fixtures | None = None) -> None:
        """``start_confidence``: the least detector score of a box that starts a track
        (weaker ones only keep tracks going, as ByteTrack's second pass). ``fixtures``:
        the store's shelving units, for boxes a fixture cuts (:func:`floor_measurement`)."""
        self.cameras = {c.id: c for c in cameras}
        self.fixtures = fixtures
        self.start_confidence = start_confidence
        self.params = params or FloorParams()
        self.tracks: list[_Track] = []
        self._boxes: dict[str, np.ndarray] = {}          # this tick's boxes by camera
        self._kinds: dict[str, dict[int, str]] = {}      # what each was read as
        self._next_id = 1
        self._t: float | None = None

    def _new(self, t: float, xy: np.ndarray, cov: np.ndarray) -> _Track:
        kf = KalmanFilter(dim_x=4, dim_z=2)
        kf.x = np.array([xy[0], xy[1], 0.0, 0.0])
        kf.P = np.diag([1.0, 1.0, self.params.init_speed_m_s**2,
                        self.params.init_speed_m_s**2])
        kf.P[:2, :2] = cov
        kf.H = np.array([[1.0, 0, 0, 0], [0, 1.0, 0, 0]])
        tr = _Track(self._next_id, kf, last_seen=t)
        self._next_id += 1
        self.tracks.append(tr)
        return tr

    def _predict(self, dt: float) -> None:
        q = self.params.accel_m_s2**2
        F = np.array([[1, 0, dt, 0], [0, 1, 0, dt], [0, 0, 1, 0], [0, 0, 0, 1]], float)
        # white-noise acceleration, per axis: [dt^4/4, dt^3/2; dt^3/2, dt^2] q
        g = np.array([[dt**4 / 4, dt**3 / 2], [dt**3 / 2, dt**2]]) * q
        Q = np.zeros((4, 4))
        Q[np.ix_([0, 2], [0, 2])] = g
        Q[np.ix_([1, 3], [1, 3])] = g
        for tr in self.tracks:
            tr.kf.F, tr.kf.Q = F, Q
            tr.kf.predict()

    def _colour(self, tr: _Track, seen: np.ndarray | None) -> float:
        """The colour part of a match's cost: the colour distance (0 same .. 1 disjoint)
        weighed so that nothing in common counts as much as a position at the edge of the
        gate; 0 until the track's model is settled or without an image."""
        if seen is None or tr.look is None or tr.looks < SETTLED_LOOKS:
            return 0.0
        return GATE_CHI2 * distance(tr.look, seen)

    def _learn(self, cam_id: str, boxes: np.ndarray, meas: list, seen: list) -> None:
        """Each track's colour model takes this camera's look of it, when its box stands
        apart (a box touching another holds some of that person): the mean of the first
        ``SETTLED_LOOKS``, then following at ``LOOK_RATE``."""
        index = {k: j for j, (k, _) in enumerate(meas)}
        grown = boxes + np.c_[-(w := 0.1 * (boxes[:, 2:] - boxes[:, :2])), w]
        for tr in self.tracks:
            k = tr.seen_by.get(cam_id)
            if k is None or seen[index[k]] is None:
                continue
            others = np.delete(grown, k, axis=0)
            b = grown[k]
            if len(others) and np.any((others[:, 0] < b[2]) & (others[:, 2] > b[0])
                                      & (others[:, 1] < b[3]) & (others[:, 3] > b[1])):
                continue
            x = seen[index[k]]
            if tr.look is None or tr.looks < SETTLED_LOOKS:
                tr.look = x if tr.look is None else (tr.look * tr.looks + x) / (tr.looks + 1)
            else:
                tr.look = (1 - LOOK_RATE) * tr.look + LOOK_RATE * x
            tr.looks += 1

    def _assign(self, cam_id: str, meas: list, cost: np.ndarray, taken: set[int],
                extra_var: float) -> None:
        """Hungarian on ``cost`` (1e6: not allowed); each match updates its track with its
        measurement, its variance raised by ``extra_var`` (m^2) on both axes."""
        if not cost.size:
            return
        rows, cols = linear_sum_assignment(cost)
        for i, j in zip(rows, cols, strict=True):
            if cost[i, j] >= 1e6:
                continue
            tr = self.tracks[i]
            k, (z, R) = meas[j]
            z, R = self._known_height(tr, cam_id, k, z, R)
            tr.kf.update(z, R=R + extra_var * np.eye(2))
            tr.seen_by[cam_id] = k
            taken.add(j)

    def _known_height(self, tr: _Track, cam_id: str, k: int, z: np.ndarray, R: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray]:
        """The measurement of box ``k`` (this tick's boxes of ``cam_id``) for track
        ``tr``. An oblique box read at its feet, with its head in view, shows the
        person's height (kept in the track's heights). One whose feet a fixture hides is
        read at the head of a person of the track's height: a person of any height, read
        there, is off by up to a metre at 4 m (the head's ray falls 1.3 m over that
        distance from a 3 m ceiling); one of known height, by a tenth of that."""
        box, kind = self._boxes[cam_id][k], self._kinds[cam_id][k]
        cam = self.cameras[cam_id]
        if kind in ("feet", "doubt"):
            h = box_height(cam.calibration, box, z)
            if h is not None:
                tr.heights = [*tr.heights[-(HEIGHT_SAMPLES - 1):], h]
        height = tr.height
        if kind != "hidden" or height is None:
            return z, R
        read = head_reading(cam, box, height, self.params)
        return (z, R) if read is None else read

    def _occupied(self, z: np.ndarray) -> bool:
        """Whether a confirmed track stands where ``z`` is: closer than two people can be
        (a box there is that person seen again, not someone new)."""
        return any(tr.confirmed and np.hypot(*(tr.kf.x[:2] - z)) < PERSON_GAP_M
                   for tr in self.tracks)

    def _merge(self, t: float) -> None:
        """Two confirmed tracks closer than two people can be for ``merge_s`` are one
        person followed twice: the younger goes."""
        live = [tr for tr in self.tracks if tr.confirmed]
        gone = set()
        for tr in live:
            other = min((o for o in live if o.id < tr.id and o.id not in gone),
                        key=lambda o: np.hypot(*(o.kf.x[:2] - tr.kf.x[:2])), default=None)
            if other is None or np.hypot(*(other.kf.x[:2] - tr.kf.x[:2])) >= PERSON_GAP_M:
                tr.doubled_since = None
                continue
            if tr.doubled_since is None:
                tr.doubled_since = t
            if t - tr.doubled_since >= self.params.merge_s:
                gone.add(tr.id)
        if gone:
            self.tracks = [tr for tr in self.tracks if tr.id not in gone]

    def update(self, t: float, boxes: dict[str, np.ndarray],
               images: dict[str, np.ndarray] | None = None,
               scores: dict[str, np.ndarray] | None = None) -> list[tuple[int, float, float]]:
        """One tick at ``t`` seconds: each camera's person boxes (camera id -> (N, 4)
        xyxy), and its image when given (for the colour models). Returns ``(track id, x,
        y)`` of the confirmed tracks; :attr:`tracks` holds, per track, which box of each
        camera it took (``seen_by``). ``scores`` (camera id -> (N,)): the boxes' detector
        scores, for ``start_confidence``."""
        p = self.params
        images = images or {}
        if self._t is not None and t > self._t:
            self._predict(t - self._t)
        self._t = t
        for tr in self.tracks:
            tr.seen_by = {}
        for cam_id, cam_boxes in boxes.items():
            cam = self.cameras[cam_id]
            cam_boxes = np.asarray(cam_boxes, float).reshape(-1, 4)
            read = [_measure(cam, b, p, self.fixtures) for b in cam_boxes]
            meas = [(k, (m[0], m[1])) for k, m in enumerate(read) if m is not None]
            self._boxes[cam_id] = cam_boxes
            self._kinds[cam_id] = {k: m[2] for k, m in enumerate(read) if m is not None}
            if not meas:
                continue
            image = images.get(cam_id)
            seen = [look(image, cam_boxes[k]) if image is not None else None for k, _ in meas]
            cost = np.full((len(self.tracks), len(meas)), 1e6)
            for i, tr in enumerate(self.tracks):
                if cam_id in tr.seen_by:
                    continue   # one box per person per camera
                x, P = tr.kf.x[:2], tr.kf.P[:2, :2]
                for j, (_, (z, R)) in enumerate(meas):
                    d = z - x
                    S = P + R
                    m2 = float(d @ np.linalg.solve(S, d))
                    if m2 <= GATE_CHI2:
                        cost[i, j] = m2 + self._colour(tr, seen[j])
            taken: set[int] = set()
            self._assign(cam_id, meas, cost, taken, 0.0)
            # second pass: a box whose middle jumped (an arm stretched into a shelf, a
            # bag swung out) still belongs to the track it left, within an arm's reach
            near = np.full((len(self.tracks), len(meas)), 1e6)
            for i, tr in enumerate(self.tracks):
                if cam_id in tr.seen_by:
                    continue
                for j, (_, (z, _)) in enumerate(meas):
                    d = float(np.hypot(*(z - tr.kf.x[:2])))
                    if j not in taken and d <= p.jump_m:
                        near[i, j] = d / p.jump_m * GATE_CHI2 + self._colour(tr, seen[j])
            self._assign(cam_id, meas, near, taken, (p.jump_m / 2) ** 2)
            score = None if scores is None else np.asarray(scores[cam_id], float)
            held = [tr.seen_by[cam_id] for tr in self.tracks if cam_id in tr.seen_by]
            for j, (k, (z, R)) in enumerate(meas):
                if j in taken or self._occupied(z) or _part_of(cam_boxes, k, held):
                    continue
                if score is None or score[k] >= self.start_confidence:
                    self._new(t, z, R).seen_by[cam_id] = k
            self._learn(cam_id, cam_boxes, meas, seen)
        out = []
        for tr in self.tracks:
            if tr.seen_by:
                if tr.last_seen < t:
                    tr.hits += 1
                tr.last_seen = t
                tr.confirmed = tr.confirmed or tr.hits >= p.min_hits
        self.tracks = [tr for tr in self.tracks if t - tr.last_seen <= p.max_age_s]
        self._merge(t)
        for tr in self.tracks:
            if tr.confirmed and tr.doubled_since is None:   # a double is not reported
                out.append((tr.id, float(tr.kf.x[0]), float(tr.kf.x[1])))
        return out
