"""Top-down rendering of the simulated store, and the ground-truth person boxes.

People are drawn from above: a shadow, an optional backpack, two arms (sleeve, hand),
shoulders as an ellipse, and a head (hair or cap, with a little face at the front). The
box of a person is the tight box of exactly the shapes drawn for them, so the ground truth
comes from the simulation state, not from detecting anything. Frames then get a lighting
schedule (slow drift plus occasional steps), a vignette, slight blur and sensor noise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from .catalogue import BY_SKU
from .layout import (
    ENTRANCE_DOOR,
    EXIT_DOOR,
    FLOOR_H,
    FLOOR_W,
    GONDOLAS,
    View,
    entrance_zone,
    exit_zone,
    plate_spots,
)
from .scenario import Scenario
from .shoppers import Reach, Shopper, Walk
from .world import PRESET_WORLD, World

AA = cv2.LINE_AA
SHIFT = 4  # fixed-point bits for sub-pixel drawing
ONE = 1 << SHIFT


def _fx(pts_px: np.ndarray) -> np.ndarray:
    return np.round(np.asarray(pts_px) * ONE).astype(np.int32)


@dataclass
class PersonShapes:
    """What is drawn for one person in one frame, in pixels."""

    torso: np.ndarray  # (K, 2) polygon
    head_c: np.ndarray
    head_r: float
    face_c: np.ndarray
    shoulders: tuple[np.ndarray, np.ndarray]
    hands: tuple[np.ndarray, np.ndarray]
    arm_w: float
    hand_r: float
    bag: np.ndarray | None  # (4, 2) polygon
    held: tuple[np.ndarray, tuple[int, int, int]] | None  # item in hand: centre, colour

    def xyxy(self) -> np.ndarray:
        """Tight box of every drawn shape (shadow excluded)."""
        pts = [self.torso, self.head_c[None] - self.head_r, self.head_c[None] + self.head_r]
        for p in (*self.shoulders, *self.hands):
            pad = max(self.arm_w / 2, self.hand_r)
            pts += [p[None] - pad, p[None] + pad]
        if self.bag is not None:
            pts.append(self.bag)
        if self.held is not None:
            pts += [self.held[0][None] - 4, self.held[0][None] + 4]
        allp = np.vstack(pts)
        return np.r_[allp.min(0), allp.max(0)]


def _ease(x: float) -> float:
    x = min(max(x, 0.0), 1.0)
    return x * x * (3 - 2 * x)


def _extension(r: Reach, t: float) -> float:
    if t <= r.t_start or t >= r.t_end:
        return 0.0
    if t < r.t_in:
        return _ease((t - r.t_start) / (r.t_in - r.t_start))
    if t <= r.t_out:
        return 1.0
    return _ease((r.t_end - t) / (r.t_end - r.t_out))


def person_shapes(sh: Shopper, t: float, view: View) -> PersonShapes | None:
    """The shapes of shopper ``sh`` at time ``t``, or None when they are not in the scene."""
    state = sh.position(t)
    if state is None:
        return None
    c, h, s = state
    b = sh.body
    k = view.body_scale  # a body looks larger than its floor size under a low camera
    shoulder_w, torso_d, arm_w = b.shoulder_w * k, b.torso_d * k, b.arm_w * k
    f = np.array([math.cos(h), math.sin(h)])
    rt = np.array([-math.sin(h), math.cos(h)])  # the shopper's right, seen from above
    seg = next((g for g in sh.segments if g.t0 <= t <= g.t1), sh.segments[-1])
    swing = 0.0
    if isinstance(seg, Walk):
        speed_scale = min(1.0, sh.speed / 1.0)
        swing = 0.09 * k * speed_scale * math.sin(2 * math.pi * s / 1.3)
    half = shoulder_w / 2 - arm_w / 2
    shoulders = (c - rt * half, c + rt * half)  # left, right
    rest = [
        shoulders[0] + f * (0.05 * k + swing) - rt * (0.03 * k),
        shoulders[1] + f * (0.05 * k - swing) + rt * (0.03 * k),
    ]
    hands = list(rest)
    held = None
    reach = next((r for r in sh.reaches if r.t_start < t < r.t_end), None)
    if reach is not None:
        e = _extension(reach, t)
        side = 0 if np.linalg.norm(reach.target - shoulders[0]) < np.linalg.norm(
            reach.target - shoulders[1]) else 1
        wobble = 0.015 * k * math.sin(9.0 * t) * (1.0 if e >= 1.0 else 0.0)
        hands[side] = rest[side] + (reach.target - rest[side]) * e + rt * wobble
        carrying = (reach.qty > 0 and t > reach.t_change) or (reach.qty < 0 and t < reach.t_change)
        if carrying and reach.sku is not None:
            held = (view.px(hands[side]), BY_SKU[reach.sku].colour_bgr)
    torso = cv2.ellipse2Poly(
        (0, 0), (100, 100), 0, 0, 360, 10
    ).astype(float) / 100.0  # unit circle
    axes = np.array([torso_d / 2, shoulder_w / 2])
    rot = np.stack([f, rt], 1)  # local (forward, right) -> floor
    torso_m = c + (torso * axes) @ rot.T
    bag = None
    if b.bag is not None:
        bc = c - f * (torso_d / 2 + 0.04 * k)
        corners = np.array([[-0.06, -0.14], [0.06, -0.14], [0.06, 0.14], [-0.06, 0.14]]) * k
        bag = view.px(bc + corners @ rot.T)
    head_c = c + f * (0.02 * k)
    head_r = b.head_r * k
    return PersonShapes(
        torso=view.px(torso_m),
        head_c=view.px(head_c),
        head_r=head_r * view.ppm,
        face_c=view.px(head_c + f * head_r * 0.55),
        shoulders=(view.px(shoulders[0]), view.px(shoulders[1])),
        hands=(view.px(hands[0]), view.px(hands[1])),
        arm_w=arm_w * view.ppm,
        hand_r=0.045 * k * view.ppm,
        bag=bag,
        held=held,
    )


def draw_person(img: np.ndarray, p: PersonShapes, sh: Shopper, view: View) -> None:
    b = sh.body
    # soft shadow, cast down-right by the ceiling lights
    shadow = img.copy()
    off = np.array([0.05, 0.07]) * view.ppm
    cv2.fillPoly(shadow, [_fx(p.torso * 1.0 + off)], (0, 0, 0), AA, SHIFT)
    cv2.addWeighted(shadow, 0.22, img, 0.78, 0, dst=img)
    if p.bag is not None:
        cv2.fillPoly(img, [_fx(p.bag)], b.bag, AA, SHIFT)
    aw = max(2, int(round(p.arm_w)))
    for sp, hp in zip(p.shoulders, p.hands):
        cv2.line(img, tuple(_fx(sp)), tuple(_fx(hp)), b.sleeve, aw, AA, SHIFT)
        cv2.circle(img, tuple(_fx(hp)), int(p.hand_r * ONE), b.skin, -1, AA, SHIFT)
    if p.held is not None:
        c, colour = p.held
        cv2.rectangle(img, tuple(_fx(c - 4)), tuple(_fx(c + 4)), colour, -1, AA, SHIFT)
    darker = tuple(int(v * 0.7) for v in b.shirt)
    cv2.fillPoly(img, [_fx(p.torso)], b.shirt, AA, SHIFT)
    cv2.polylines(img, [_fx(p.torso)], True, darker, 1, AA, SHIFT)
    cv2.circle(img, tuple(_fx(p.face_c)), int(p.head_r * 0.55 * ONE), b.skin, -1, AA, SHIFT)
    cv2.circle(img, tuple(_fx(p.head_c)), int(p.head_r * ONE), b.cap or b.hair, -1, AA, SHIFT)
    if b.cap is not None:  # the brim
        brim = p.face_c + (p.face_c - p.head_c) * 0.4
        cv2.circle(img, tuple(_fx(brim)), int(p.head_r * 0.5 * ONE), b.cap, -1, AA, SHIFT)


# ---- the static scene ----------------------------------------------------------------------
FLOORS = [(200, 200, 196), (182, 198, 214), (204, 192, 172), (168, 182, 196), (150, 160, 165)]


def background(view: View, rng: np.random.Generator, units: dict,
               fixtures: bool = True) -> np.ndarray:
    """Floor tiles, walls, door mats and (``fixtures``) gondolas with their top-shelf
    products."""
    H, W, ppm = view.height, view.width, view.ppm
    base = np.array(FLOORS[int(rng.integers(len(FLOORS)))], np.float32)
    tile = rng.uniform(0.45, 0.65) * ppm
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    ti, tj = (yy - view.oy) // tile, (xx - view.ox) // tile
    tile_shade = rng.normal(0, 5, (int(H / tile) + 3, int(W / tile) + 3)).astype(np.float32)
    shade = tile_shade[(ti.astype(int) + 1) % tile_shade.shape[0],
                       (tj.astype(int) + 1) % tile_shade.shape[1]]
    blotch = cv2.resize(rng.normal(0, 7, (12, 16)).astype(np.float32), (W, H),
                        interpolation=cv2.INTER_CUBIC)
    speck = cv2.GaussianBlur(rng.normal(0, 2.0, (H, W)).astype(np.float32), (0, 0), 1.2)
    grout = (((yy - view.oy) % tile) < 1.2) | (((xx - view.ox) % tile) < 1.2)
    img = base[None, None, :] + (shade + blotch + speck)[..., None]
    img[grout] -= 28
    img = np.clip(img, 0, 255).astype(np.uint8)

    def rect(x0, y0, x1, y1, colour):
        p0, p1 = view.px([x0, y0]), view.px([x1, y1])
        cv2.rectangle(img, tuple(_fx(p0)), tuple(_fx(p1)), colour, -1, AA, SHIFT)

    # door mats mark the entrance (green) and exit (red) zones
    for zone, colour in ((entrance_zone(), (70, 105, 70)), (exit_zone(), (70, 70, 120))):
        rect(zone[0, 0], zone[0, 1], zone[2, 0], zone[2, 1], colour)
    # walls with two door gaps in the bottom wall
    wall, t = (72, 74, 78), 0.1
    rect(0, 0, FLOOR_W, t, wall)
    rect(0, 0, t, FLOOR_H, wall)
    rect(FLOOR_W - t, 0, FLOOR_W, FLOOR_H, wall)
    xs = sorted([0.0, *ENTRANCE_DOOR, *EXIT_DOOR, FLOOR_W])
    for a, b in zip(xs[0::2], xs[1::2]):
        rect(a, FLOOR_H - t, b, FLOOR_H, wall)
    spots = plate_spots()
    for g in GONDOLAS if fixtures else ():
        rect(g.x0 + 0.04, g.y0 + 0.05, g.x1 + 0.04, g.y1 + 0.05, (60, 62, 64))  # shadow
        rect(g.x0, g.y0, g.x1, g.y1, (92, 94, 98))
        rect(g.x0 + 0.03, g.y0 + 0.03, g.x1 - 0.03, g.y1 - 0.03, (150, 152, 156))
        top = f"{g.id}S{g.n_shelves}"
        low = f"{g.id}S1"
        for sp in spots:
            if sp.shelf_id not in (top, low):
                continue
            pr = g.plate_rect(sp.k)
            x0, y0 = pr.min(0) + 0.05
            x1, y1 = pr.max(0) - 0.05
            colour = BY_SKU[sp.sku].colour_bgr
            if sp.shelf_id == low:  # the lower shelf shows as a lip along the face
                a, bb = g.face_segment()
                n = g.normal
                lip0 = (a + (bb - a) * sp.k / g.n_plates) - n * 0.06
                lip1 = (a + (bb - a) * (sp.k + 1) / g.n_plates) + n * 0.0
                lo, hi = np.minimum(lip0, lip1), np.maximum(lip0, lip1)
                rect(lo[0] + 0.03, lo[1], hi[0] - 0.03, hi[1], colour)
                continue
            n_units = len(units[sp.plate_id])
            cols = max(1, int((x1 - x0) / 0.13))
            rows = max(1, int((y1 - y0) / 0.13))
            for i in range(min(n_units, cols * rows)):
                cx = x0 + (i % cols + 0.5) * (x1 - x0) / cols
                cy = y0 + (i // cols + 0.5) * (y1 - y0) / rows
                shade = tuple(int(min(255, v * rng.uniform(0.85, 1.1))) for v in colour)
                rect(cx - 0.05, cy - 0.05, cx + 0.05, cy + 0.05, shade)
    # seen from 3 m through a small lens nothing on the floor is razor sharp
    return cv2.GaussianBlur(img, (0, 0), 0.9)


class Lighting:
    """Global gain over time: a slow swell plus a few smooth steps (clouds, a lamp), around
    the world's brightness."""

    def __init__(self, rng: np.random.Generator, duration: float,
                 world: World = PRESET_WORLD) -> None:
        self.period = float(rng.uniform(20, 60))  # clouds pass in tens of seconds
        self.phase = float(rng.uniform(0, 2 * math.pi))
        self.amp = float(rng.uniform(*world.light_amp))
        n = int(rng.poisson(duration * world.light_steps_per_s))
        self.steps = sorted(
            (float(rng.uniform(0, duration)),
             float(rng.choice([-1, 1]) * rng.uniform(*world.light_step)))
            for _ in range(n)
        )
        self.tint = rng.uniform(*world.tint, 3).astype(np.float32)
        self.brightness = world.brightness

    def gain(self, t: float) -> float:
        g = 1.0 + self.amp * math.sin(2 * math.pi * t / self.period + self.phase)
        for ts, dg in self.steps:
            g += dg * _ease((t - ts) / 1.5)
        # auto-exposure holds the picture within -25% and +20% of its usual level
        return float(np.clip(g, 0.75, 1.2)) * self.brightness


def visible_box(shapes: PersonShapes, view: View) -> np.ndarray | None:
    """The person's box clipped to the frame, or None when under 20% of it (or under 4 px
    a side) is in view."""
    full = shapes.xyxy()
    x0, y0 = max(full[0], 0.0), max(full[1], 0.0)
    x1, y1 = min(full[2], view.width - 1.0), min(full[3], view.height - 1.0)
    if x1 - x0 < 4 or y1 - y0 < 4:
        return None
    if (x1 - x0) * (y1 - y0) < 0.2 * (full[2] - full[0]) * (full[3] - full[1]):
        return None
    return np.array([x0, y0, x1, y1])


def gt_boxes(sc: Scenario, view: View, t: float) -> dict[int, np.ndarray]:
    """Shopper id -> visible box at time ``t``, without drawing anything."""
    out = {}
    for sh in sc.shoppers:
        shapes = person_shapes(sh, t, view)
        box = None if shapes is None else visible_box(shapes, view)
        if box is not None:
            out[sh.id] = box
    return out


class Renderer:
    """Draws frame after frame of one scenario; returns the image and the visible boxes."""

    def __init__(self, scenario: Scenario, view: View, rng: np.random.Generator) -> None:
        self.sc, self.view, self.rng = scenario, view, rng
        world = scenario.world
        self.bg = background(view, rng, scenario.units)
        H, W = view.height, view.width
        yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
        r2 = ((xx - W / 2) / (W / 2)) ** 2 + ((yy - H / 2) / (H / 2)) ** 2
        self.vignette = (1.0 - rng.uniform(*world.vignette) * r2).astype(np.float32)
        self.light = Lighting(rng, scenario.duration, world)
        self.noise_sd = float(rng.uniform(*world.noise_sd))
        self.blur = float(rng.uniform(*world.blur_px))
        self.jpeg = world.jpeg_quality

    def frame(self, t: float) -> tuple[np.ndarray, dict[int, np.ndarray]]:
        img = self.bg.copy()
        boxes = {}
        for sh in self.sc.shoppers:
            shapes = person_shapes(sh, t, self.view)
            if shapes is None:
                continue
            draw_person(img, shapes, sh, self.view)
            box = visible_box(shapes, self.view)
            if box is not None:
                boxes[sh.id] = box
        out = img.astype(np.float32)
        out *= self.vignette[..., None] * (self.light.gain(t) * self.light.tint)[None, None, :]
        out = cv2.GaussianBlur(out, (0, 0), self.blur)
        out += self.rng.normal(0.0, self.noise_sd, out.shape).astype(np.float32)
        img = np.clip(out, 0, 255).astype(np.uint8)
        if self.jpeg is not None:  # what an IP camera's JPEG stream leaves of the picture
            _, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, self.jpeg])
            img = cv2.imdecode(buf, cv2.IMREAD_COLOR)
        return img, boxes
