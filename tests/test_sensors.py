"""Shelf weights: readers, event detection and item identification."""

from __future__ import annotations

import base64
import json
import socket
import threading
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from conftest import shared_path

from walkout.cli import main
from walkout.config import Product
from walkout.errors import InputError
from walkout.sensors import (
    EventParams,
    ItemIdentifier,
    Planogram,
    ReadStats,
    SampleBlock,
    WeightEventDetector,
    check_plates,
    iter_aifi,
    iter_weights_csv,
    shelves_by_prefix,
)
from walkout.sensors.live import LineAssembler, UdpLines, iter_live, parse_line
from walkout.sensors.score import score_item_events
from walkout.sim.simulate import weight_stream
from walkout.sim.weights import NoiseModel, shelf_noise
from walkout.sim.world import draw_world
from walkout.types import UNEXPLAINED, WeightEvent

ROOT = Path(__file__).resolve().parents[1]
RATE = 60.0
# a small store: two shelves of three plates; look-alike chocolate bars side by side
PRODUCTS = {
    "GUM": Product("GUM", "gum", 24.0, 1.0, 1.0),
    "DARK": Product("DARK", "dark chocolate", 104.0, 1.5, 2.0),
    "MILK": Product("MILK", "milk chocolate", 105.5, 1.5, 2.0),
    "COLA": Product("COLA", "cola", 352.0, 3.0, 1.0),
    "SOUP": Product("SOUP", "soup", 455.0, 3.0, 2.0),
    "RICE": Product("RICE", "rice", 1500.0, 5.0, 4.0),
}
PLANOGRAM = Planogram(
    products=PRODUCTS,
    shelves={"A": ["A1", "A2", "A3"], "B": ["B1", "B2", "B3"]},
    plate_sku={"A1": "GUM", "A2": "DARK", "A3": "MILK", "B1": "COLA", "B2": "SOUP",
               "B3": "RICE"},
)
PLATES = ("A1", "A2", "A3", "B1", "B2", "B3")
STOCK = np.array([240.0, 1040.0, 1055.0, 3520.0, 4550.0, 9000.0])


def stream(seconds: float, seed: int = 0, steps=(), model: NoiseModel | None = None,
           touches=()) -> tuple[np.ndarray, np.ndarray]:
    """Realistic noise on both shelves plus ``(t0, plate, grams, ramp_s)`` steps."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    model = model or NoiseModel(bump_rate_hz=0.0)
    grams = np.hstack([shelf_noise(rng, t, 3, model, touches) for _ in range(2)]) + STOCK
    for t0, plate, delta, ramp in steps:
        grams[:, PLATES.index(plate)] += delta * np.clip((t - t0) / ramp + 0.5, 0, 1)
    return t, grams


def detect(t, grams, block: int = 60, identify: bool = True):
    det = WeightEventDetector(PLANOGRAM.shelves, RATE)
    ident = ItemIdentifier(PLANOGRAM)
    events, items = [], []
    for i in range(0, len(t), block):
        for ev in det.update(SampleBlock(t[i:i + block], grams[i:i + block], PLATES)):
            events.append(ev)
            if identify:
                items.extend(ident.identify(ev))
    return events, items


# ---- event detection -----------------------------------------------------------------------
def test_steps_and_ramps_are_found_with_their_size_and_time():
    steps = [(5.0, "A2", -104.0, 0.05), (12.0, "B1", -704.0, 0.3), (20.0, "B3", 1500.0, 0.2)]
    t, grams = stream(30.0, seed=1, steps=steps)
    events, _ = detect(t, grams, identify=False)
    assert [e.shelf_id for e in events] == ["A", "B", "B"]
    for ev, (t0, plate, delta, _) in zip(events, steps):
        assert ev.delta_g == pytest.approx(delta, abs=6.0)
        assert ev.plate_deltas_g[plate] == pytest.approx(delta, abs=6.0)
        assert ev.t_start < t0 < ev.t_end
        assert abs(ev.t_change - t0) < 0.2
        assert 0 < ev.t_detected - ev.t_end <= 0.6  # latency from settling
        others = [d for p, d in ev.plate_deltas_g.items() if p != plate]
        assert max(abs(d) for d in others) < 6.0


def test_pure_noise_and_drift_give_no_events():
    model = NoiseModel(bump_rate_hz=0.0, drift_g_per_s=0.1)  # 5x the calibrated drift
    t, grams = stream(120.0, seed=2, model=model)
    grams += np.linspace(0, 30, len(t))[:, None]  # and a slow 30 g creep on every plate
    assert detect(t, grams, identify=False)[0] == []


def test_vibration_bursts_alone_give_no_events():
    model = NoiseModel(bump_rate_hz=0.5, bump_g=(40.0, 90.0))  # a bump every 2 s
    touches = list(np.arange(3.0, 58.0, 4.0))
    t, grams = stream(60.0, seed=3, model=model, touches=touches)
    assert detect(t, grams, identify=False)[0] == []


def test_a_hand_pressing_a_plate_is_not_an_event():
    t, grams = stream(20.0, seed=4)
    press = np.clip(np.sin(np.pi * (t - 8.0) / 0.4), 0, None) * ((t > 8) & (t < 8.4))
    grams[:, 1] += 250.0 * press
    assert detect(t, grams, identify=False)[0] == []


def test_events_a_second_apart_on_one_shelf_stay_separate():
    steps = [(5.0, "B2", -455.0, 0.2), (6.2, "B2", -455.0, 0.2)]
    t, grams = stream(12.0, seed=5, steps=steps)
    events, items = detect(t, grams)
    assert len(events) == 2
    assert [(i.sku, i.qty) for i in items] == [("SOUP", 1), ("SOUP", 1)]


def two_steps_on_b2(first_g: float, second_g: float):
    """Plate B2 changes by ``first_g`` at 5 s and ``second_g`` at 6 s while a hand leans
    on B1 in between, so the shelf never settles: the one event, its items, and B2's two
    steps, whose times must be within 0.1 s of the changes."""
    t, grams = stream(12.0, seed=8, steps=[(5.0, "B2", first_g, 0.2), (6.0, "B2", second_g, 0.2)])
    press = np.clip(np.sin(np.pi * (t - 5.3) / 0.6), 0, None) * ((t > 5.3) & (t < 5.9))
    grams[:, PLATES.index("B1")] += 300.0 * press
    events, items = detect(t, grams)
    [ev] = events
    steps = ev.plate_steps["B2"]
    assert len(steps) == 2 and abs(steps[0][0] - 5.0) < 0.1 and abs(steps[1][0] - 6.0) < 0.1
    return ev, items, steps


def test_two_takes_from_one_plate_without_settling_are_two_timed_items():
    """Two soup cans leave one plate a second apart while a hand leans on the next plate
    in between, so the shelf never settles: one weight event, whose plate change is
    found as two steps, identified as two single items at their own times."""
    ev, items, ((t1, between), (t2, after)) = two_steps_on_b2(-455.0, -455.0)
    assert between == pytest.approx(-455.0, abs=15.0) and after == ev.plate_deltas_g["B2"]
    assert [(i.sku, i.qty) for i in items] == [("SOUP", 1), ("SOUP", 1)]
    assert [round(i.t, 1) for i in items] == [round(t1, 1), round(t2, 1)]
    # one hand taking both at once is one step, and stays one item of two
    t, grams = stream(12.0, seed=8, steps=[(5.0, "B2", -910.0, 0.2)])
    events, items = detect(t, grams)
    assert [e.plate_steps for e in events] == [None]
    assert [(i.sku, i.qty) for i in items] == [("SOUP", 2)]


def test_three_taken_then_one_more_from_one_plate_are_two_timed_items():
    """Three cans leave a plate, and one more a second later, the shelf never settling:
    the last step is a quarter of the plate's change, a whole can, and is kept as its own
    item. (Before, a step had to be at least a quarter of the change, and this one, read
    off the ramps, fell just short: one item of four at the first step's time.)"""
    ev, items, ((t1, between), (t2, after)) = two_steps_on_b2(-3 * 455.0, -455.0)
    assert between == pytest.approx(-3 * 455.0, abs=15.0)
    assert after == ev.plate_deltas_g["B2"]
    assert [(i.sku, i.qty) for i in items] == [("SOUP", 3), ("SOUP", 1)]
    assert [i.t for i in items] == [t1, t2]


def test_a_put_back_then_a_take_on_one_plate_without_settling_are_two_timed_items():
    """A soup can comes back onto its plate and two leave it a second later, while a hand
    leans on the next plate, so the shelf never settles. The plate stays a can heavier than
    both its ends for a second; a hand pressing never lasts that long (``press_s``), so it
    is a can held there: a put-back, then a take of two, at their own times."""
    ev, items, ((t1, between), (t2, after)) = two_steps_on_b2(455.0, -910.0)
    assert between == pytest.approx(455.0, abs=15.0)   # read off the ramps
    assert after == ev.plate_deltas_g["B2"]
    assert [(i.sku, i.qty) for i in items] == [("SOUP", -1), ("SOUP", 2)]
    assert [i.t for i in items] == [t1, t2]


def test_a_take_and_a_return_that_cancel_on_the_shelf_are_still_two_items():
    """A dark chocolate bar leaves plate A2 while a milk one comes back to A3 in the same
    movement (``busy`` seed 714 has such a swap): the shelf's total ends 1.5 g off, under
    any step, but each plate moved by a whole item, so both are found. The bar coming
    back cannot be the one taken in the same event."""
    steps = [(5.0, "A2", -104.0, 0.2), (5.15, "A3", 105.5, 0.2)]
    t, grams = stream(12.0, seed=9, steps=steps)
    events, items = detect(t, grams)
    [e] = events
    assert abs(e.delta_g) < 10.0
    assert e.plate_deltas_g["A2"] == pytest.approx(-104.0, abs=6.0)
    assert e.plate_deltas_g["A3"] == pytest.approx(105.5, abs=6.0)
    assert sorted((i.sku, i.qty) for i in items) == [("DARK", 1), ("MILK", -1)]


def test_two_takes_and_a_put_back_in_one_movement_are_three_timed_items():
    """``busy`` seed 701: soup cans leave plate B2 at 5.0 s and 6.2 s and one comes back at
    7.4 s, while hands keep pressing the next plate, so the shelf never settles. The net
    change is one can; the plate's levels (0, -1, -2, -1 cans) give each step its item at
    its own time: two picks and a put-back, for whoever reached then."""
    steps = [(5.0, "B2", -455.0, 0.2), (6.2, "B2", -455.0, 0.2), (7.4, "B2", 455.0, 0.2)]
    t, grams = stream(14.0, seed=13, steps=steps)
    for t0 in np.arange(4.6, 8.0, 0.4):
        press = np.clip(np.sin(np.pi * (t - t0) / 0.3), 0, None) * ((t > t0) & (t < t0 + 0.3))
        grams[:, PLATES.index("B1")] += 200.0 * press
    events, items = detect(t, grams)
    [ev] = events
    assert ev.plate_deltas_g["B2"] == pytest.approx(-455.0, abs=10.0)
    assert [(i.sku, i.qty) for i in items] == [("SOUP", 1), ("SOUP", 1), ("SOUP", -1)]
    assert [i.t for i in items] == pytest.approx([5.0, 6.2, 7.4], abs=0.1)


def test_a_return_and_a_neighbours_take_at_one_moment_are_both_found():
    """Drawn world 927: one shopper takes a cola from plate B1 and puts it back 2 s later,
    just as another takes a soup from B2; a hand works plate B3 throughout, so the shelf
    never settles. The shelf's reading spans both hands and reads B1 as unchanged; the
    plate's own step finds the return, and the soup the shelf read off B2 at that moment
    does not count against B1's share of the moves. (Before, B1's step carried only half
    the shelf's moves, and the return was lost: the cola stayed in a cart.)"""
    steps = [(5.0, "B1", -352.0, 0.3), (7.0, "B1", 352.0, 0.3), (7.05, "B2", -455.0, 0.3)]
    t, grams = stream(14.0, seed=3, steps=steps)
    grams[:, PLATES.index("B3")] += 40.0 * np.abs(np.sin(7 * t)) * ((t > 4.6) & (t < 7.6))
    _, items = detect(t, grams)
    assert sorted((i.sku, i.qty, round(i.t, 1)) for i in items) == [
        ("COLA", -1, 7.0), ("COLA", 1, 5.0), ("SOUP", 1, 7.0)]


def test_a_plate_emptied_one_can_a_second_is_every_can():
    """Drawn world 922: shoppers empty a plate one can at a time, about a second apart, so
    nearly every 1.5 s side of the plate's recent history holds a take. Those sides are
    not its noise: only the sides without a jump count then. (Before, the takes set the
    plate's noise at hundreds of grams after six of them, and the seventh and eighth cans
    were not items.)"""
    steps = [(12.0 + 1.05 * k, "B2", -455.0, 0.2) for k in range(8)]
    t, grams = stream(24.0, seed=4, steps=steps)
    _, items = detect(t, grams)
    assert [(i.sku, i.qty) for i in items] == [("SOUP", 1)] * 8
    assert all(abs(i.t - st[0]) < 0.1 for i, st in zip(items, steps))


def test_an_item_put_back_and_taken_again_on_one_plate_is_two_items():
    """``busy`` seed 714: a soup can comes back onto plate B2 and another hand takes it
    1.1 s later; each hand presses the plate for 0.3 s (200 g), and the shelf never
    settles. The plate ends where it began, but it held one can more in between: a
    put-back and a pick, each at its time. A hand pressing alone is no item."""
    t, grams = stream(12.0, seed=14, steps=[(5.0, "B2", 455.0, 0.2), (6.1, "B2", -455.0, 0.2)])
    col = PLATES.index("B2")
    for t0 in (5.05, 5.7):  # placing, then grasping
        grams[:, col] += 200.0 * np.clip(np.sin(np.pi * (t - t0) / 0.3), 0, None) * (
            (t > t0) & (t < t0 + 0.3))
    [event], items = detect(t, grams)
    assert abs(event.delta_g) < 10.0
    assert [(i.sku, i.qty) for i in items] == [("SOUP", -1), ("SOUP", 1)]
    assert [i.t for i in items] == pytest.approx([5.0, 6.1], abs=0.1)
    t, grams = stream(12.0, seed=14)
    grams[:, col] += 450.0 * np.clip(np.sin(np.pi * (t - 5.0) / 0.4), 0, None) * (
        (t > 5.0) & (t < 5.4))
    assert detect(t, grams)[1] == []


def test_a_take_and_a_put_back_that_leave_the_plate_as_it_was_are_two_items():
    """Drawn world ``busy`` 947: a soup can is taken from plate B2 (the shelf settles and
    reads it), a second is taken 1.4 s later and put back 1.2 s after that, while a hand
    keeps pressing the next plate, so the shelf never settles between. The shelf's reading
    ends where it began on B2, but B2 held one can less for a while: a take and a
    put-back, at their times. (Before, the shelf read nothing there, and the plate's own
    steps, whose sides reach back to the first take, read only part of it: an
    unexplained change, and the second take lost.)"""
    steps = [(3.6, "B2", -455.0, 0.2), (5.0, "B2", -455.0, 0.2), (6.2, "B2", 455.0, 0.2)]
    t, grams = stream(12.0, seed=5, steps=steps)
    for t0 in np.arange(4.6, 7.4, 0.5):  # 120 g presses on B1, 0.3 s each
        grams[:, PLATES.index("B1")] += 120.0 * np.clip(
            np.sin(np.pi * (t - t0) / 0.3), 0, None) * ((t > t0) & (t < t0 + 0.3))
    _, items = detect(t, grams)
    assert [(i.sku, i.qty) for i in items] == [("SOUP", 1), ("SOUP", 1), ("SOUP", -1)]
    assert [i.t for i in items] == pytest.approx([3.6, 5.0, 6.2], abs=0.1)


def test_a_hand_working_a_plate_for_seconds_is_no_item():
    """Drawn world 927: a hand works plate B3 for 3 s, pressing it again and again (0 to
    40 g), so its quarter-second medians sit some 25 g up for the whole time: a gum's
    weight. A plate's level must hold still in a quarter second at least (``still_g``);
    this one never does, so it is no level, and no gum came and went. (Before: a gum put
    back, and taken 3 s later.)"""
    for steps in ([], [(7.05, "B2", -455.0, 0.3)]):
        t, grams = stream(14.0, seed=3, steps=steps)
        grams[:, PLATES.index("B3")] += 40.0 * np.abs(np.sin(7 * t)) * ((t > 4.6) & (t < 7.6))
        _, items = detect(t, grams)
        assert [(i.sku, i.qty) for i in items] == [("SOUP", 1)] * len(steps)


def test_a_two_step_split_needs_whole_units_between():
    ident = ItemIdentifier(PLANOGRAM)
    base = ev("B", {"B1": 0.0, "B2": -910.0, "B3": 0.0})
    split = ident.identify(replace(base, plate_steps={"B2": ((9.6, -455.0), (10.6, -910.0))}))
    assert [(i.qty, i.t) for i in split] == [(1, 9.6), (1, 10.6)]
    assert [i.delta_g for i in split] == pytest.approx([-455.0, -455.0], abs=1.0)
    # three cans in two steps with 1.5 between: 1 + 2 or 2 + 1, so not split
    three = ev("B", {"B1": 0.0, "B2": -1365.0, "B3": 0.0})
    kept = ident.identify(replace(three, plate_steps={"B2": ((9.6, -682.0), (10.6, -1365.0))}))
    assert [(i.sku, i.qty) for i in kept] == [("SOUP", 3)]


def test_as_many_steps_as_units_are_one_unit_each():
    """Two hands less than half a second apart blur the level between their steps (busy
    seed 705: 1.42 units read between two picks of one). Two steps of a two-unit change
    can only be one unit each; but a step under the least share of a unit that counts as
    an item (0.4 for a pick, 0.75 for a return) is no hand's, and the change stays one
    item."""
    ident = ItemIdentifier(PLANOGRAM)
    base = ev("B", {"B1": 0.0, "B2": -910.0, "B3": 0.0})
    split = ident.identify(replace(base, plate_steps={"B2": ((9.6, -682.0), (10.0, -910.0))}))
    assert [(i.sku, i.qty, i.t) for i in split] == [("SOUP", 1, 9.6), ("SOUP", 1, 10.0)]
    assert [i.delta_g for i in split] == pytest.approx([-455.0, -455.0], abs=1.0)
    kept = ident.identify(replace(base, plate_steps={"B2": ((9.6, -819.0), (10.0, -910.0))}))
    assert [(i.sku, i.qty) for i in kept] == [("SOUP", 2)]
    back = ev("B", {"B1": 0.0, "B2": 910.0, "B3": 0.0})
    split = ident.identify(replace(back, plate_steps={"B2": ((9.6, 360.0), (10.0, 910.0))}),
                           {"SOUP"})
    assert [(i.sku, i.qty) for i in split] == [("SOUP", -1), ("SOUP", -1)]


def test_a_neighbours_few_grams_with_empty_carts_are_no_item():
    """Drawn world ``single`` 985: a take of 213 g from one plate, and the press of the
    hand felt on the next plate as +6.4 g, before the shopper carried anything. With
    nothing carried, no return had a lightest unit to be measured against, so the 6.4 g
    were read as an unexplained item and flagged a right receipt. A change under 0.75 of
    the store's lightest product is no return, carried or not; a return that size still
    counts."""
    ident = ItemIdentifier(PLANOGRAM)
    lightest = min(q.weight_g for q in PLANOGRAM.products.values())
    soup = PLANOGRAM.products["SOUP"].weight_g
    items = ident.identify(ev("B", {"B1": 6.4, "B2": -soup, "B3": 0.0}), {})
    assert [(i.sku, i.qty) for i in items] == [("SOUP", 1)]
    assert 0.75 * lightest > 6.4
    items = ItemIdentifier(PLANOGRAM).identify(ev("B", {"B1": 0.0, "B2": soup, "B3": 0.0}), {})
    assert [i.sku for i in items] == ["SOUP"] and items[0].qty == -1


def test_a_change_nearer_zero_than_a_unit_is_noise_not_an_item():
    """Drawn worlds ``pair`` 997 and 953: a plate whose load cell wanders by several grams
    (3.7 g sample noise) stepped 11.7 g down with nobody near, on a 25 g product's plate.
    It passed CMU's 0.4-unit rule and the 4-sigma check, so it became a pick nobody made.
    No item at all is a hypothesis too: a change nearer zero than any unit is noise (no
    item, no flag), while one nearer a unit is still that unit. On a quiet plate the same
    change is far from both: unexplained, flagged for review."""
    gum = PLANOGRAM.products["GUM"].weight_g

    def read(units: float, noise: float) -> list[tuple[str, int]]:
        items = ItemIdentifier(PLANOGRAM).identify(
            ev("A", {"A1": -units * gum, "A2": 0.0, "A3": 0.0}, noise))
        return [(i.sku, i.qty) for i in items]

    # 0.45 of a unit passes CMU's 0.4 floor: only the noise hypothesis turns it away
    assert ItemIdentifier(PLANOGRAM).params.pick_min_units < 0.45
    assert read(0.45, 3.7) == read(0.48, 3.7) == []
    assert read(0.6, 3.7) == read(0.9, 1.0) == [("GUM", 1)]
    assert read(0.48, 1.0) == [(UNEXPLAINED, 0)]


def test_a_split_step_must_move_an_items_share_of_a_unit():
    """Drawn world ``busy`` 947: a hand rests on the gum plate A1 (24 g) before taking one,
    so the plate reads 15.8 g and then 3.9 g down before its one clean step. Both levels
    round to whole gums (within ``split_tolerance``), but the move back up between them
    is half a gum: no put-back (under ``return_min_units``), so no step of its own, and
    the change stays one gum, at its time. (Before, it was read as a take, a return and a
    take, and the return left the cart of a shopper who had bought gum earlier.)"""
    ident = ItemIdentifier(PLANOGRAM)
    base = replace(ev("A", {"A1": -23.0, "A2": 0.0, "A3": 0.0}), t_change=11.1,
                   plate_t_change={"A1": 11.1})
    steps = {"A1": ((9.1, -15.8), (9.5, -3.9), (11.1, -23.0))}
    items = ident.identify(replace(base, plate_steps=steps), {"GUM"})
    assert [(i.sku, i.qty, i.t) for i in items] == [("GUM", 1, 11.1)]
    # clean whole levels still split: a take, a put-back and a take
    steps = {"A1": ((9.1, -24.0), (9.5, 0.0), (11.1, -23.0))}
    items = ident.identify(replace(base, plate_steps=steps), {"GUM"})
    assert [(i.qty, i.t) for i in items] == [(1, 9.1), (-1, 9.5), (1, 11.1)]


def test_a_return_of_more_units_than_the_carts_near_hold_is_unlikely():
    """Drawn world ``busy`` 943: a shopper holding one energy drink (276 g) and one iced tea
    (545 g) puts the tea back on another product's plate, which reads +555 g: two energy
    drinks (552 g) fit the weight better than one tea. But the carts near hold only one
    energy drink, and nobody puts back what they do not hold: the tea it is. Without
    the carts' units (the standalone reader), the weight decides."""
    drinks = Planogram(
        products={"PASTA": Product("PASTA", "pasta", 508.0, 2.5, 1.0),
                  "ENERGY": Product("ENERGY", "energy drink", 276.0, 2.0, 1.0),
                  "TEA": Product("TEA", "iced tea", 545.0, 4.0, 1.0)},
        shelves={"S": ["S1", "S2", "S3"]},
        plate_sku={"S1": "PASTA", "S2": "ENERGY", "S3": "TEA"})
    back = ev("S", {"S1": 555.0, "S2": 0.0, "S3": 0.0}, noise=1.3)
    held = {"ENERGY": 1.0, "TEA": 1.0}
    [item] = ItemIdentifier(drinks).identify(back, held, {"ENERGY": 1, "TEA": 1})
    assert (item.sku, item.qty) == ("TEA", -1)
    [item] = ItemIdentifier(drinks).identify(back, held, {"ENERGY": 2, "TEA": 1})
    assert (item.sku, item.qty) == ("ENERGY", -2)
    [item] = ItemIdentifier(drinks).identify(back, held)
    assert (item.sku, item.qty) == ("ENERGY", -2)


def test_a_misplaced_return_and_a_pick_in_one_movement_are_two_items():
    """``busy`` seed 730: a soup can (455 g) taken earlier is put back onto the cola plate
    B1 (352 g cans) and another hand takes a cola 0.8 s later, while hands keep pressing
    the next plate, so the shelf never settles. The net +103 g is a dark chocolate's
    weight, which nobody carries; read step by step it is the return and the pick."""
    steps = [(2.0, "B2", -455.0, 0.2), (8.0, "B1", 455.0, 0.2), (8.8, "B1", -352.0, 0.2)]
    t, grams = stream(16.0, seed=21, steps=steps)
    for t0 in np.arange(7.6, 9.4, 0.4):
        press = np.clip(np.sin(np.pi * (t - t0) / 0.3), 0, None) * ((t > t0) & (t < t0 + 0.3))
        grams[:, PLATES.index("B3")] += 200.0 * press
    events, items = detect(t, grams)
    assert len(events) == 2
    assert events[1].plate_deltas_g["B1"] == pytest.approx(103.0, abs=10.0)
    assert [(i.sku, i.qty) for i in items] == [("SOUP", 1), ("SOUP", -1), ("COLA", 1)]
    assert [i.t for i in items[1:]] == pytest.approx([8.0, 8.8], abs=0.1)


def test_steps_both_ways_are_read_one_by_one_only_when_no_one_item_explains_them():
    """``busy`` seed 747: a cola taken from B1, and a dark chocolate someone carries put
    back there 1.6 s later: -248 g is no number of colas, so each step is its own item.
    Two soup cans taken and one put back (``busy`` 700) is one soup can net, the plate's
    own product: that stays read as a whole, then split by its whole-unit levels."""
    ident = ItemIdentifier(PLANOGRAM)
    mixed = ev("B", {"B1": -248.0, "B2": 0.0, "B3": 0.0})
    items = ident.identify(replace(mixed, plate_steps={"B1": ((9.5, -352.0), (11.1, -248.0))}),
                           {"DARK"})
    assert [(i.sku, i.qty, i.t) for i in items] == [("COLA", 1, 9.5), ("DARK", -1, 11.1)]
    assert ident.misplaced == {("B1",): {"DARK": 1}}
    own = ev("B", {"B1": 0.0, "B2": -455.0, "B3": 0.0})
    items = ident.identify(replace(own, plate_steps={"B2": ((9.5, -910.0), (9.9, -455.0))}),
                           {"SOUP"})
    assert [(i.sku, i.qty) for i in items] == [("SOUP", 2), ("SOUP", -1)]


def test_a_level_above_the_start_is_a_press_when_no_cart_near_holds_the_product():
    """``busy`` seed 718: two hands take two gums and one gum from plate A1 0.3 s apart,
    and a hand pressing the plate first holds it 68 g heavier for 0.45 s. With nobody
    near carrying gum, that level cannot be three gums put back: it is a press, and its
    step merges into the next. With someone carrying gum, it may be a put-back."""
    ident = ItemIdentifier(PLANOGRAM)
    base = ev("A", {"A1": -72.0, "A2": 0.0, "A3": 0.0})
    steps = {"A1": ((9.5, 70.0), (10.0, -48.0), (10.3, -72.0))}
    items = ident.identify(replace(base, plate_steps=steps), {"DARK"})
    assert [(i.sku, i.qty, i.t) for i in items] == [("GUM", 2, 10.0), ("GUM", 1, 10.3)]
    items = ident.identify(replace(base, plate_steps=steps), {"GUM"})
    assert [(i.sku, i.qty) for i in items] == [("GUM", -3), ("GUM", 5), ("GUM", 1)]


def test_block_size_does_not_change_the_items():
    steps = [(4.0, "A1", -48.0, 0.2), (9.0, "B1", -352.0, 0.2), (15.0, "A3", 105.5, 0.2)]
    t, grams = stream(20.0, seed=6, steps=steps)
    ref = [(i.shelf_id, i.sku, i.qty) for i in detect(t, grams, block=600)[1]]
    assert ref == [("A", "GUM", 2), ("B", "COLA", 1), ("A", "MILK", -1)]
    for block in (1, 7, 60):
        assert [(i.shelf_id, i.sku, i.qty) for i in detect(t, grams, block=block)[1]] == ref


def test_a_busy_clip_gives_the_same_events_however_its_weights_are_cut():
    """The shipped busy sample (six shoppers, light items, wobble): reading its weights.csv
    in blocks of 1, 7, 29, 30 or 600 rows gives exactly the same events: the noise
    estimates must not follow the block boundaries."""
    path = ROOT / "sample_videos" / "busy" / "weights.csv"
    plates = next(iter_weights_csv(path)).plate_ids
    shelves: dict[str, list[str]] = {}
    for q in plates:
        shelves.setdefault(q[:4], []).append(q)

    def events(rows: int) -> list[tuple]:
        det = WeightEventDetector(shelves, RATE)
        return [(e.shelf_id, e.t_start, e.t_end, e.delta_g, e.t_change, e.t_detected)
                for e in det.run(iter_weights_csv(path, block_rows=rows))]

    ref = events(30)
    assert len(ref) >= 15
    for rows in (1, 7, 29, 600):
        assert events(rows) == ref, rows


def test_hands_on_a_shelf_for_seconds_are_not_learnt_as_its_noise():
    """Hands press plate A2 every 0.4 s for 9 s, so shelf A never settles; then a gum pack
    (24 g) is taken. The presses are not the shelf's noise: they give no item, and the gum
    is still seen."""
    t, grams = stream(30.0, seed=11, steps=[(20.0, "A1", -24.0, 0.2)])
    rng = np.random.default_rng(11)
    for t0 in np.arange(5.0, 14.0, 0.4):
        press = np.clip(np.sin(np.pi * (t - t0) / 0.35), 0, None) * ((t > t0) & (t < t0 + 0.35))
        grams[:, PLATES.index("A2")] += rng.uniform(100, 300) * press
    _, items = detect(t, grams)
    assert [(i.sku, i.qty, round(i.t)) for i in items] == [("GUM", 1, 20)]


def test_a_shelf_that_gets_noisier_learns_its_new_noise():
    """Shelf B's noise rises eightfold at 10 s and stays (a fridge compressor): it never
    settles at the old threshold, so after ``stuck_s`` it learns the new noise, and a soup
    can taken at 32 s is found, on time."""
    t, grams = stream(45.0, seed=12, steps=[(32.0, "B2", -455.0, 0.2)])
    noisy = t > 10.0
    grams[noisy, 3:] += np.random.default_rng(12).normal(0.0, 12.0, (noisy.sum(), 3))
    _, items = detect(t, grams)
    assert [(i.sku, i.qty) for i in items] == [("SOUP", 1)]
    assert abs(items[0].t - 32.0) < 0.3


def test_nan_readings_are_ignored_not_turned_into_steps():
    steps = [(6.0, "B2", -455.0, 0.2)]
    t, grams = stream(12.0, seed=7, steps=steps)
    grams[:120, 0] = np.nan  # a plate silent for the first 2 s
    grams[300:303, 4] = np.nan  # and a short dropout
    _, items = detect(t, grams)
    assert [(i.sku, i.qty) for i in items] == [("SOUP", 1)]


def _gum_as_the_shelf_settles(params: EventParams | None = None, spread: bool = False):
    """Simulated ``pair`` seed 702: a 25 g gum pack is taken from plate G1S1P2 at 13.26 s
    (video clock) just as the shelf settles from an earlier take, so the settle window
    barely moves and the shelf never counts as moving again. With ``spread`` the same
    total step is spread over the shelf's three plates (as wobble spreads). The G1S1 events
    near it: (t_start, plate deltas)."""
    cfg, t, grams, gt = weight_stream("pair", 702)
    [gum] = [g for g in gt if g["shelf"] == "G1S1" and abs(g["t"] - 13.26) < 0.05]
    t_gum = gum["t"] - cfg.sensors.clock_offset_s  # on the sensor clock
    cols = [cfg.plate_ids.index(f"G1S1P{k}") for k in (1, 2, 3)]
    if spread:  # P2 keeps half of its -25 g; P1 and P3 take a quarter each
        step = 25.0 * np.clip((t - t_gum) / 0.2 + 0.5, 0, 1)
        grams[:, cols[1]] += step / 2
        grams[:, cols[0]] -= step / 4
        grams[:, cols[2]] -= step / 4
    planogram = Planogram.from_store(cfg)
    det = WeightEventDetector(planogram.shelves, params=params)
    events = [e for k in range(0, len(t), 30)
              for e in det.update(SampleBlock(t[k:k + 30], grams[k:k + 30],
                                              tuple(cfg.plate_ids)))]
    return [(e.t_start, e.plate_deltas_g) for e in events
            if e.shelf_id == "G1S1" and abs(e.t_change - t_gum) < 1.0]


def test_a_light_take_as_the_shelf_settles_is_caught_by_the_watch():
    [(_, deltas)] = _gum_as_the_shelf_settles()
    assert deltas["G1S1P2"] == pytest.approx(-25.0, abs=4.0)
    assert abs(deltas["G1S1P1"]) < 3.0 and abs(deltas["G1S1P3"]) < 3.0
    # the settle-to-settle trigger alone misses it; the plate's own steps (read 1.5 s
    # after it, walkout.sensors.plates) still find it
    [(_, late)] = _gum_as_the_shelf_settles(EventParams(watch_s=0.0))
    assert late["G1S1P2"] == pytest.approx(-25.0, abs=4.0)
    assert late["G1S1P1"] == late["G1S1P3"] == 0.0


def test_the_watch_takes_only_a_step_on_one_plate():
    assert _gum_as_the_shelf_settles(spread=True) == []
    # a looser share rule would take it: the rule, not the level test, turns it down
    assert _gum_as_the_shelf_settles(EventParams(watch_share=0.4), spread=True) != []


# ---- item identification ---------------------------------------------------------------------
def ev(shelf: str, deltas: dict[str, float], noise: float = 1.0, t: float = 10.0) -> WeightEvent:
    return WeightEvent(shelf, t - 0.5, t + 0.5, sum(deltas.values()), deltas, noise, t)


def test_multi_unit_pick_with_likelihood_check():
    ident = ItemIdentifier(PLANOGRAM)
    [item] = ident.identify(ev("B", {"B1": -1057.0, "B2": 0.4, "B3": -0.3}))
    assert (item.sku, item.qty) == ("COLA", 3)
    assert item.confidence > 0.9
    assert all(conf < 0.05 for _, _, conf in item.alternatives)  # 2 or 4 cans: far off
    [item] = ident.identify(ev("B", {"B1": -880.0, "B2": 0.0, "B3": 0.0}))  # 2.5 units
    assert item.sku == UNEXPLAINED and item.qty == 0 and item.confidence == 0.0


def test_two_products_in_one_event_from_neighbouring_plates():
    ident = ItemIdentifier(PLANOGRAM)
    items = ident.identify(ev("A", {"A1": -24.5, "A2": -209.0, "A3": 0.6}))
    assert sorted((i.sku, i.qty) for i in items) == [("DARK", 2), ("GUM", 1)]


def test_look_alikes_are_told_apart_by_their_plate():
    ident = ItemIdentifier(PLANOGRAM)
    [dark] = ident.identify(ev("A", {"A1": 0.3, "A2": -105.0, "A3": 0.2}))
    [milk] = ident.identify(ev("A", {"A1": 0.3, "A2": 0.1, "A3": -105.0}))
    assert (dark.sku, milk.sku) == ("DARK", "MILK")
    assert dark.alternatives[0][0] == "MILK"  # the weight alone would not have said


def test_misplaced_return_is_found_among_carried_items_and_remembered():
    ident = ItemIdentifier(PLANOGRAM)
    [taken] = ident.identify(ev("B", {"B1": 0.2, "B2": -455.5, "B3": 0.1}, t=5.0))
    assert (taken.sku, taken.qty) == ("SOUP", 1)
    # the soup goes back onto the rice plate: +455 g matches no rice quantity
    [back] = ident.identify(ev("B", {"B1": 0.0, "B2": 0.3, "B3": 454.0}, t=20.0))
    assert (back.sku, back.qty, back.plates) == ("SOUP", -1, ("B3",))
    # a later pick of 455 g from the rice plate is that soup, not a guess
    [again] = ident.identify(ev("B", {"B1": 0.0, "B2": 0.0, "B3": -455.8}, t=40.0))
    assert (again.sku, again.qty) == ("SOUP", 1)


def test_a_return_of_something_nobody_carries_is_unlikely_but_allowed():
    ident = ItemIdentifier(PLANOGRAM)
    [item] = ident.identify(ev("B", {"B1": 0.0, "B2": 455.2, "B3": 0.0}))
    assert (item.sku, item.qty) == ("SOUP", -1)


def test_unexplained_change_is_reported_as_such():
    ident = ItemIdentifier(PLANOGRAM)
    [item] = ident.identify(ev("B", {"B1": 0.0, "B2": -250.0, "B3": 0.0}))
    assert item.unexplained and item.qty == 0 and item.delta_g == pytest.approx(-250.0)
    # below CMU's 0.4-unit rejection rule it is shelf noise, not an item at all
    assert ident.identify(ev("B", {"B1": -0.5, "B2": -20.0, "B3": 0.4})) == []


def test_simulated_streams_meet_the_accuracy_targets():
    """Held-out seeds of the store simulator, every preset (the benchmark runs more)."""
    total = None
    for preset, seed in (("single", 910), ("pair", 911), ("busy", 912)):
        cfg, t, grams, gt = weight_stream(preset, seed)
        planogram = Planogram.from_store(cfg)
        det, ident = WeightEventDetector(planogram.shelves), ItemIdentifier(planogram)
        items = [i for k in range(0, len(t), 60)
                 for e in det.update(SampleBlock(t[k:k + 60], grams[k:k + 60],
                                                 tuple(cfg.plate_ids)))
                 for i in ident.identify(e)]
        sc = score_item_events(items, gt)
        if total is None:
            total = sc
        else:
            total += sc
    assert total.tp >= 30
    assert total.precision >= 0.97 and total.recall >= 0.97 and total.accuracy >= 0.97


# ---- readers -------------------------------------------------------------------------------
def write_csv(tmp_path, rows: list[str], header: str = "t,A1,A2") -> str:
    path = tmp_path / "weights.csv"
    path.write_text(header + "\n" + "".join(r + "\n" for r in rows))
    return str(path)


def read_all(path: str, stats: ReadStats | None = None) -> SampleBlock:
    blocks = list(iter_weights_csv(path, stats, block_rows=3))
    return SampleBlock(np.concatenate([b.t for b in blocks]),
                       np.concatenate([b.grams for b in blocks]), blocks[0].plate_ids)


def test_csv_skips_and_fills_with_counts(tmp_path):
    rows = ["0.00,10,20", "0.02,11,nan", "0.03,12,", "0.03,99,99", "0.01,98,98",
            "nan,97,97", "0.05,13,23", "0.90,14,24", "0.92,inf,25"]
    stats = ReadStats("w")
    b = read_all(write_csv(tmp_path, rows), stats)
    np.testing.assert_allclose(b.t, [0.0, 0.02, 0.03, 0.05, 0.9, 0.92])
    np.testing.assert_allclose(b.grams, [[10, 20], [11, 20], [12, 20], [13, 23], [14, 24],
                                         [14, 25]])
    assert (stats.duplicate, stats.out_of_order, stats.bad_time) == (1, 1, 1)
    assert (stats.filled, stats.gaps, stats.rows) == (3, 1, 6)
    assert "1 duplicate" in stats.summary() and "1 gaps" in stats.summary()


@pytest.mark.parametrize("rows,header,message", [
    (["0.0,1"], "t,A1,A2", "line 2: expected 3 columns"),
    (["0.0,1,2", "0.1,x,2"], "t,A1,A2", "line 3: expected numbers"),
    (["0.0,1,2"], "time,A1,A2", "line 1: expected header"),
    (["0.0,1,2"], "t,A1,A1", "line 1: duplicate plate id"),
])
def test_csv_structure_errors_name_the_line(tmp_path, rows, header, message):
    path = write_csv(tmp_path, rows, header)
    with pytest.raises(InputError, match=message) as err:
        read_all(path)
    assert str(tmp_path) in str(err.value)


def test_plates_the_store_expects_but_the_stream_lacks_are_reported(tmp_path):
    path = write_csv(tmp_path, ["0.0,1,2", "0.1,1,2"])
    stats = ReadStats("w")
    blocks = list(check_plates(iter_weights_csv(path, stats), ["A1", "A2", "A3"], stats))
    assert len(blocks) == 1 and stats.missing_plates == ["A3"]
    assert "1 missing plates (A3)" in stats.summary()


def aifi_line(gondola: int, ts: float, data: np.ndarray) -> str:
    padded = np.full((len(data), data.shape[1] + 1, data.shape[2] + 1), np.nan, "<f4")
    padded[:, 1:, 1:] = data
    doc = {"timestamp": ts, "document": {"plate_data": {
        "plate_id": {"shelf_id": {"gondola_id": {"id": gondola}}}, "freq_samp": 60.0,
        "values": {"shape": list(padded.shape),
                   "data": base64.b64encode(padded.tobytes()).decode()}}}}
    return json.dumps(doc)


def test_aifi_reader_joins_batches_on_one_clock(tmp_path):
    rng = np.random.default_rng(0)
    lines = [aifi_line(1, 100.0 + 0.2 * k + rng.normal(0, 0.005), rng.normal(50, 1, (12, 2, 3)))
             for k in range(5)]
    lines.insert(3, aifi_line(1, 100.2, np.zeros((12, 2, 3))))  # a stale batch
    lines.append(aifi_line(1, 105.0, np.ones((12, 2, 3))))  # after a gap
    path = tmp_path / "plate_data.jsonl"
    path.write_text("\n".join(lines) + "\n")
    stats = ReadStats("aifi")
    blocks = list(iter_aifi(path, stats))
    t = np.concatenate([b.t for b in blocks])
    assert blocks[0].plate_ids == ("g1s1p1", "g1s1p2", "g1s1p3", "g1s2p1", "g1s2p2", "g1s2p3")
    np.testing.assert_allclose(np.diff(t[:60]), 1 / 60, atol=1e-9)  # one clock, no overlap
    assert stats.out_of_order == 12 and stats.gaps == 1 and len(t) == 72


@pytest.mark.parametrize("line,message", [
    ("{not json", "invalid JSON"),
    ('{"timestamp": 1}', "missing key"),
    ('{"timestamp": 1, "document": {"plate_data": {"plate_id": {"shelf_id": {"gondola_id": '
     '{"id": 1}}}, "freq_samp": 60, "values": {"shape": [1, 2, 2], "data": "AAAA"}}}}',
     "does not match"),
])
def test_aifi_reader_errors_name_the_line(tmp_path, line, message):
    path = tmp_path / "p.jsonl"
    path.write_text(aifi_line(1, 1.0, np.ones((12, 1, 1))) + "\n" + line + "\n")
    with pytest.raises(InputError, match=f"line 2: .*{message}"):
        list(iter_aifi(path))


def test_aifi_reader_on_the_real_quiet_gondolas():
    path = shared_path("aifi", "benchmark-1", "plate_data_g2-4.jsonl")
    stats = ReadStats("aifi")
    blocks = list(iter_aifi(path, stats))
    gondolas = {b.plate_ids[0].split("s")[0] for b in blocks}
    assert gondolas == {"g2", "g3", "g4"}
    assert {len(b.plate_ids) for b in blocks} == {12 * 5, 12 * 6}
    assert stats.problems() == {} and stats.rows == 3 * 86 * 12
    for g in gondolas:
        t = np.concatenate([b.t for b in blocks if b.plate_ids[0].startswith(g + "s")])
        assert np.all(np.diff(t) > 0) and np.median(np.diff(t)) == pytest.approx(1 / 60)
        assert 16.5 < t[-1] - t[0] < 18.0
    assert all(np.isfinite(b.grams).all() for b in blocks)
    det = WeightEventDetector({}, RATE, shelf_of=shelves_by_prefix)
    assert det.run(blocks) == []  # nobody touches these shelves


# ---- live line protocol ------------------------------------------------------------------------
def test_line_protocol_forms():
    assert parse_line("A1 12.5") == [("A1", 12.5, None)]
    assert parse_line("A1 12.5 3.25") == [("A1", 12.5, 3.25)]
    assert parse_line('{"plate": "A2", "g": 7, "t": 1.5}') == [("A2", 7.0, 1.5)]
    assert parse_line('{"t": 2, "plates": {"A1": 1, "A2": 2}}') == [("A1", 1.0, 2.0),
                                                                    ("A2", 2.0, 2.0)]
    with pytest.raises(ValueError):
        parse_line("A1")


def test_assembler_holds_values_and_counts_bad_lines():
    asm = LineAssembler(["A1", "A2"], rate_hz=10.0)
    for line, t in [("A1 100", 0.0), ("A2 200", 0.01), ("garbage", 0.02), ("Z9 1", 0.03),
                    ("A1 nan", 0.04), ('{"plate": "A1", "g": 101, "t": 0.2}', 0.2),
                    ('{"plate": "A1", "g": 90, "t": 0.1}', 0.21),
                    ('{"plate": "A1", "g": 91, "t": 0.2}', 0.22)]:
        asm.feed(line, t)
    block = asm.rows_until(0.25)
    np.testing.assert_allclose(block.t, [0.0, 0.1, 0.2])
    np.testing.assert_allclose(block.grams[-1], [101, 200])
    st = asm.stats
    assert (st.bad_lines, st.unknown_plates, st.filled, st.out_of_order, st.duplicate) == \
        (1, 1, 1, 1, 1)


def test_udp_scale_on_loopback():
    lines = UdpLines("127.0.0.1", 0)

    def board() -> None:  # a load-cell board sending a reading of each plate every 50 ms
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
            for k in range(10):
                tx.sendto(f"A1 {100 + k}\nA2 50\n".encode(), lines.address)
                time.sleep(0.05)

    sender = threading.Thread(target=board)
    try:
        sender.start()
        blocks = list(iter_live(lines, ["A1", "A2"], rate_hz=20.0, block_s=0.05, max_s=1.0))
        sender.join()
    finally:
        lines.close()
    grams = np.concatenate([b.grams for b in blocks])
    t = np.concatenate([b.t for b in blocks])
    assert grams.shape[1] == 2 and len(grams) >= 5
    np.testing.assert_allclose(np.diff(t), 0.05, atol=1e-9)  # regular rows at 20 Hz
    assert grams[-1].tolist() == [109, 50]
    assert set(grams[:, 0]) <= set(range(100, 110))


# ---- the command -------------------------------------------------------------------------------
def test_weight_events_command_on_a_clip(single_clip, tmp_path, capsys):
    out = tmp_path / "events.jsonl"
    assert main(["weight-events", str(single_clip), "--out", str(out)]) == 0
    recs = [json.loads(x) for x in out.read_text().splitlines()]
    items = [r for r in recs if r["type"] == "item"]
    gt = [json.loads(x) for x in (single_clip / "gt" / "events.jsonl").read_text().splitlines()]
    assert {r["type"] for r in recs} == {"weight", "item"}
    assert sorted((r["sku"], r["qty"]) for r in items) == sorted((g["sku"], g["qty"])
                                                                 for g in gt)
    assert "item events" in capsys.readouterr().out


def test_weight_events_command_bad_input_writes_nothing(tmp_path, single_clip, capsys):
    bad = tmp_path / "weights.csv"
    bad.write_text("t,G1S1P1\n0.0,1\n0.1\n")
    out = tmp_path / "events.jsonl"
    code = main(["weight-events", str(bad), "--store", str(single_clip / "store.yaml"),
                 "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and "line 3" in err and "Traceback" not in err
    assert not out.exists()


def test_weight_events_command_with_aifi_files(tmp_path):
    data = shared_path("aifi", "benchmark-1")
    out = tmp_path / "events.jsonl"
    code = main(["weight-events", str(data / "plate_data_g2-4.jsonl"), "--products",
                 str(data / "products.jsonl"), "--planogram", str(data / "planogram.jsonl"),
                 "--out", str(out)])
    assert code == 0 and out.read_text() == ""  # the quiet gondolas: no events
    planogram = Planogram.from_aifi(data / "products.jsonl", data / "planogram.jsonl")
    assert "g2s1" in planogram.shelves and "g2s1p1" in planogram.shelves["g2s1"]
    stocked = [s for s in planogram.plate_sku.values() if s]
    assert stocked and all(s.isdigit() for s in stocked)  # barcodes


def _drawn_items(preset: str, world: int, give_way: bool = False) -> tuple[list, list]:
    # the walks most of these situations were found in: walkers still passed through people
    # then (177656d made them give way, which moves every visit's timing in drawn worlds)
    w = replace(draw_world(world), give_way=give_way)
    cfg, t, grams, gt = weight_stream(preset, world, world=w)
    t = t + cfg.sensors.clock_offset_s  # the store's stated offset, as the pipeline does
    planogram = Planogram.from_store(cfg)
    det, ident = WeightEventDetector(planogram.shelves, RATE), ItemIdentifier(planogram)
    items = [i for b in range(0, len(t), 60)
             for ev in det.update(SampleBlock(t[b:b + 60], grams[b:b + 60],
                                              tuple(cfg.plate_ids)))
             for i in ident.identify(ev)]
    return items, gt


@pytest.mark.parametrize(("preset", "world", "sku"), [("pair", 816, "P23"),
                                                      ("single", 817, "P24")])
def test_two_takes_a_second_apart_are_counted_once_each(preset, world, sku):
    """Two takes of one product from one plate about 1.1 s apart: a plate's step over
    1.5 s sides holds both, and must not count again what the shelf read of them (in
    world 817 the shelf reads only the second: the plate step brings the first)."""
    items, gt = _drawn_items(preset, world)
    want = sum(g["qty"] for g in gt if g["sku"] == sku)
    assert want >= 2
    assert sum(i.qty for i in items if i.sku == sku) == want
    sc = score_item_events(items, gt)
    assert sc.fp == 0 and sc.fn == 0


@pytest.mark.parametrize(("preset", "world", "sku"), [("busy", 809, "P04"),
                                                      ("pair", 818, "P04")])
def test_a_put_back_soon_after_a_take_is_a_step_of_its_own(preset, world, sku):
    """A bar taken and put back on its plate 1.4-1.6 s later, with a hard press as it goes
    back and hands on the shelf throughout, so the shelf never settles between: the plate's
    own steps read the take and then the put-back. A step of the other sign within 1.5 s is
    another step, not the take read again at a later median. (Before, the put-back was
    taken for an echo of the take and dropped: the bar stayed in a cart.)"""
    items, gt = _drawn_items(preset, world)
    assert [g["qty"] for g in gt if g["sku"] == sku][:2] == [1, -1]
    assert [i.qty for i in items if i.sku == sku][:2] == [1, -1]
    sc = score_item_events(items, gt)
    assert sc.fp == 0 and sc.fn == 0


def test_a_put_back_a_second_after_a_take_is_read_whole():
    """World 922 `pair`: a 455 g soup can taken at 18.1 s and put back on its plate at
    19.1 s, the shelf pressed between. Read with the after side starting at the put-back's
    half-way median, the side before held the level before the take too and passed for
    flat (pressed), and the put-back read 388 g: 8 boxes of tea returned, that nobody
    held. Of the readings around the step whose sides are flat the largest is the one
    with the least of other levels in its sides: 456 g, the can."""
    items, gt = _drawn_items("pair", 922)
    assert [(g["sku"], g["qty"]) for g in gt if g["shelf"] == "G4S1"][:3] == [
        ("P17", 1), ("P17", 1), ("P17", -1)]
    assert sorted((i.sku, i.qty) for i in items if i.shelf_id == "G4S1") == [
        ("P07", 1), ("P17", -1), ("P17", 1), ("P17", 1)]
    sc = score_item_events(items, gt)
    assert sc.fp == 0 and sc.fn == 0 and sc.correct == sc.tp


def test_a_plate_step_waits_for_the_shelf_reading_of_a_neighbours_take():
    """World 933 `pair`: two energy drinks (276 g) taken from one plate 0.5 s apart, and
    the other shopper's take from the next plate 0.4 s after the second. The shelf settles
    for a moment between the two takes and reads only the second; the plate's own step
    holds both (-543 g), with the neighbour's take (-353 g) in its side after. Judged at
    once, the plate carried only 61% of the shelf's moves and the step was dropped as a
    lean; it now waits for the shelf's reading to come, which explains the neighbour's
    plate and its own second take: the first take is what is left."""
    items, gt = _drawn_items("pair", 933)
    assert [(g["sku"], g["qty"]) for g in gt if g["shelf"] == "G2S2"] == [
        ("P23", 1), ("P23", 1), ("P12", 1), ("P12", 1)]
    assert sorted((i.sku, i.qty) for i in items if i.shelf_id == "G2S2") == [
        ("P12", 1), ("P12", 1), ("P23", 1), ("P23", 1)]


def test_a_take_and_a_return_to_the_next_plate_found_a_block_apart_are_read_together():
    """World 1104 `pair`: one shopper takes still water (536 g) from plate G3S1P2 as the
    other puts iced tea (545 g) back on P3, 3 ms apart: the shelf's total ends 8 g off and
    settles while P3 is still pressed, so the plates' own steps read both, but the press
    held P3's step back half a second. Judged alone, P2 carried half the shelf's moves and
    was dropped as a lean, then so was P3: the water was never charged and the tea never
    returned. A step that does not carry its shelf's moves now waits a side's length for
    the step of another plate at that moment."""
    items, gt = _drawn_items("pair", 1104, give_way=True)
    shelf = sorted((g["sku"], g["qty"]) for g in gt if g["shelf"] == "G3S1")
    assert shelf == [("P10", 1), ("P24", -1), ("P24", 1)]
    assert sorted((i.sku, i.qty) for i in items if i.shelf_id == "G3S1") == shelf
    assert [round(i.t) for i in items if i.shelf_id == "G3S1" and i.sku == "P10"] == [35]


@pytest.mark.parametrize(("preset", "world", "shelf", "sku", "units"), [
    ("busy", 1102, "G3S1", "P09", [1, 1, 1]), ("busy", 1108, "G2S1", "P05", [2, 1]),
    ("pair", 1102, "G4S1", "P17", [2])])
def test_the_level_left_is_read_clear_of_the_next_press(preset, world, shelf, sku, units):
    """Drawn worlds 1102 and 1108 `busy`: takes a second apart from one plate, the shelf
    settling for a moment between them. The level it left before the next take was read
    on a window ending guard_s before the shelf showed moving, but a shelf's deviation
    lags a hand's touch, and the window held the first samples of the press: the plate
    was judged pressed, no level was read, and the plate's own steps read two takes as
    one, or none. The level is now read from the latest earlier window of the settled run
    over which every plate was still. (`pair` 1102: the same with a 35 g press under two
    455 g cans, which a looser stillness let through as -945 g, unexplained.)"""
    items, gt = _drawn_items(preset, world, give_way=True)
    assert [g["qty"] for g in gt if g["sku"] == sku and g["shelf"] == shelf] == units
    got = [i for i in items if i.shelf_id == shelf and i.sku == sku]
    assert [i.qty for i in got] == units
    assert [i.t for i in got] == pytest.approx(
        [g["t"] for g in gt if g["sku"] == sku and g["shelf"] == shelf], abs=0.25)


def test_a_light_item_eased_off_is_not_read_on_its_ramp():
    """Drawn world 1112 `pair`: two 25 g gum packs taken 2 s apart from a plate of a shelf
    whose plates move by 3-7 g sample to sample. Each time the hand pressed, let go, and
    the plate then eased down by 25 g over a quarter second. The shelf's total counted as
    settled during that ramp, and its spread passed for still, so the level after was read
    halfway down: -14 g and -21 g, unexplained, or under the plate's own step. A level's
    window must now be level too (its halves agree within flat_g or their noise), so the
    plate's own steps read both packs."""
    items, gt = _drawn_items("pair", 1112, give_way=True)
    want = [g for g in gt if g["shelf"] == "G1S1"]
    assert [(g["sku"], g["qty"]) for g in want] == [("P02", 1), ("P02", 1)]
    got = [i for i in items if i.shelf_id == "G1S1"]
    assert [(i.sku, i.qty) for i in got] == [("P02", 1), ("P02", 1)]
    assert [i.t for i in got] == pytest.approx([g["t"] for g in want], abs=0.5)


def test_a_second_take_two_seconds_after_a_first_is_its_own_plate_step():
    """Drawn world 901 `pair`: gum packs (24 g) taken from one plate 2.1 s apart; the shelf
    reads the first, and the second only on its ramp (so it is left to the plate). The
    plate's robust levels read the second step alike from 14.2 s to 15.2 s, and the first
    of those readings lay within a side (1.5 s) of the first take's larger one, which beat
    it; the rest tied with it, so no reading was the largest around and the take was lost.
    Now a reading is beaten only by one that is itself the largest since a side before."""
    items, gt = _drawn_items("pair", 901, give_way=True)
    want = [g for g in gt if g["shelf"] == "G1S1" and g["sku"] == "P01"]
    assert [g["qty"] for g in want] == [1, 1]
    got = [i for i in items if i.shelf_id == "G1S1" and i.sku == "P01"]
    assert [i.qty for i in got] == [1, 1]
    assert [i.t for i in got] == pytest.approx([g["t"] for g in want], abs=0.5)
    sc = score_item_events(items, gt)
    assert sc.fp == 0 and sc.fn == 0


def test_a_step_on_a_swaying_board_is_read_when_the_board_settles():
    """Drawn world 1139 `busy`: two shoppers take a 350 g bag and a 275 g drink from two
    plates of one shelf 0.7 s apart, while the board sways: all three plates move together
    by up to 10 g over a tenth of a second, far more than their sample-to-sample noise, so
    the plate that carried the larger step did not count as still when the shelf settled
    and neither take was read. A board's sway moves every plate the same way and a press
    moves one, so stillness is now judged less what all the plates share."""
    items, gt = _drawn_items("busy", 1139, give_way=True)
    want = [(g["sku"], g["qty"]) for g in gt if g["shelf"] == "G2S2" and 50 < g["t"] < 52]
    assert want == [("P12", 1), ("P23", 1)]
    got = [i for i in items if i.shelf_id == "G2S2" and 50 < i.t < 52]
    assert [(i.sku, i.qty) for i in got] == want


def test_a_boards_sway_read_crest_to_trough_is_no_item():
    """Drawn world 1143 `single`: a 24 g gum taken from one plate of a board that sways
    (its total by about 20 g) in one uneven shape, its three plates taking about a third,
    a half and a tenth of it. The level before was read at a crest and the level after in
    a trough, so the next plate read -19.6 g: a phantom 25 g gum. The board's shape,
    learnt from its plates' history, explains both other plates' moves, and that sway is
    taken out of the reading."""
    items, gt = _drawn_items("single", 1143, give_way=True)
    want = [(g["sku"], g["qty"]) for g in gt if g["shelf"] == "G1S1"]
    assert want == [("P01", 1)]
    assert [(i.sku, i.qty) for i in items if i.shelf_id == "G1S1"] == want
    sc = score_item_events(items, gt)
    assert sc.fp == 0 and sc.fn == 0


def test_a_take_from_the_plate_a_board_sways_most_is_no_sway():
    """Drawn world 1158 `pair`: a 25 g gum taken 0.3 s after a 48 g pack, from the plate
    that carries most of its board's sway, while the third plate kept its level. Fitted
    as a sway, the shape wanted 5 g of that plate and ate two thirds of the gum; a sway
    moves every plate by its share, so a plate that kept its level says it was none."""
    items, gt = _drawn_items("pair", 1158, give_way=True)
    want = sorted((g["sku"], g["qty"]) for g in gt if g["shelf"] == "G1S1")
    assert want == [("P02", 1), ("P28", 1)]
    assert sorted((i.sku, i.qty) for i in items if i.shelf_id == "G1S1") == want


def test_a_take_whose_settle_held_its_ramp_is_read_from_the_level_before():
    """Drawn world 1170 `busy`: a shopper takes two 48 g packs from one plate 1.6 s apart,
    and another presses the next plate 0.2 s after the shelf settles from the second. The
    settle window held the second lift's ramp (not a level), and the movement that came
    next was read from the level the shelf settled at, after the take: it was lost. A
    movement that follows such a settle within the watch is read from the level before
    both."""
    items, gt = _drawn_items("busy", 1170, give_way=True)
    want = sorted((g["sku"], g["qty"]) for g in gt if g["shelf"] == "G1S1" and g["t"] < 20)
    assert want == [("P02", 1), ("P28", 1), ("P28", 1)]
    assert sorted((i.sku, i.qty) for i in items if i.shelf_id == "G1S1" and i.t < 20) == want


def test_a_put_back_beside_a_neighbours_take_is_not_taken_for_a_lean():
    """World 929 `busy`: an energy drink (276 g) put back on its plate 0.9 s after it was
    taken, while another shopper takes a 355 g bag from the next plate. The plate's own
    step reads the put-back; the shelf's event reads the bag, at a change time a ramp off,
    so that modelled through the step's medians it read more of that plate (-178 g) than
    the plate moved there (-105 g). Taken whole off the neighbour's move, that left it at
    +72 g, and the put-back carried 79% of the moves, under the 80% a step needs. A
    reading now explains another plate's move up to the whole of it, never past it."""
    items, gt = _drawn_items("busy", 929)
    shelf = [(g["sku"], g["qty"]) for g in gt if g["shelf"] == "G2S2" and 60 < g["t"] < 70]
    assert sorted(shelf) == [("P12", 1), ("P12", 2), ("P23", -1), ("P23", 1), ("P23", 1)]
    assert sorted((i.sku, i.qty) for i in items
                  if i.shelf_id == "G2S2" and 60 < i.t < 70) == sorted(shelf)


@pytest.mark.parametrize("world", [837, 846])
def test_a_swaying_shelf_gives_no_plate_steps(world):
    """Worlds 837 and 846: shelves sway (wobble of 3-28 g on the total, correlated over a
    quarter second), moving their plates by 10-15 g over a side's 1.5 s while each 0.25 s
    median moves little from the last. The plates' own noise over a side keeps the sway
    from passing for a 24 g item (and in 846 the real 24 g take is still found)."""
    items, gt = _drawn_items("single", world)
    sc = score_item_events(items, gt)
    assert sc.fp == 0 and sc.fn == 0
