"""Several cameras on one simulated scene (``walkout simulate --cameras N``).

The single-camera clip draws people flat where they stand (:mod:`.render`). A store seen
by several cameras needs what makes a second view worth having: perspective. Here every
camera is a pinhole (:class:`walkout.geometry.Calibration`) at its own place and height,
and the scene is 3D:

- a shopper is a standing body: legs from the floor to the hips, a trunk up to the
  shoulders (the torso ellipse of :mod:`.render`), arms from the shoulders to the hands
  (at the height of the shelf a hand is in), and a head at the top. Their height follows
  their shoulder width (``SHOULDER_PER_STATURE``);
- gondolas are boxes ``GONDOLA_H_M`` tall, their aisle face showing the products of each
  shelf level;
- the floor (tiles, door mats, walls' feet) is the single view's background seen through
  each camera's floor homography; above the horizon an oblique camera sees a wall.

Bodies and gondolas are painted far to near (the painter's algorithm on the depth of
their middles). A person's ground-truth box is the tight box of everything drawn for them
in that view, as in the single view.

World coordinates are right-handed metres with z up: ``X`` is the simulator's floor x,
``Y = FLOOR_H - y`` (the simulator's floor y runs from the back wall toward the doors, as
the single camera's image rows do), so the door wall lies along ``Y = 0``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from ..geometry import Calibration
from .catalogue import BY_SKU, PLANOGRAM
from .layout import FLOOR_H, FLOOR_W, GONDOLAS, SHELF_CLEAR_M, SHELF_Z, View, to_world
from .render import AA, SHIFT, Lighting, _extension, _fx, background, person_shapes
from .scenario import Scenario
from .shoppers import Shopper
from .world import World

# shoulder breadth (arms included) is about 27% of an adult's stature (anthropometric
# tables: 0.46 m across at 1.7 m), so a broad shopper is also a tall one
SHOULDER_PER_STATURE = 0.27
STATURE_M = (1.45, 1.95)  # a short teenager to a tall adult
SHOULDER_Z = 0.82   # shoulder height / stature
HIP_Z = 0.52        # hip height / stature
HAND_REST_Z = 0.47  # a hanging hand's height / stature
HIP_R_M, FOOT_R_M = 0.16, 0.12   # half the width of the hips and of the feet apart
GONDOLA_H_M = SHELF_Z[-1] + SHELF_CLEAR_M   # the top shelf's clear height is the unit's top
GOODS_H_M = 0.25    # how tall the goods on a shelf stand
CAMERAS_MAX = 4
# a person counts as seen (labelled, and in the ground truth of that camera) when a quarter
# of their silhouette shows: less, and a detector sees a head or an arm, not a person
SEEN_MIN = 0.25


@dataclass(frozen=True)
class SimCamera:
    """One simulated camera: its id, calibration, frame size and how it looks at people."""

    id: str
    calib: Calibration
    width: int
    height: int
    view: str   # "overhead" (straight down) or "oblique"

    def project(self, P: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """World points (N, 3) -> pixels (N, 2) and their depth along the optical axis
        (a lens-distortion-free pinhole)."""
        cam = (np.asarray(P, float).reshape(-1, 3) - self.calib.t) @ self.calib.R
        z = cam[:, 2]
        with np.errstate(divide="ignore", invalid="ignore"):
            uv = cam[:, :2] / z[:, None]
        K = self.calib.K
        return uv * [K[0, 0], K[1, 1]] + K[:2, 2], z

    @property
    def focal(self) -> float:
        return float(self.calib.K[0, 0])

    def to_yaml(self) -> dict:
        c = self.calib
        return {"id": self.id, "width": self.width, "height": self.height, "view": self.view,
                "calibration": {"K": np.round(c.K, 6).tolist(),
                                "R": np.round(c.R, 9).tolist(),
                                "t": np.round(c.t, 6).tolist()}}


def _intrinsics(f: float, width: int, height: int) -> np.ndarray:
    return np.array([[f, 0, width / 2], [0, f, height / 2], [0, 0, 1.0]])


def rig(n: int, world: World, width: int = 640, height: int = 480) -> list[SimCamera]:
    """The store's ``n`` cameras (1-4), all at the world's ceiling height: ``c1`` straight
    down over the middle of the floor, its lens just wide enough for the floor and 0.5 m
    beyond the walls (the doors' steps); ``c2``-``c4`` where two walls meet the ceiling
    (the back wall's left corner, then the door wall's right corner and the back wall's
    right), 0.2 m in from each wall, aimed at the floor past the store's middle, with a 90
    degree lens (a common wide security camera). Positions are in world metres
    (:func:`.layout.to_world`).

    The order is the order of need, as a store fitter places cameras: from above, the
    island's top (1.6 m, 1.5 m below a 3 m ceiling) hides the whole aisle along the left
    wall, so the second camera is the corner that looks down that aisle; with it, a
    person at every shelf's front is at least 70% in view of some camera
    (``tests/test_sim_views.py``)."""
    if not 1 <= n <= CAMERAS_MAX:
        raise ValueError(f"cameras: expected 1 to {CAMERAS_MAX}, got {n}")
    h = world.camera_h_m
    margin = 0.5   # metres beyond the walls: the doors' outside steps
    ppm = min(width / (FLOOR_W + 2 * margin), height / (FLOOR_H + 2 * margin))
    mid = to_world([[FLOOR_W / 2, FLOOR_H / 2]])[0]
    above = mid + np.array([0.0, 0.0, h])
    cams = [SimCamera("c1", Calibration.looking_at(_intrinsics(ppm * h, width, height), above,
                                                   mid, up=(0.0, 1.0, 0.0)),
                      width, height, "overhead")]
    f = width / 2 / math.tan(math.radians(90.0) / 2)
    corners = [((0.2, FLOOR_H - 0.2), (0.6, 0.4)),
               ((FLOOR_W - 0.2, 0.2), (0.35, 0.6)),
               ((FLOOR_W - 0.2, FLOOR_H - 0.2), (0.4, 0.4))]
    for i, (eye, aim) in enumerate(corners[: n - 1]):
        eye3 = np.array([eye[0], eye[1], h])
        target = np.array([FLOOR_W * aim[0], FLOOR_H * aim[1], 0.0])
        calib = Calibration.looking_at(_intrinsics(f, width, height), eye3, target,
                                       up=(0.0, 0.0, 1.0))
        cams.append(SimCamera(f"c{i + 2}", calib, width, height, "oblique"))
    return cams


def stature(sh: Shopper) -> float:
    return float(np.clip(sh.body.shoulder_w / SHOULDER_PER_STATURE, *STATURE_M))


_METRES = View(1, 1, ppm=1.0, origin=(0.0, 0.0))   # person_shapes in floor metres
_RING = np.c_[np.cos(np.linspace(0, 2 * np.pi, 16, endpoint=False)),
              np.sin(np.linspace(0, 2 * np.pi, 16, endpoint=False))]


def _hull(px: np.ndarray) -> np.ndarray:
    return cv2.convexHull(px.astype(np.float32)).reshape(-1, 2)


def _hand_heights(sh: Shopper, t: float, s: np.ndarray) -> tuple[float, float]:
    """Height of the left and right hand: hanging, or on the way to the shelf level."""
    rest = HAND_REST_Z * stature(sh)
    z = [rest, rest]
    reach = next((r for r in sh.reaches if r.t_start < t < r.t_end), None)
    if reach is not None:
        e = _extension(reach, t)
        level = int(reach.spot.shelf_id.split("S")[-1])
        target = SHELF_Z[level - 1] + 0.12   # a hand closes over goods on the board
        side = 0 if np.linalg.norm(reach.target - s[0]) < np.linalg.norm(
            reach.target - s[1]) else 1
        z[side] = rest + (target - rest) * e
    return z[0], z[1]


class Person3D:
    """What one camera sees of one shopper at one moment: polygons and discs in pixels."""

    def __init__(self, sh: Shopper, t: float, cam: SimCamera) -> None:
        self.ok, self.sid = False, sh.id
        m = person_shapes(sh, t, _METRES)
        if m is None:
            return
        H = stature(sh)
        c = sh.position(t)[0]
        zs, zh = SHOULDER_Z * H, HIP_Z * H
        head_z = H - m.head_r
        zl, zr = _hand_heights(sh, t, np.array(m.shoulders))
        pts = {
            "legs": np.r_[to_world(c + _RING * FOOT_R_M, 0.0), to_world(c + _RING * HIP_R_M, zh)],
            "trunk": np.r_[to_world(c + _RING * HIP_R_M, zh), to_world(m.torso, zs * 0.97)],
            "torso": to_world(m.torso, zs),
            "shadow": to_world(m.torso + np.array([0.05, 0.07]), 0.0),
            "arms": to_world(np.r_[m.shoulders[0], m.hands[0], m.shoulders[1], m.hands[1]],
                             np.array([zs, zl, zs, zr])),
            "head": to_world(np.r_[m.head_c, m.face_c], head_z),
            "mid": to_world(c, zh),
        }
        if m.bag is not None:
            pts["bag"] = to_world(m.bag, 0.7 * H)
        allp = np.vstack(list(pts.values()))
        px, depth = cam.project(allp)
        if np.any(depth < 0.2):   # some of the body is at or behind the lens
            return
        self.ok = True
        self.depth = float(cam.project(pts["mid"])[1][0])
        i = 0
        self.px, self.depths = {}, {}
        for k, v in pts.items():
            self.px[k], self.depths[k] = px[i:i + len(v)], depth[i:i + len(v)]
            i += len(v)
        f = cam.focal
        self.arm_w = f * m.arm_w / self.depths["arms"].mean()
        self.hand_r = [f * m.hand_r / self.depths["arms"][1], f * m.hand_r / self.depths["arms"][3]]
        self.head_r = f * m.head_r / self.depths["head"][0]
        self.held = None if m.held is None else m.held[1]
        self.held_side = None
        if m.held is not None:
            self.held_side = 0 if np.allclose(m.held[0], m.hands[0]) else 1
        self.body = sh.body

    def box(self) -> np.ndarray:
        pts = [_hull(self.px["legs"]), _hull(self.px["trunk"]), self.px["torso"]]
        a = self.px["arms"]
        for j, r in ((0, 0), (1, 0), (2, 1), (3, 1)):
            pad = max(self.arm_w / 2, self.hand_r[r])
            pts += [a[j][None] - pad, a[j][None] + pad]
        pts += [self.px["head"][:1] - self.head_r, self.px["head"][:1] + self.head_r]
        if "bag" in self.px:
            pts.append(self.px["bag"])
        allp = np.vstack(pts)
        return np.r_[allp.min(0), allp.max(0)]

    def draw(self, img: np.ndarray, flat: int | None = None) -> None:
        """Paint the person; with ``flat`` their silhouette in that one value, unshaded."""
        b = self.body
        lt = AA if flat is None else cv2.LINE_8   # labels are not blended at the edges
        if flat is None:
            shadow = img.copy()
            cv2.fillPoly(shadow, [_fx(self.px["shadow"])], (0, 0, 0), AA, SHIFT)
            cv2.addWeighted(shadow, 0.22, img, 0.78, 0, dst=img)
        else:
            b = _Flat(flat)
        trousers = tuple(int(v * 0.45) for v in b.sleeve) if flat is None else b.sleeve
        side = tuple(int(v * 0.8) for v in b.shirt) if flat is None else b.shirt
        cv2.fillPoly(img, [_fx(_hull(self.px["legs"]))], trousers, lt, SHIFT)
        cv2.fillPoly(img, [_fx(_hull(self.px["trunk"]))], side, lt, SHIFT)
        if "bag" in self.px:
            cv2.fillPoly(img, [_fx(self.px["bag"])], b.bag, lt, SHIFT)
        a = self.px["arms"]
        aw = max(2, int(round(self.arm_w)))
        for j, s in ((0, 0), (2, 1)):
            cv2.line(img, tuple(_fx(a[j])), tuple(_fx(a[j + 1])), b.sleeve, aw, lt, SHIFT)
            cv2.circle(img, tuple(_fx(a[j + 1])), int(self.hand_r[s] * (1 << SHIFT)), b.skin,
                       -1, lt, SHIFT)
            if self.held is not None and self.held_side == s:
                q = a[j + 1]
                half = max(2.0, self.hand_r[s] * 0.9)
                cv2.rectangle(img, tuple(_fx(q - half)), tuple(_fx(q + half)),
                              self.held if flat is None else b.skin, -1, lt, SHIFT)
        darker = b.shirt if flat is not None else tuple(int(v * 0.7) for v in b.shirt)
        cv2.fillPoly(img, [_fx(self.px["torso"])], b.shirt, lt, SHIFT)
        cv2.polylines(img, [_fx(self.px["torso"])], True, darker, 1, lt, SHIFT)
        head, face = self.px["head"]
        r = self.head_r
        cv2.circle(img, tuple(_fx(face)), int(r * 0.55 * (1 << SHIFT)), b.skin, -1, lt, SHIFT)
        cv2.circle(img, tuple(_fx(head)), int(r * (1 << SHIFT)), b.cap or b.hair, -1, lt, SHIFT)
        if b.cap is not None:
            brim = face + (face - head) * 0.4
            cv2.circle(img, tuple(_fx(brim)), int(r * 0.5 * (1 << SHIFT)), b.cap, -1, lt, SHIFT)


class _Flat:
    """A body whose every colour is one label value (for silhouettes)."""

    def __init__(self, v: int) -> None:
        c = (v, v, v)
        self.shirt = self.sleeve = self.skin = self.hair = self.cap = self.bag = c


class Gondola3D:
    """A gondola as one camera sees it: its visible sides and top, goods on its face."""

    def __init__(self, g, cam: SimCamera, units: dict, rng: np.random.Generator) -> None:
        foot = g.rect()
        self.polys: list[tuple[np.ndarray, tuple]] = []
        lo, hi = to_world(foot, 0.0), to_world(foot, GONDOLA_H_M)
        eye = cam.calib.t
        centre = to_world(foot.mean(0)[None], GONDOLA_H_M / 2)[0]
        self.depth = float(cam.project(centre)[1][0])
        self.ok = bool(np.all(cam.project(np.r_[lo, hi])[1] > 0.05))
        if not self.ok:
            return
        face_a, face_b = g.face_segment()
        for i in range(4):   # the sides that face the lens
            j = (i + 1) % 4
            quad = np.array([lo[i], lo[j], hi[j], hi[i]])
            mid = quad.mean(0)
            out = np.r_[(foot[i] + foot[j]) / 2 - foot.mean(0), 0.0]
            out = np.array([out[0], -out[1], 0.0])
            if out @ (eye - mid) <= 0:
                continue
            self.polys.append((cam.project(quad)[0], (70, 72, 76)))
            is_face = np.allclose(sorted(map(tuple, (foot[i], foot[j]))),
                                  sorted(map(tuple, (face_a, face_b))))
            if is_face:
                self._goods(g, cam, face_a, face_b)
        self.polys.append((cam.project(hi)[0], (92, 94, 98)))
        inner = foot.mean(0) + (foot - foot.mean(0)) * 0.9
        self.polys.append((cam.project(to_world(inner, GONDOLA_H_M))[0], (150, 152, 156)))
        top = f"{g.id}S{g.n_shelves}"
        for k, sku in enumerate(PLANOGRAM[top]):
            pr = g.plate_rect(k)
            x0, y0 = pr.min(0) + 0.05
            x1, y1 = pr.max(0) - 0.05
            n_units = len(units[f"{top}P{k + 1}"])
            cols, rows = max(1, int((x1 - x0) / 0.13)), max(1, int((y1 - y0) / 0.13))
            for u in range(min(n_units, cols * rows)):
                cx = x0 + (u % cols + 0.5) * (x1 - x0) / cols
                cy = y0 + (u // cols + 0.5) * (y1 - y0) / rows
                shade = tuple(int(min(255, v * rng.uniform(0.85, 1.1)))
                              for v in BY_SKU[sku].colour_bgr)
                sq = np.array([[cx - .05, cy - .05], [cx + .05, cy - .05], [cx + .05, cy + .05],
                               [cx - .05, cy + .05]])
                self.polys.append((cam.project(to_world(sq, GONDOLA_H_M))[0], shade))

    def _goods(self, g, cam: SimCamera, a: np.ndarray, b: np.ndarray) -> None:
        for level in range(1, g.n_shelves + 1):
            z0 = SHELF_Z[level - 1]
            for k, sku in enumerate(PLANOGRAM[f"{g.id}S{level}"]):
                p = a + (b - a) * (k + 0.08) / g.n_plates
                q = a + (b - a) * (k + 0.92) / g.n_plates
                quad = np.r_[to_world(np.array([p, q]), z0),
                             to_world(np.array([q, p]), z0 + GOODS_H_M)]
                self.polys.append((cam.project(quad)[0], BY_SKU[sku].colour_bgr))

    def draw(self, img: np.ndarray, flat: int | None = None) -> None:
        for poly, colour in self.polys:
            if flat is None:
                cv2.fillPoly(img, [_fx(poly)], colour, AA, SHIFT)
            else:
                cv2.fillPoly(img, [_fx(poly)], (flat,) * 3, cv2.LINE_8, SHIFT)


WALL_BGR = (168, 172, 176)
TEXTURE_PPM = 80.0


def floor_image(cam: SimCamera, rng: np.random.Generator, units: dict) -> np.ndarray:
    """The floor (no fixtures) as ``cam`` sees it; a wall above its horizon."""
    x0, y0 = -0.6, -0.3
    tex_view = View(int((FLOOR_W + 1.2) * TEXTURE_PPM), int((FLOOR_H + 1.3) * TEXTURE_PPM),
                    ppm=TEXTURE_PPM, origin=(x0, y0))
    tex = background(tex_view, rng, units, fixtures=False)
    s = 1.0 / TEXTURE_PPM
    tex_to_world = np.array([[s, 0, x0], [0, -s, FLOOR_H - y0], [0, 0, 1.0]])
    G = np.linalg.inv(cam.calib.floor_homography())   # floor metres -> pixels
    img = cv2.warpPerspective(tex, G @ tex_to_world, (cam.width, cam.height),
                              flags=cv2.INTER_LINEAR, borderValue=WALL_BGR)
    # pixels whose ray does not come down to the floor see the walls
    v, u = np.mgrid[0:cam.height, 0:cam.width]
    _, d = cam.calib.rays(np.c_[u.ravel(), v.ravel()])
    up = (d[:, 2] > -1e-3).reshape(cam.height, cam.width)
    img[up] = WALL_BGR
    return img


class ViewsRenderer:
    """Draws the frames of every camera for one scenario, and the boxes in each."""

    def __init__(self, scenario: Scenario, cams: list[SimCamera],
                 rng: np.random.Generator) -> None:
        self.sc, self.cams, self.rng = scenario, cams, rng
        world = scenario.world
        self.floor, self.gondolas, self.vignette = [], [], []
        for cam in cams:
            self.floor.append(floor_image(cam, rng, scenario.units))
            self.gondolas.append([g3 for g in GONDOLAS
                                  if (g3 := Gondola3D(g, cam, scenario.units, rng)).ok])
            H, W = cam.height, cam.width
            yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
            r2 = ((xx - W / 2) / (W / 2)) ** 2 + ((yy - H / 2) / (H / 2)) ** 2
            self.vignette.append((1.0 - rng.uniform(*world.vignette) * r2).astype(np.float32))
        self.light = Lighting(rng, scenario.duration, world)
        self.noise_sd = [float(rng.uniform(*world.noise_sd)) for _ in cams]
        self.blur = [float(rng.uniform(*world.blur_px)) for _ in cams]
        self.jpeg = world.jpeg_quality

    def frames(self, t: float) -> list[tuple[np.ndarray, dict[int, np.ndarray]]]:
        return [self._frame(i, t) for i in range(len(self.cams))]

    def _frame(self, i: int, t: float) -> tuple[np.ndarray, dict[int, np.ndarray]]:
        cam = self.cams[i]
        img = self.floor[i].copy()
        things: list = list(self.gondolas[i])
        people = {}
        for sh in self.sc.shoppers:
            p = Person3D(sh, t, cam)
            if p.ok:
                things.append(p)
                people[sh.id] = p
        label = np.zeros((cam.height, cam.width, 3), np.uint8)   # who is seen where
        ids = {}
        for th in sorted(things, key=lambda th: -th.depth):
            th.draw(img)
            if isinstance(th, Person3D):
                ids[len(ids) + 1] = th
                th.draw(label, flat=len(ids))
            else:
                th.draw(label, flat=255)
        boxes = {}
        label = label[..., 0]
        for k, p in ids.items():
            box = _visible(p, label, k, cam)
            if box is not None:
                boxes[p.sid] = box
        out = img.astype(np.float32)
        out *= self.vignette[i][..., None] * (self.light.gain(t) * self.light.tint)[None, None, :]
        out = cv2.GaussianBlur(out, (0, 0), self.blur[i])
        out += self.rng.normal(0.0, self.noise_sd[i], out.shape).astype(np.float32)
        img = np.clip(out, 0, 255).astype(np.uint8)
        if self.jpeg is not None:
            _, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, self.jpeg])
            img = cv2.imdecode(buf, cv2.IMREAD_COLOR)
        return img, boxes


def _visible(p: Person3D, label: np.ndarray, k: int, cam: SimCamera) -> np.ndarray | None:
    """The box of what is seen of a person (label ``k`` in ``label``), or None when under
    ``SEEN_MIN`` of their silhouette shows (hidden by nearer people and fixtures, or out
    of the frame) or it is under 4 px a side."""
    full = np.round(p.box()).astype(int)
    x0, y0 = max(full[0] - 2, 0), max(full[1] - 2, 0)
    x1, y1 = min(full[2] + 3, cam.width), min(full[3] + 3, cam.height)
    if x1 - x0 < 4 or y1 - y0 < 4:
        return None
    ys, xs = np.nonzero(label[y0:y1, x0:x1] == k)
    if len(xs) == 0:
        return None
    alone = np.zeros((full[3] - full[1] + 8, full[2] - full[0] + 8, 3), np.uint8)
    shifted = _Shifted(p, full[:2] - 4)
    shifted.draw(alone, flat=1)
    if len(xs) < SEEN_MIN * max(1, int(alone[..., 0].sum())):
        return None
    box = np.array([xs.min() + x0, ys.min() + y0, xs.max() + x0 + 1.0, ys.max() + y0 + 1.0])
    if box[2] - box[0] < 4 or box[3] - box[1] < 4:
        return None
    return np.minimum(box, [cam.width - 1.0, cam.height - 1.0] * 2)


class _Shifted:
    """A person drawn with every pixel moved by ``-offset`` (their silhouette alone)."""

    def __init__(self, p: Person3D, offset: np.ndarray) -> None:
        self.p, self.offset = p, offset

    def draw(self, img: np.ndarray, flat: int) -> None:
        saved = self.p.px
        self.p.px = {k: v - self.offset for k, v in saved.items()}
        try:
            self.p.draw(img, flat=flat)
        finally:
            self.p.px = saved
