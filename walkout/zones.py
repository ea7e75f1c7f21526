"""Zones: who is reaching into which shelf, who came in, who left.

:class:`Zones` turns each frame's tracks into a :class:`Scene`:

- **Reach presence.** For every track and shelf, the box is tested against the shelf's reach
  zone and its footprint (on an ``oblique`` camera, where a box covers several sections of
  an aisle, its feet are tested against the reach zone instead), and its *gap* to the
  shelf is measured: the distance from the
  part of the box nearest the shelf to the shelf polygon (0 when the box touches or
  overlaps it). Because the whole box counts, not its centre, an arm stretched into a shelf
  brings the gap to 0 even when the body stands back. Both tests run on rasterised maps
  (an integral image of the zone, a distance transform of the shelf) at a quarter of the
  image size, so a frame costs a few array slices per track and shelf geometry. When the
  box overlaps the shelf and the image is given, :class:`walkout.hands.Hands` adds the
  colour at the tip of the reach (``Near.hand``), for fusion to see an item in the hand
  (from above only: on an ``oblique`` camera there is no such tip).
- **Shoppers.** Track ids belong to the tracker; shopper ids belong to the store. A track
  first seen in the entrance zone starts a shopper (numbered 1, 2, ... in order). A track first
  seen elsewhere is held for ``pending_s``: if a shopper's track was lost in the meantime
  (unseen for ``lost_after_s``, not yet exited) and the new track starts no farther from
  where it was last seen than ``reid_margin_px + reid_speed_px_s * gap``, the new track
  continues that shopper (the nearest such). Otherwise it becomes a new shopper flagged
  ``lost_track``: someone the camera did not see come in. A track whose box overlaps a
  shopper's box waits until it stands apart: the detector sometimes finds one reaching
  shopper as two boxes (body and arm), and the second is not a person.
- **Identity repair.** When shoppers come close, the tracker can swap their ids or lose
  one of them. Each shopper keeps a colour model (an HSV histogram of their box: the mean
  of their first ten looks standing apart, then following slowly, and only looks that are
  clearly theirs). Every frame, the tracks of the shoppers standing apart, and of those
  beside someone without their boxes overlapping (IoU under ``look_overlap``: a shopper
  touching others for seconds at a shelf is still looked at, though never learnt from),
  are re-matched to the colour models (Hungarian on the Bhattacharyya distance); a
  matching that beats the current one by ``swap_gain`` in ``swap_frames`` looks in a row
  (one look every ``look_every`` frames; looks while they overlap someone neither count
  nor break the row) is applied. Each track changes hands at the moment, since those
  shoppers last started touching before the better matching was first seen, that a box
  showing its new shopper overlapped most a box showing its old one, where a tracker
  swaps ids (when no such boxes ever touched, say one was a track still pending, when the
  track overlapped any box most; failing that, from the start of that spell). Overlaps
  are kept per pair of tracks and read through the identities as they stand, so a crowd
  of three or more, or a pair an earlier repair has relabelled, is placed as well as two
  who swapped once.
  A shopper still seen after that moment on a track the repair leaves alone (a track lost
  since) moves to their new track only from when they were last seen there; until then
  that track shows what it showed, except a shopper the repair has put on another track
  that was there: no two tracks show one shopper at once.
  A new track that may continue a lost shopper is matched by colour too. A new track
  nobody lost explains, first seen within ``entrance_margin_px`` of the entrance (people
  walking in side by side are often found as two only once past it), has entered;
  anywhere else it is flagged ``lost_track``. Track -> shopper is therefore kept per time
  (:meth:`Zones.shopper_at`), and :meth:`Zones.busy` names the shoppers who touched
  someone within ``settle_s``, whose weight events fusion holds until that is settled.
- **Hidden shoppers.** Two people standing close are often found as one box, which carries
  on one of their tracks; the other shopper is lost though still there. While the place a
  lost shopper was last seen lies inside someone's current box (for at most ``hidden_s``),
  their reach is still reported, from their last box, marked ``held`` (:meth:`Zones._hold`).
- **Doors, debounced.** A shopper has entered once its anchor (box centre; feet on an
  oblique camera) has been inside the entrance zone for ``door_frames`` consecutive frames,
  and has exited after as many frames inside the exit zone; the time reported is the first
  of those frames, so box flicker at the zone edge never counts twice, and a track that
  vanishes while in the exit zone has exited too. A shopper lost for ``reid_window_s``
  without coming back is given up (``gone``); the carts flag that receipt ``lost_track``.
- **Dwell.** Each shopper's visits to each shelf (presence intervals, merged over gaps
  shorter than ``visit_gap_s``) are reported when they end.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import cv2
import numpy as np
from scipy.optimize import linear_sum_assignment

from .config import StoreConfig
from .hands import Hands
from .track import iou_batch
from .types import Detections

GRID = 4  # pixels per cell of the rasterised zone maps
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ZoneParams:
    door_frames: int = 3          # consecutive frames in a door zone that count as a crossing
    lost_after_s: float = 0.5     # a shopper unseen this long is lost (may be re-found)
    reid_window_s: float = 20.0   # a lost shopper not re-found within this is gone
    pending_s: float = 1.0        # how long a track seen first inside the store may wait
    entrance_margin_px: float = 60.0  # ... and first seen this close to the entrance: entered
    reid_margin_px: float = 60.0
    reid_speed_px_s: float = 160.0  # about 2 m/s at the simulator's 80 px/m
    visit_gap_s: float = 1.0      # presence gaps shorter than this do not end a visit
    touch_margin: float = 0.1     # boxes grown by this share of their size "touch"
    look_overlap: float = 0.05    # a touching box overlapping nobody's by this IoU is looked at
    swap_gain: float = 0.3        # colour distance a re-match must save to swap identities
    swap_frames: int = 3          # ... in as many looks in a row
    look_every: int = 2           # colours are looked at every this many frames
    look_rate: float = 0.05       # how fast a shopper's colour model follows them
    settle_s: float = 1.0         # events of shoppers who touched this recently wait
    min_visit_s: float = 0.3      # shorter visits are not reported
    hidden_s: float = 10.0        # a lost shopper inside someone's box is held this long


@dataclass(frozen=True)
class Visit:
    shopper_id: str
    shelf_id: str
    t_start: float
    t_end: float
    min_gap: float                  # in box sizes (see Near)


@dataclass(frozen=True)
class Near:
    """A track touching a shelf's reach zone (or the shelf), and how far it reaches, in box
    sizes (the box's longer side; an arm is about a body long seen from above): ``gap``
    from the box's nearest part to the shelf, and per plate how far the reach point (the
    middle of that nearest part) misses the plate (:func:`_plate_gap`)."""

    track: int
    shelf: str
    gap: float
    plate_gaps: dict[str, float]
    held: bool = False  # a box kept from earlier, not seen now (see Zones._hold)
    hand: tuple[float, float, float] | None = None  # colour at the reach's tip (hands.py)


@dataclass
class Scene:
    """One frame's zone output."""

    t: float
    track_ids: np.ndarray                     # (N,) tracker ids of the boxes
    boxes: np.ndarray                         # (N, 4) xyxy
    shoppers: list[str]                       # per box: shopper id, "" while undecided
    near: list[Near]                          # each track near each shelf
    entered: list[tuple[str, float]] = field(default_factory=list)
    exited: list[tuple[str, float]] = field(default_factory=list)
    appeared: list[tuple[str, float]] = field(default_factory=list)  # new inside the store
    gone: list[tuple[str, float]] = field(default_factory=list)      # lost for good
    visits: list[Visit] = field(default_factory=list)

    def reaching(self) -> dict[str, list[str]]:
        """Shopper id -> shelves reached into now (gap 0 or inside the reach zone)."""
        by_track = dict(zip(self.track_ids.tolist(), self.shoppers))
        out: dict[str, list[str]] = {}
        for n in self.near:
            s = by_track.get(n.track, "")
            if s:
                out.setdefault(s, []).append(n.shelf)
        return out


class _Map:
    """One polygon (and optionally the zone it is reached from) rasterised in GRID-pixel
    cells: occupancy of the zone as an integral image, and the distance to the polygon."""

    def __init__(self, poly: np.ndarray, zone_poly: np.ndarray | None, w: int, h: int) -> None:
        gw, gh = -(-w // GRID), -(-h // GRID)
        inside = np.zeros((gh, gw), np.uint8)
        cv2.fillPoly(inside, [np.round(poly / GRID).astype(np.int32)], 1)
        zone = inside.copy()
        if zone_poly is not None:
            cv2.fillPoly(zone, [np.round(zone_poly / GRID).astype(np.int32)], 1)
        self.integral = cv2.integral(zone)
        self.dist = cv2.distanceTransform((1 - inside).astype(np.uint8), cv2.DIST_L2, 5) * GRID
        self.gw, self.gh = gw, gh

    def _cells(self, box: np.ndarray) -> tuple[int, int, int, int]:
        x1, y1, x2, y2 = box / GRID
        c1 = min(max(int(x1), 0), self.gw - 1)
        r1 = min(max(int(y1), 0), self.gh - 1)
        c2 = min(max(int(np.ceil(x2)), c1 + 1), self.gw)
        r2 = min(max(int(np.ceil(y2)), r1 + 1), self.gh)
        return r1, r2, c1, c2

    def touches(self, box: np.ndarray) -> bool:
        r1, r2, c1, c2 = self._cells(box)
        ii = self.integral
        return bool(ii[r2, c2] - ii[r1, c2] - ii[r2, c1] + ii[r1, c1] > 0)

    def reach(self, box: np.ndarray) -> tuple[float, int, int]:
        """Pixels from the box's nearest part to the polygon (0 when they overlap), and the
        cell at the middle of that nearest part: the reach point."""
        r1, r2, c1, c2 = self._cells(box)
        d = self.dist[r1:r2, c1:c2]
        gap = float(d.min())
        rows, cols = np.nonzero(d <= gap + GRID)
        return gap, r1 + int(round(rows.mean())), c1 + int(round(cols.mean()))


def anchor(box: np.ndarray, oblique: bool) -> tuple[float, float]:
    """Where a person stands: the middle of their box seen from above, the bottom middle
    (the feet) seen at an angle."""
    x = float(box[0] + box[2]) / 2
    return (x, float(box[3])) if oblique else (x, float(box[1] + box[3]) / 2)


class Ignore:
    """Drops boxes standing in ``detector.ignore`` regions (fixtures the detector takes for
    people); "standing" is judged at the :func:`anchor`."""

    def __init__(self, store: StoreConfig) -> None:
        self.polys = [q.astype(np.float32) for q in store.detector.ignore]
        self.oblique = store.camera.view == "oblique"

    def __call__(self, dets: Detections) -> Detections:
        if not self.polys or not len(dets):
            return dets
        keep = np.array([not any(cv2.pointPolygonTest(q, anchor(b, self.oblique), False) >= 0
                                 for q in self.polys) for b in dets.xyxy], bool)
        return dets if keep.all() else dets[keep]


def _plate_gap(d_plate: float, depth: float) -> float:
    """How far a reach misses a plate: the sideways distance from the reach point to the
    plate, plus half the depth still missing to the shelf. Sideways counts fully because
    it says who stands in front of which plate even when the detector misses the arm."""
    side = np.sqrt(max(float(d_plate) ** 2 - depth**2, 0.0))
    return side + 0.5 * depth


def _look(image: np.ndarray, box: np.ndarray) -> np.ndarray:
    """A box's colour: a normalised 8x4x4 HSV histogram of its inner part."""
    h, w = image.shape[:2]
    x1, y1, x2, y2 = box
    dx, dy = (x2 - x1) * 0.1, (y2 - y1) * 0.1
    c1, r1 = int(max(x1 + dx, 0)), int(max(y1 + dy, 0))
    c2, r2 = int(min(x2 - dx, w)), int(min(y2 - dy, h))
    crop = image[r1:max(r2, r1 + 1), c1:max(c2, c1 + 1)]
    if crop.size == 0:
        return np.full(128, 1 / 128, np.float32)
    hsv = cv2.cvtColor(crop, cv2.COLOR_BGR2HSV)
    hist = cv2.calcHist([hsv], [0, 1, 2], None, [8, 4, 4], [0, 180, 0, 256, 0, 256]).ravel()
    return hist / max(float(hist.sum()), 1.0)


def _distance(a: np.ndarray, b: np.ndarray) -> float:
    """Bhattacharyya distance of two normalised histograms (0 same .. 1 disjoint)."""
    bc = float(np.sqrt(np.asarray(a, np.float64) * np.asarray(b, np.float64)).sum())
    return float(np.sqrt(max(0.0, 1.0 - min(bc, 1.0))))


@dataclass
class _Shopper:
    id: str
    track: int
    last_t: float
    last_xy: tuple[float, float]
    state: str = "outside"            # outside -> inside -> exited | gone
    door_run: int = 0                 # consecutive frames in the door zone now relevant
    door_t: float = 0.0               # first frame of that run
    lost: bool = False
    box: np.ndarray | None = None     # last box seen


class Zones:
    """Per-frame reach presence, door crossings and shopper identity (see the module doc)."""

    def __init__(self, store: StoreConfig, params: ZoneParams | None = None) -> None:
        self.store = store
        self.params = params or ZoneParams()
        if self.params.door_frames < 1:
            raise ValueError(f"door_frames: expected >= 1, got {self.params.door_frames}")
        w, h = store.camera.width, store.camera.height
        cache: dict[bytes, _Map] = {}

        def rasterise(poly: np.ndarray, zone: np.ndarray | None) -> _Map:
            key = poly.tobytes() + b"|" + (b"" if zone is None else zone.tobytes())
            if key not in cache:
                cache[key] = _Map(poly, zone, w, h)
            return cache[key]

        # per shelf: its map, and its plates' maps (plates without a polygon: none)
        self._maps = [(s.id, rasterise(s.polygon, s.reach_zone),
                       [(q.id, rasterise(q.polygon, None)) for q in s.plates
                        if q.polygon is not None])
                      for s in store.shelves]
        self._oblique = store.camera.view == "oblique"
        self._entrance = store.zones.entrance.astype(np.float32)
        self._exit = store.zones.exit.astype(np.float32)
        # the hand tip is the deepest point inside a shelf seen from above
        self._hands = None if self._oblique else Hands(store)
        self.reset()

    def reset(self) -> None:
        self.shoppers: dict[str, _Shopper] = {}
        self.shopper_of: dict[int, str] = {}        # track id -> shopper id
        self._pending: dict[int, tuple[float, tuple[float, float]]] = {}
        self._visits: dict[tuple[str, str], list[float]] = {}  # open: [t0, t_last, min_gap]
        self._mapping: dict[int, list[tuple[float, str]]] = {}  # track -> [(from t, shopper)]
        self._first: dict[int, float] = {}          # track -> first time it was seen
        self._seen: dict[int, float] = {}           # track -> last time it was seen
        self._looks: dict[str, np.ndarray] = {}     # shopper -> colour model
        self._look_n: dict[str, int] = {}
        self._touching: set[str] = set()            # shoppers touching someone now
        self._spells: dict[str, list[float]] = {}   # shopper -> starts of their latest spells
        self._last_touch: dict[str, float] = {}
        self._overlaps: dict[frozenset, list[tuple[float, float]]] = {}  # tracks -> (t, IoU)
        self._doubt: tuple | None = None            # (moves, first seen, frames in a row)
        self.repairs: list[tuple[float, tuple[str, ...]]] = []  # (from t, shoppers) applied
        self._t = 0.0
        self._frame_no = 0

    def shopper_at(self, track: int, t: float) -> str:
        """The shopper a track showed at time ``t`` ("" if none)."""
        if track < 0:  # a shopper held where last seen, under their lost track (_hold)
            track = -1 - track
        hist = self._mapping.get(track)
        if not hist:
            return ""
        for t_from, sid in reversed(hist):
            if t_from <= t:
                return sid
        return hist[0][1]

    # ---- one frame ---------------------------------------------------------------------------
    def update(self, t: float, tracks: Detections, image: np.ndarray | None = None) -> Scene:
        """One frame's tracks (and the image, for the colour models; without it no identity
        repair is done)."""
        ids = tracks.tracker_id if tracks.tracker_id is not None else np.zeros(0, np.int64)
        boxes = tracks.xyxy.astype(np.float64)
        scene = Scene(t, ids.copy(), boxes, [], [])
        centres = {}
        with_tips = image is not None and self._hands is not None
        if with_tips:
            self._hands.update(image, boxes)
        for tid, box in zip(ids.tolist(), boxes):
            centres[tid] = anchor(box, self._oblique)
            self._first.setdefault(tid, t)
            self._seen[tid] = t
            scene.near += self._near(tid, box, image=image if with_tips else None)
        self._t = t
        box_of = dict(zip(ids.tolist(), boxes))

        def look_of(tid: int) -> np.ndarray | None:
            return None if image is None else _look(image, box_of[tid])

        self._identify(t, centres, scene, look_of, box_of)
        if image is not None:
            self._repair(t, ids.tolist(), boxes, image)
        scene.shoppers = [self.shopper_of.get(tid, "") for tid in ids.tolist()]
        for tid, xy in centres.items():
            s = self.shoppers.get(self.shopper_of.get(tid, ""))
            if s is not None and s.track == tid:
                s.last_t, s.last_xy, s.lost, s.box = t, xy, False, box_of[tid]
                self._doors(s, t, xy, scene)
        self._lose(t, scene)
        self._hold(t, scene, box_of)
        self._dwell(t, scene)
        return scene

    def _near(self, track: int, box: np.ndarray, held: bool = False,
              image: np.ndarray | None = None) -> list[Near]:
        """The shelves a box touches, and how far it reaches into each (see :class:`Near`);
        with the ``image``, the colour at the tip of a reach into a shelf (gap 0)."""
        xy = anchor(box, self._oblique)
        where = np.array([xy[0] - 1, xy[1] - 1, xy[0] + 1, xy[1] + 1]) \
            if self._oblique else box
        size = max(float(box[2] - box[0]), float(box[3] - box[1]), 1.0)
        out = []
        seen: dict[int, tuple | None] = {}  # shelves of one gondola share a geometry
        tips: dict[int, tuple | None] = {}
        for shelf_id, m, plates in self._maps:
            if id(m) not in seen:
                seen[id(m)] = m.reach(box) if m.touches(where) else None
            hit = seen[id(m)]
            if hit is not None:
                gap, r, c = hit
                if image is not None and gap == 0 and id(m) not in tips:
                    tips[id(m)] = self._hands.tip(shelf_id, box, image)
                out.append(Near(track, shelf_id, gap / size,
                                {q: _plate_gap(pm.dist[r, c], gap) / size for q, pm in plates},
                                held, tips.get(id(m))))
        return out

    def finish(self, t: float) -> Scene:
        """End of the stream: close open visits (shoppers still inside keep their carts)."""
        scene = Scene(t, np.zeros(0, np.int64), np.zeros((0, 4)), [], [])
        for key in list(self._visits):
            self._close_visit(key, scene)
        return scene

    # ---- identity ----------------------------------------------------------------------------
    def _identify(self, t: float, centres: dict, scene: Scene, look_of,
                  boxes: dict[int, np.ndarray]) -> None:
        p = self.params
        for tid, xy in centres.items():
            if tid in self.shopper_of:
                continue
            if self._in(self._entrance, xy):
                self._pending.pop(tid, None)
                self._new(tid, t, xy, "outside")
                continue
            first = self._pending.setdefault(tid, (t, xy))
            lost = self._lost_candidate(t, first[1], look_of(tid))
            if lost is not None:
                del self._pending[tid]
                self._assign(tid, lost.id, first[0])
                lost.track, lost.lost = tid, False
            elif self._on_someone(tid, boxes):
                self._pending[tid] = (t, first[1])  # a second box on a shopper: wait
            elif t - first[0] >= p.pending_s:
                del self._pending[tid]
                s = self._new(tid, t, xy, "inside")
                if cv2.pointPolygonTest(self._entrance, first[1], True) >= -p.entrance_margin_px:
                    scene.entered.append((s.id, first[0]))  # came in hidden by someone
                else:
                    scene.appeared.append((s.id, first[0]))
        for tid in [k for k in self._pending if k not in centres]:
            if t - self._pending[tid][0] > p.pending_s:
                del self._pending[tid]  # a flicker that never became anyone

    def _on_someone(self, tid: int, boxes: dict[int, np.ndarray]) -> bool:
        """Whether track ``tid``'s box overlaps a shopper's box now. A track that starts
        inside the store on top of a shopper is most often a second box on them (an arm
        stretched into a shelf, half a body); a person who really was hidden there is
        told apart once the boxes separate."""
        x1, y1, x2, y2 = boxes[tid]
        for other, b in boxes.items():
            s = self.shoppers.get(self.shopper_of.get(other, ""))
            if (other != tid and s is not None and s.track == other
                    and min(x2, b[2]) > max(x1, b[0]) and min(y2, b[3]) > max(y1, b[1])):
                return True
        return False

    def _new(self, tid: int, t: float, xy, state: str) -> _Shopper:
        sid = str(len(self.shoppers) + 1)  # shoppers are numbered 1, 2, ... as they come
        s = _Shopper(sid, tid, t, xy, state=state)
        self.shoppers[sid] = s
        self._assign(tid, sid, t)
        return s

    def _assign(self, tid: int, sid: str, t_from: float) -> None:
        """Track ``tid`` shows shopper ``sid`` from ``t_from`` on."""
        self.shopper_of[tid] = sid
        hist = [h for h in self._mapping.get(tid, []) if h[0] < t_from]
        self._mapping[tid] = [*hist, (t_from, sid)]

    def _show(self, tid: int, sid: str, t_from: float, t_to: float) -> None:
        """Track ``tid`` shows shopper ``sid`` over ``[t_from, t_to)`` only."""
        hist = self._mapping[tid]
        then = [(t_to, self.shopper_at(tid, t_to))] if t_to < np.inf else []
        self._mapping[tid] = [h for h in hist if h[0] < t_from] + [(t_from, sid)] + then \
            + [h for h in hist if h[0] > t_to]

    # ---- identity repair -------------------------------------------------------------------
    def _repair(self, t: float, ids: list[int], boxes: np.ndarray, image: np.ndarray) -> None:
        p = self.params
        mine = [(k, self.shopper_of[tid]) for k, tid in enumerate(ids)
                if self.shopper_of.get(tid) and self.shoppers[self.shopper_of[tid]].track == tid]
        if not mine:
            return
        b = boxes[[k for k, _ in mine]]
        grow = np.maximum(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1])[:, None] * p.touch_margin
        g = np.c_[b[:, :2] - grow, b[:, 2:] + grow]
        touch = ((g[:, None, 0] < g[None, :, 2]) & (g[None, :, 0] < g[:, None, 2])
                 & (g[:, None, 1] < g[None, :, 3]) & (g[None, :, 1] < g[:, None, 3]))
        np.fill_diagonal(touch, False)
        iou = np.zeros(touch.shape)
        if touch.any():   # how much touching pairs overlap: a swap is likeliest at the most
            iou = iou_batch(b, b)
            for i, j in zip(*np.nonzero(np.triu(touch))):
                pair = self._overlaps.setdefault(frozenset((ids[mine[i][0]], ids[mine[j][0]])),
                                                 [])
                pair[:] = [*pair[-299:], (t, float(iou[i, j]))]
        alone, near = [], []
        self._frame_no += 1
        if self._frame_no % 100 == 0:   # pairs apart for a minute: no doubt left to place
            self._overlaps = {k: v for k, v in self._overlaps.items() if v[-1][0] > t - 60}
        looking = self._frame_no % p.look_every == 0
        for (k, sid), row, overlap in zip(mine, touch, iou):
            if row.any():
                if sid not in self._touching:
                    self._touching.add(sid)
                    starts = self._spells.setdefault(sid, [])   # a touching spell starts
                    starts[:] = [*starts[-7:], t]
                self._last_touch[sid] = t
                if looking and overlap[row].max() < p.look_overlap:   # beside, not over
                    near.append((sid, _look(image, boxes[k])))
            else:
                self._touching.discard(sid)
                if looking:
                    alone.append((sid, _look(image, boxes[k])))
        if not looking:
            return
        self._check_identities(t, alone + near)
        for sid, look in alone:   # the models learn from shoppers standing apart only
            self._learn(sid, look)

    def _learn(self, sid: str, look: np.ndarray) -> None:
        """Fold a look into a shopper's colour model: the mean of their first looks, then
        slowly, and only looks that are clearly theirs."""
        model = self._looks.get(sid)
        n = self._look_n.get(sid, 0)
        if model is None or n < 10:
            self._looks[sid] = look if model is None else (model * n + look) / (n + 1)
            self._look_n[sid] = n + 1
            return
        own = _distance(model, look)
        others = [_distance(m, look) for o, m in self._looks.items() if o != sid]
        if own < 0.5 and (not others or own < 0.7 * min(others)):
            rate = self.params.look_rate
            self._looks[sid] = (1 - rate) * model + rate * look

    def _check_identities(self, t: float, looks: list[tuple[str, np.ndarray]]) -> None:
        """Re-match the tracks of the shoppers looked at (standing apart, or beside someone
        without overlapping them: ``look_overlap``) to their colour models; a better
        matching seen ``swap_frames`` frames in a row is applied (from when: see the module
        doc)."""
        p = self.params
        who = [(sid, look) for sid, look in looks if self._look_n.get(sid, 0) >= 10]
        if len(who) < 2:
            return
        d = np.array([[_distance(self._looks[a], look) for _, look in who] for a, _ in who])
        rows, cols = linear_sum_assignment(d)
        if d[rows, cols].sum() > np.trace(d) - p.swap_gain:
            # the current matching holds: the doubt is gone, unless its shoppers were not
            # looked at (they overlap someone again): then it stands
            if self._doubt is not None and {a for a, _ in self._doubt[0]} <= {
                    s for s, _ in who}:
                self._doubt = None
            return
        moves = tuple(sorted((who[i][0], who[j][0]) for i, j in zip(rows, cols) if i != j))
        if self._doubt is None or self._doubt[0] != moves:
            self._doubt = (moves, t, 1)
            return
        self._doubt = (moves, self._doubt[1], self._doubt[2] + 1)
        if self._doubt[2] < p.swap_frames:
            return
        first_seen, self._doubt = self._doubt[1], None
        t0 = self._apply_repair(moves, first_seen, t)
        log.debug("identity repair from t=%.2f: %s", t0, dict(moves))

    def _apply_repair(self, moves: tuple[tuple[str, str], ...], first_seen: float,
                      t: float) -> float:
        """Shopper a follows the track shopper b had, for each ``(a, b)`` in ``moves``,
        from when the swap happened (see the module doc); returns that moment."""
        involved = [a for a, _ in moves]
        # the swap happened in the spell each was in when the doubt was first seen (a
        # spell that started since came after it)
        t0 = min(max((s for s in self._spells.get(a, []) if s <= first_seen), default=t)
                 for a in involved)
        tracks = {a: self.shoppers[a].track for a in involved}
        new = {a: tracks[b] for a, b in moves}

        def switch(a: str, b: str) -> float:
            """When b's track passed to a: since t0, when a box showing a then overlapped
            most a box showing b, where a tracker swaps ids; if none ever did, when b's
            track overlapped any box most (t0 if it touched none)."""
            best = max(((iou, -tt) for pair, hist in self._overlaps.items() for tt, iou in hist
                        if t0 <= tt <= first_seen
                        and {self.shopper_at(k, tt) for k in pair} == {a, b}), default=None)
            if best is None:   # never shown touching (one was a pending track, say)
                best = max(((iou, -tt) for pair, hist in self._overlaps.items()
                            if tracks[b] in pair for tt, iou in hist
                            if t0 <= tt <= first_seen), default=(0.0, -t0))
            return -best[1]

        t_from = {}
        for a, b in moves:
            # not before a was last seen on a track this repair leaves alone (lost since)
            last = [t_k for k, t_k in self._seen.items() if t_k >= t0
                    and k not in tracks.values() and self.shopper_at(k, t_k) == a]
            t_from[a] = max(switch(a, b),
                            float(np.nextafter(max(last), np.inf)) if last else t0)
        for a, track in new.items():
            self.shoppers[a].track = track
            self._assign(track, a, t_from[a])
        # before its new shopper, a track keeps what it showed, but not a shopper this
        # repair has put on another track that was already there then
        for o, track in new.items():
            live = max(t_from[o], self._first.get(track, t_from[o]))
            for k in set(new.values()) - {track}:
                hist = self._mapping[k]
                for (start, sid), (end, _) in zip(hist, [*hist[1:], (np.inf, "")]):
                    if sid == o and max(start, live) < end:
                        self._show(k, "", max(start, live), end)
        start = min(t_from.values())
        self.repairs.append((start, tuple(involved)))
        return start

    def busy(self) -> set[str]:
        """Shoppers touching someone now or within ``settle_s``: their identities may still
        be repaired, so their weight events wait."""
        t = self._t
        return {s for s, last in self._last_touch.items() if t - last <= self.params.settle_s}

    def _lost_candidate(self, t: float, xy, look: np.ndarray | None = None
                        ) -> _Shopper | None:
        """The lost shopper a new track at ``xy`` continues: among those who could have
        walked there, the closest in colour when both are known, else the nearest."""
        p = self.params
        best, best_key = None, (np.inf, np.inf)
        for s in self.shoppers.values():
            if not s.lost or s.state != "inside":
                continue
            d = float(np.hypot(xy[0] - s.last_xy[0], xy[1] - s.last_xy[1]))
            if d > p.reid_margin_px + p.reid_speed_px_s * (t - s.last_t):
                continue
            colour = _distance(self._looks[s.id], look) \
                if look is not None and s.id in self._looks else 1.0
            if (colour, d) < best_key:
                best, best_key = s, (colour, d)
        return best

    def _lose(self, t: float, scene: Scene) -> None:
        p = self.params
        for s in self.shoppers.values():
            if s.state in ("exited", "gone") or s.last_t == t:
                continue
            if s.state == "inside" and s.door_run and self._in(self._exit, s.last_xy):
                s.state = "exited"  # vanished while leaving: that is an exit
                scene.exited.append((s.id, s.door_t))
                continue
            if not s.lost and t - s.last_t >= p.lost_after_s:
                s.lost = True
            if s.lost and t - s.last_t >= p.reid_window_s:
                if s.state == "inside":
                    scene.gone.append((s.id, t))
                s.state = "gone"

    # ---- shoppers out of sight ----------------------------------------------------------------
    def _hold(self, t: float, scene: Scene, box_of: dict[int, np.ndarray]) -> None:
        """Presence for shoppers hidden in someone else's box. Two people standing close
        are often found as one box, which carries on one of their tracks; the other
        shopper is lost, though still there. While the place a lost shopper was last seen
        lies inside a current box (for at most ``hidden_s``), they are held at their last
        box, so a weight change at the plate they stood at can still go to them. Their
        reach is marked ``held`` (fusion takes a held box as evidence of where they stood,
        not of when they reached) and reported under the track id ``-1 - lost track``:
        :meth:`shopper_at` reads it as that track's, so when a later repair finds the lost
        track was someone else, their held presence goes with it."""
        for s in self.shoppers.values():
            if (s.state != "inside" or s.last_t == t or s.box is None
                    or t - s.last_t > self.params.hidden_s):
                continue
            x, y = s.last_xy
            if any(b[0] <= x <= b[2] and b[1] <= y <= b[3] for b in box_of.values()):
                scene.near += self._near(-1 - s.track, s.box, held=True)

    # ---- doors -------------------------------------------------------------------------------
    @staticmethod
    def _in(poly: np.ndarray, xy) -> bool:
        return cv2.pointPolygonTest(poly, (float(xy[0]), float(xy[1])), False) >= 0

    def _doors(self, s: _Shopper, t: float, xy, scene: Scene) -> None:
        n = self.params.door_frames
        if s.state == "outside":
            zone, nxt, out = self._entrance, "inside", scene.entered
        elif s.state == "inside":
            zone, nxt, out = self._exit, "exited", scene.exited
        else:
            return
        if self._in(zone, xy):
            if s.door_run == 0:
                s.door_t = t
            s.door_run += 1
            if s.door_run >= n:
                s.state, s.door_run = nxt, 0
                out.append((s.id, s.door_t))
        elif s.state == "outside" and s.door_run:
            s.state, s.door_run = "inside", 0  # walked on into the store: entered
            out.append((s.id, s.door_t))
        else:
            s.door_run = 0

    # ---- dwell -------------------------------------------------------------------------------
    def _dwell(self, t: float, scene: Scene) -> None:
        p = self.params
        seen = set()
        for n in scene.near:
            sid, gap = self.shopper_of.get(n.track), n.gap
            if not sid:
                continue
            key = (sid, n.shelf)
            seen.add(key)
            v = self._visits.get(key)
            if v is None:
                self._visits[key] = [t, t, gap]
            else:
                v[1], v[2] = t, min(v[2], gap)
        for key in [k for k in self._visits if k not in seen]:
            if t - self._visits[key][1] >= p.visit_gap_s:
                self._close_visit(key, scene)

    def _close_visit(self, key: tuple[str, str], scene: Scene) -> None:
        t0, t1, gap = self._visits.pop(key)
        if t1 - t0 >= self.params.min_visit_s:
            scene.visits.append(Visit(key[0], key[1], t0, t1, gap))
