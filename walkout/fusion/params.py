"""Fusion's settings (:class:`FusionParams`) and what one update decided (:class:`Fused`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..types import CartEvent, ItemEvent


@dataclass(frozen=True)
class FusionParams:
    pad_s: float = 1.0
    gap_scale: float = 0.75           # box sizes
    timing_s: float = 1.0
    ambiguous_below: float = 0.25
    put_back_k: float = 3.0           # see Decisions.own_put_back
    put_back_close: float = 0.5
    lead_s: float = 1.0               # a hand takes an item within this of arriving
    lookback_s: float = 3.0           # how far before the window a reach is followed back
    history_s: float = 60.0
    max_wait_s: float = 20.0
    hand_within: float = 0.25         # the hand decides when the runner-up is this close
    hand_weight: float = 0.8          # the hand factor's share (Presence.hand)
    hand_low: float = 10.0            # a tip colour change up to this says nothing came
    hand_high: float = 50.0           # ... from this on, an item came or went
    hand_after_only: float = 0.0      # h for a tip seen only after the change
    hand_before_only: float = 0.25    # ... only before it
    one_hand_s: float = 1.5           # one shopper's changes this close are one hand's ...
    one_hand_k: float = 0.3           # ... and the weaker counts this much (together.py)
    together_top: int = 3             # candidates per item tried together
    together_max: int = 6             # items given out together at most


@dataclass
class Fused:
    """What one update decided."""

    items: list[ItemEvent] = field(default_factory=list)
    cart: list[CartEvent] = field(default_factory=list)
    unattributed: list[dict] = field(default_factory=list)
    flags: list[tuple[str, str]] = field(default_factory=list)   # (shopper id, flag) raised
    moved: list[tuple[CartEvent, CartEvent]] = field(default_factory=list)  # (was, now)
