"""Fusion's settings (:class:`FusionParams`) and what one update decided (:class:`Fused`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..types import CartEvent, ItemEvent


@dataclass(frozen=True)
class FusionParams:
    """Fusion's settings. Each default is a property of people, shelves and sensors, not of
    any one store's footage; the reason is beside it."""

    # the video watched around a weight event: a hand is in the shelf up to about a second
    # before the load cell settles on a change (reach, grasp, lift) and leaves within a
    # second after it
    pad_s: float = 1.0
    # closeness falls by e for each 0.75 box sizes between a shopper and the plates: an arm
    # reaches about one body length seen from above, so a box that stops short of the plate
    # by most of its own size cannot have reached it
    gap_scale: float = 0.75
    # a reach lines up with its weight change to within about a second: a hand grasps and
    # lifts an item in 0.5-1 s, and the shelf's settle adds a fraction of a second
    timing_s: float = 1.0
    # a decision whose margin over the runner-up is under a quarter goes to a person for
    # review (a store's policy: more review, fewer wrong receipts)
    ambiguous_below: float = 0.25
    # a put-back explained 3x better by a non-carrier says the pick went to the wrong
    # shopper, when that pick was a close call (runner-up at least half the winner): strong
    # evidence against a weak decision, so one doubtful put-back does not move clear picks
    put_back_k: float = 3.0
    put_back_close: float = 0.5
    # a hand takes an item within a second of arriving at the plate; someone who had stood
    # there, equally close, for longer is more likely a bystander
    lead_s: float = 1.0
    # a reach is followed back this far before the window: long enough to find when a
    # shopper standing at the shelf arrived (a browse of a few seconds), short enough that
    # one shopper's earlier visit is not taken for this reach
    lookback_s: float = 3.0
    history_s: float = 60.0           # memory kept of presence and decisions, seconds
    # the longest an event waits for a doubtful identity before it is decided anyway: a
    # receipt stays timely (shoppers spend tens of seconds at a shelf at most)
    max_wait_s: float = 20.0
    # the boxes cannot tell two shoppers apart when the runner-up scores within a quarter
    # of the best: then the hands decide, and they carry most of the weight (0.8) because
    # a colour change at the tip of a reach is direct evidence of an item moving
    hand_within: float = 0.25
    hand_weight: float = 0.8
    # the colour at a reach's tip, 0-255 per channel: up to 10 is camera noise and JPEG
    # (8-bit sensors, a few levels of noise per channel), from 50 an item of another colour
    # than the skin or sleeve came or went
    hand_low: float = 10.0
    hand_high: float = 50.0
    # a hand can pass hand_high without taking anything (it turns and the palm shows, or
    # it still holds an item from a moment before), so of two hands past it only one that
    # changed less than half as much as the other counts as the one that only moved;
    # within a factor two the two are alike
    hand_alike: float = 0.5
    # a tip seen in the shelf only after the change came too late to make it (0); one seen
    # only before it left without showing an item (weak evidence against: 0.25); one never
    # seen there was not reaching in around the change (tips are looked for in every frame
    # a box reaches into a shelf), as weak evidence against, since a tip can be hidden
    hand_after_only: float = 0.0
    hand_before_only: float = 0.25
    hand_unseen: float = 0.25
    # one hand makes one change at a time: reaching in, closing the hand on an item and
    # lifting it out takes at least about half a second (a reach-to-grasp movement alone
    # lasts 0.3-0.5 s; a practised grab of a second can from the same plate is about the
    # fastest a hand goes), so two changes one shopper made less than that apart need two
    # hands or a neighbour, and the weaker one counts 0.3 of its score (together.py).
    # The limit is that half second less what the load cells' change times can be off by:
    # each is read from 0.25 s medians, so the gap between two of them is off by up to
    # about 0.1 s, and one hand's quickest two grabs can read 0.4 s apart. Longer gaps say
    # nothing: a shopper may take one can after another every half second
    one_hand_s: float = 0.4
    one_hand_k: float = 0.3
    # ... except two units of one product leaving one plate (or coming back) at what may be
    # one moment, their change times no further apart than those times' error (0.1 s, as
    # above): a hand closes on two cans as easily as on one
    one_grab_s: float = 0.1
    together_top: int = 3             # candidates per item tried together (the search's size)
    together_max: int = 6             # items given out together at most (likewise)


@dataclass
class Fused:
    """What one update decided."""

    items: list[ItemEvent] = field(default_factory=list)
    cart: list[CartEvent] = field(default_factory=list)
    unattributed: list[dict] = field(default_factory=list)
    flags: list[tuple[str, str]] = field(default_factory=list)   # (shopper id, flag) raised
    moved: list[tuple[CartEvent, CartEvent]] = field(default_factory=list)  # (was, now)
