"""What zones report each frame (:class:`Scene`), and their settings (:class:`ZoneParams`)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


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
    middle of that nearest part) misses the plate (:func:`walkout.zones.reach.plate_gap`)."""

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


@dataclass
class Shopper:
    """A shopper as zones know them: their current track, where and when last seen, and
    where they are on the way through the store."""

    id: str
    track: int
    last_t: float
    last_xy: tuple[float, float]
    state: str = "outside"            # outside -> inside -> exited | gone
    door_run: int = 0                 # consecutive frames in the door zone now relevant
    door_t: float = 0.0               # first frame of that run
    lost: bool = False
    box: np.ndarray | None = None     # last box seen
