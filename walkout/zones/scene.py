"""What zones report each frame (:class:`Scene`), and their settings (:class:`ZoneParams`)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class ZoneParams:
    """Zones' settings. Durations are seconds and distances metres of floor (pixels through
    the store's :meth:`walkout.config.Camera.px_per_m`), so they hold at any frame rate and
    camera height; each default's physical reason is beside it."""

    # a crossing needs the anchor in a door zone this long: a door zone is about half a
    # metre deep and people walk through at up to 1.5 m/s, so 0.3 s is the shortest real
    # crossing, and a box flickering at the zone's edge for a frame or two is not one
    door_s: float = 0.3
    # unseen this long, a shopper is lost: a detector misses a person for a frame or two
    # (0.1-0.2 s at 10 fps), longer gaps mean the track was broken
    lost_after_s: float = 0.5
    # a lost shopper not re-found within this is gone: someone hidden behind a taller
    # shopper or a fixture reappears within seconds; 20 s covers a long browse out of view
    reid_window_s: float = 20.0
    # a track first seen inside the store waits this long before it becomes a new
    # shopper: the time a detector needs to settle on a person who stepped out from behind
    # someone (a few frames) with margin
    pending_s: float = 1.0
    # first seen this close to the entrance, a new shopper has entered: people walking in
    # side by side are found as two only a stride or so (0.75 m) past the door
    entrance_margin_m: float = 0.75
    # a new track continues a lost shopper who could have walked there: within this
    # (box-centre jitter and a stride) plus a brisk walk of 2 m/s since they were last seen
    reid_margin_m: float = 0.75
    reid_speed_mps: float = 2.0
    # presence gaps shorter than this do not end a visit: a detector dropout or a step aside
    visit_gap_s: float = 1.0
    # boxes grown by a tenth of their size touch: two people side by side leave less than
    # a hand's width (about 10% of a body) between their boxes
    touch_margin: float = 0.1
    look_overlap: float = 0.05    # a touching box overlapping nobody's by this IoU is looked at
    # a re-match must save 0.3 of the colour (histogram) distance, in 3 looks in a row, to
    # swap identities: clothing colours differ by far more between people than light and
    # pose change them within a second
    swap_gain: float = 0.3
    swap_frames: int = 3          # ... looks in a row
    # a tracker can only swap the ids of two people whose boxes touched: a repair moves a
    # shopper onto the track of another only if the two touched within this long. Once
    # they part, the colours show a swap within a few looks; one of them hidden or lost
    # meanwhile shows it when re-found, which is at most ``reid_window_s`` later
    swap_memory_s: float = 20.0
    # ... and touched means overlapped by this IoU: the tracker's lowest association gate
    # (walkout.track.TrackerConfig.iou_threshold, ByteTrack's first pass). A track takes a
    # box only if it overlaps its own by that much, so it cannot pass from one person to
    # another standing beside them whose box never overlapped theirs as much
    swap_overlap: float = 0.2
    # two colour models closer than this may be the same clothes (uniforms, couples):
    # colour cannot say who is who. The same clothes on two bodies, seen under one store's
    # light, give models up to about 0.35 apart; different clothes rarely come under 0.4
    # (drawn worlds 920-929: 11 of 16 dressed-alike pairs under 0.35, none of 144 others)
    alike: float = 0.35
    # colours are looked at every 0.2 s: a person's clothing does not change faster, and
    # three looks (0.6 s) fit inside two shoppers passing each other
    look_every_s: float = 0.2
    look_rate: float = 0.05       # how fast a shopper's colour model follows them, per look
    # events of shoppers who touched someone this recently wait for the identity check:
    # the looks that settle it need the bodies apart for about a second
    settle_s: float = 1.0
    min_visit_s: float = 0.3      # shorter visits are a passer-by's box brushing a zone
    # a lost shopper inside someone's box is held this long: two people standing close
    # for a browse (up to ~10 s) are often found as one box
    hidden_s: float = 10.0

    def frames(self, seconds: float, fps: float) -> int:
        """``seconds`` as a whole number of frames at ``fps`` (at least one)."""
        return max(1, int(seconds * fps + 0.5))


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
    # ... while nobody inside was missing: someone the camera missed on the way in
    unseen: list[tuple[str, float]] = field(default_factory=list)
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
    entered_t: float | None = None    # when they came in through the entrance (if seen)
