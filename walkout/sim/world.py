"""The world a simulated clip happens in: how its shoppers move and look, where its camera
hangs, its light and image quality, and its load cells.

The fixed presets all live in one world, :data:`PRESET_WORLD`, whose values are the
simulator's long-standing ones. ``walkout simulate --world N`` draws world ``N`` instead
(:func:`draw_world`): every quantity below is drawn from a wide, physically plausible range,
so that nothing downstream can rely on the presets' regular timetable or look. A world is
a set of ranges: per-shopper and per-reach values are then drawn from the world's ranges,
so a world is a kind of store and crowd, and a clip is one afternoon in it.

The camera model is a straight-down pinhole at ``camera_h_m`` above the floor with a
horizontal field of view ``fov_deg``: the floor scale follows from both, and people, whose
shoulders and heads are nearer the lens than the floor is, look larger under a low camera
than under a high one. Their parallax (a raised hand or a head off the optical axis drawn
further out than the floor point under it) is not modelled: bodies are drawn where they
stand.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np

from ..errors import WalkoutError
from .layout import FLOOR_H, FLOOR_W, OUTSIDE_Y, View
from .room import ROOM_GAP

Range = tuple[float, float]

REF_CAMERA_H_M = 3.0  # the presets' ceiling camera: a shop ceiling about 3 m up
SHOULDER_H_M = 1.4  # shoulder height of an adult (1.2-1.5 m): what the camera mostly sees
# The frame ends before the street: shoppers come in from OUTSIDE_Y, and half a body (0.3 m,
# up to 0.4 m as a low camera sees it) beyond the frame's edge they are out of sight.
VIEW_BOTTOM_MAX_M = OUTSIDE_Y - 0.4
MAX_FOV_DEG = 130.0  # the widest rectilinear ceiling lens; wider ones are fisheyes


@dataclass(frozen=True)
class World:
    """Ranges (lo, hi) that per-shopper and per-reach values are drawn from, and settings.

    Defaults are the fixed presets' world.
    """

    number: int | None = None  # None: the fixed presets' world
    # shoppers: walking, reaching, personal space, bodies
    speed_ms: Range = (0.5, 1.4)  # cruise walking speed per shopper
    turn_s: Range = (0.4, 0.8)  # turning to face the shelf at a stop
    extend_s: Range = (0.45, 0.75)  # arm moving into the shelf
    retract_s: Range = (0.45, 0.7)  # arm coming back
    hold_s: Range = (0.9, 1.5)  # hand in the shelf for one unit
    hold_per_unit_s: float = 0.35  # more hand time per extra unit grasped at once
    pause_s: Range = (0.3, 0.9)  # between one reach's end and the next one's start
    linger_s: Range = (0.2, 0.8)  # after the last reach of a stop, before walking on
    one_by_one: float = 0.0  # share of multi-unit takes made one reach per unit
    again: float = 0.0  # share of takes followed at once by one more unit of the same
    room_gap_m: float = ROOM_GAP  # between two bodies side by side; < 0 they press together
    # walkers go around (or wait for) people in their way; off, they walk through them, as
    # the fixed presets' clips were made (walkout.sim.room.give_way)
    give_way: bool = False
    shoulder_m: Range = (0.40, 0.52)  # width across the shoulders and arms
    head_r_m: Range = (0.085, 0.11)  # head radius seen from above
    dressed_alike: int = 0  # pairs of shoppers wearing the same clothes and hair colour
    # camera
    camera_h_m: float = REF_CAMERA_H_M  # lens above the floor
    fov_deg: float | None = None  # horizontal field of view; None: the floor fills the frame
    view_shift: tuple[float, float] = (0.5, 0.5)  # where the floor sits in the spare view
    # image
    brightness: float = 1.0  # mean gain of the store's light on the camera's exposure
    light_amp: Range = (0.02, 0.06)  # slow swell of the light (daylight, clouds)
    light_steps_per_s: float = 1 / 30.0  # lamps switched, clouds: sudden light changes
    light_step: Range = (0.04, 0.1)  # the size of one such change, relative
    tint: Range = (0.94, 1.06)  # per-channel white balance error
    vignette: Range = (0.06, 0.16)  # light lost at the frame corners, relative
    blur_px: Range = (0.5, 0.9)  # lens and focus blur, Gaussian sigma in pixels
    noise_sd: Range = (1.0, 3.0)  # image sensor noise, grey levels
    jpeg_quality: int | None = None  # an IP camera's JPEG stream quality; None: no JPEG
    # load cells (walkout.sim.weights.NoiseModel fields; empty keeps its calibrated defaults)
    load_cells: dict = field(default_factory=dict)
    clock_offset_s: float = 0.0  # t_video = t_sensor + offset, the true one
    stated_offset_s: float = 0.0  # what the calibrated store.yaml says (true + its error)

    def noise_model(self):
        from .weights import NoiseModel

        return NoiseModel(**{k: tuple(v) if isinstance(v, list) else v
                             for k, v in self.load_cells.items()})

    def body_scale(self) -> float:
        """How much larger a body looks under this camera than under the presets' one:
        the pinhole magnification h / (h - z) of shoulders at ``SHOULDER_H_M``, relative."""
        h = self.camera_h_m
        return (h / (h - SHOULDER_H_M)) / (REF_CAMERA_H_M / (REF_CAMERA_H_M - SHOULDER_H_M))

    def to_json(self) -> dict:
        return asdict(self)


PRESET_WORLD = World()


def _span(rng: np.random.Generator, lo: Range, width: Range, cap: float = math.inf) -> Range:
    """A range whose low end is drawn from ``lo`` and whose width from ``width``."""
    a = float(rng.uniform(*lo))
    return round(a, 3), round(min(cap, a + float(rng.uniform(*width))), 3)


def _around(v: float) -> Range:
    """A range 15% either side of ``v``: one shopper's reaches differ from the next."""
    return round(0.85 * float(v), 3), round(1.15 * float(v), 3)


def _log_span(rng: np.random.Generator, lo: Range, ratio: Range) -> Range:
    a = float(np.exp(rng.uniform(np.log(lo[0]), np.log(lo[1]))))
    return round(a, 3), round(a * float(rng.uniform(*ratio)), 3)


def min_fov_deg(camera_h_m: float) -> float:
    """The narrowest horizontal field of view that shows the whole floor width from
    ``camera_h_m`` (4:3 frames: the width is what limits)."""
    return math.degrees(2 * math.atan(FLOOR_W / 2 / camera_h_m))


def draw_world(number: int) -> World:
    """World ``number``: every quantity drawn from its plausible range (deterministic)."""
    if isinstance(number, bool) or not isinstance(number, int) or number < 0:
        raise WalkoutError(f"--world: expected 'random' or an integer >= 0, got {number!r}")
    rng = np.random.default_rng([number, 99])
    u = rng.uniform
    # One reach: the arm goes in, the hand holds, the arm comes back, a pause. The whole
    # cycle takes 0.5 s for a practised grab of a second can to 2.6 s for a careful pick.
    cycle = float(u(0.5, 2.6))
    least = (0.12, 0.2, 0.12, 0.0)  # the fastest arm movement, grasp, return and pause
    parts = np.add(least, (cycle - sum(least)) * rng.dirichlet([4.0, 5.0, 4.0, 2.0]))
    extend, hold, retract, pause = (_around(v) for v in parts)
    h = round(float(u(2.5, 4.0)), 3)  # ceiling cameras hang 2.5 m (low shop) to 4 m (hall)
    fov0 = min_fov_deg(h)
    fov = round(float(u(fov0, min(MAX_FOV_DEG, fov0 + 20.0))), 2)  # up to 20 deg of spare
    off = round(float(u(-0.5, 0.5)), 3)  # NTP-less scale boards drift to half a second
    return World(
        number=number,
        # people walk 0.5 m/s (browsing, elderly) to 1.6 m/s (in a hurry)
        speed_ms=_span(rng, (0.5, 1.1), (0.1, 0.5), cap=1.6),
        turn_s=_span(rng, (0.2, 0.6), (0.1, 0.4)),
        extend_s=extend,
        retract_s=retract,
        hold_s=hold,
        hold_per_unit_s=round(float(u(0.1, 0.5)), 3),  # grasping one more unit at once
        pause_s=pause,
        linger_s=_span(rng, (0.0, 0.5), (0.1, 0.8)),
        one_by_one=round(float(u(0.0, 1.0)), 3),
        again=round(float(u(0.0, 0.5)), 3),  # "and one more": up to every other take
        # strangers keep a hand's width apart; in a crowd shoulders touch and press
        room_gap_m=round(float(u(-0.06, 0.25)), 3),
        give_way=True,
        # across shoulders and arms: a teenager 0.34 m, a broad adult in a coat 0.58 m
        shoulder_m=_span(rng, (0.34, 0.46), (0.04, 0.12), cap=0.58),
        head_r_m=_span(rng, (0.075, 0.095), (0.01, 0.025)),
        dressed_alike=int(rng.integers(0, 3)),  # staff uniforms, couples, school groups
        camera_h_m=h,
        fov_deg=fov,
        view_shift=(round(float(u(0, 1)), 3), round(float(u(0, 1)), 3)),
        brightness=round(float(u(0.6, 1.3)), 3),  # dim evening shop to bright daylight
        light_amp=_span(rng, (0.0, 0.08), (0.0, 0.05)),
        light_steps_per_s=round(float(u(0.0, 0.1)), 4),  # none to one every 10 s
        light_step=_span(rng, (0.03, 0.12), (0.0, 0.1)),
        tint=_span(rng, (0.85, 0.98), (0.04, 0.2)),
        vignette=_span(rng, (0.0, 0.3), (0.0, 0.15)),
        blur_px=_span(rng, (0.3, 1.8), (0.0, 0.3)),  # sharp lens to soft focus
        noise_sd=_span(rng, (0.5, 6.0), (0.0, 2.0)),  # bright sensor to dim high-gain one
        jpeg_quality=int(rng.integers(30, 96)),  # IP cameras stream JPEG at 30-95
        load_cells={
            # 24-bit load-cell boards: 0.2 g (good, shielded) to 8 g (cheap, long cables)
            "white_g": _log_span(rng, (0.2, 2.0), (1.5, 4.0)),
            # walking, a fridge's compressor: the shelf total wobbles 0.2 to 30 g
            "wobble_g": _log_span(rng, (0.2, 3.0), (2.0, 10.0)),
            # creep of a loaded cell: up to about 0.1 g/s (12 g over two minutes)
            "drift_g_per_s": round(float(np.exp(u(np.log(0.005), np.log(0.1)))), 4),
            # plates are rarely zeroed: offsets of up to hundreds of grams, either sign
            "tare_g": round(float(np.exp(u(np.log(2.0), np.log(500.0)))), 1),
        },
        clock_offset_s=off,
        # a sync calibration lines a hand's entry up with the weight step it makes: good
        # to half a video frame at 10 fps
        stated_offset_s=round(off + float(u(-0.05, 0.05)), 3),
    )


def parse_world(text: str, seed: int) -> World:
    """``--world``: 'random' (world number = the clip's seed) or a world number."""
    if text == "random":
        if seed < 0:
            raise WalkoutError(f"--seed: expected an integer >= 0, got {seed}")
        return draw_world(seed)
    try:
        number = int(text)
    except ValueError:
        raise WalkoutError(f"--world: expected 'random' or an integer >= 0, got {text!r}"
                           ) from None
    return draw_world(number)


def camera_view(world: World, width: int, height: int):
    """The camera's view of the floor in a ``width`` x ``height`` frame.

    A lens too narrow for the floor at this frame shape is widened to just fit it (the
    store's installer would have picked one that shows the whole floor)."""
    if world.fov_deg is None:
        return View(width, height)
    fit = min(width / FLOOR_W, height / FLOOR_H)
    ppm = min(fit, width / (2 * world.camera_h_m * math.tan(math.radians(world.fov_deg) / 2)))
    span_w, span_h = width / ppm, height / ppm
    x0 = -(span_w - FLOOR_W) * world.view_shift[0]
    top_lo, top_hi = FLOOR_H - span_h, min(0.0, VIEW_BOTTOM_MAX_M - span_h)
    y0 = top_lo + (top_hi - top_lo) * world.view_shift[1]
    return View(width, height, ppm=ppm, origin=(x0, y0), body_scale=world.body_scale())
