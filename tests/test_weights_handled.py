"""A shelf handled from the first sample (issue 27): `walkout weight-events --format aifi`
finds one item on a record where the shelf never settles before it, and nothing on quiet
shelves."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
from conftest import shared_path
from scipy.signal import lfilter

from walkout.cli import main
from walkout.sim.weights import NoiseModel, shelf_noise

RATE = 60.0
WATER = ("071142008582", "spring water", 621.67)
SHELVES, PLATES = 6, 12


def _aifi_files(tmp: Path, grams: np.ndarray, t0: float, skus: list[list[str | None]],
                products: list[tuple[str, str, float]]) -> tuple[Path, Path, Path]:
    """Gondola 1 as AiFi plate_data (12-sample documents, float32 base64, NaN padding in row
    and column 0), products and planogram JSON lines."""
    n = len(grams)
    lines = []
    for i in range(0, n, 12):
        part = grams[i:i + 12]
        arr = np.full((len(part), SHELVES + 1, PLATES + 1), np.nan, "<f4")
        arr[:, 1:, 1:] = part
        lines.append(json.dumps({"timestamp": t0 + (i + len(part) - 1) / RATE, "document": {
            "plate_data": {"plate_id": {"shelf_id": {"gondola_id": {"id": 1}}},
                           "freq_samp": RATE, "values": {
                               "data": base64.b64encode(arr.tobytes()).decode(),
                               "shape": list(arr.shape)}}}}))
    data = tmp / "plate_data.jsonl"
    data.write_text("\n".join(lines) + "\n")
    prod = tmp / "products.jsonl"
    prod.write_text("".join(json.dumps({"product_id": {"id": sku}, "metadata": {
        "name": name, "weight": w, "price": 1.0}}) + "\n" for sku, name, w in products))
    plan = tmp / "planogram.jsonl"
    rows = []
    for s, row in enumerate(skus):
        for p, sku in enumerate(row):
            if sku is not None:
                rows.append(json.dumps({"plate_ids": [{"shelf_id": {
                    "gondola_id": {"id": 1}, "shelf_index": s + 1}, "plate_index": p + 1}],
                    "planogram_product_id": {"id": sku}}))
    plan.write_text("\n".join(rows) + "\n")
    return data, prod, plan


def _handled_gondola(seed: int) -> tuple[np.ndarray, list[list[str | None]], list]:
    """17.2 s of one gondola; shelf 5 is handled from sample 0 to the end: its total swings
    by about 80 g (shared by its plates), a hand presses its plates about once a second,
    and at 12.8 s one bottle of water (621.67 g) leaves plate 11. Plates sit at offsets
    from -5 kg to +3 kg, read in steps of 0.36 g, and have NaN gaps."""
    rng = np.random.default_rng(seed)
    n = int(17.2 * RATE)
    t = np.arange(n) / RATE
    grams = np.stack([shelf_noise(rng, t, PLATES, NoiseModel()) for _ in range(SHELVES)], 1)
    walk = lfilter([1.0], [1.0, -np.exp(-1 / (0.5 * RATE))], rng.normal(0, 1, n))
    walk = (walk - walk.mean()) / np.ptp(walk) * 80.0
    grams[:, 4, :] += walk[:, None] * rng.dirichlet(np.full(PLATES, 20.0))[None, :]
    for t0 in np.arange(0.3, 17.0, 1.1):
        if abs(t0 - 12.8) > 0.8:
            p = rng.integers(PLATES)
            grams[:, 4, p] += rng.uniform(40, 300) * np.clip(
                np.sin(np.pi * (t - t0) / 0.3), 0, None) * ((t > t0) & (t < t0 + 0.3))
    grams[:, 4, 10] -= WATER[2] * np.clip((t - 12.8) / 0.25, 0, 1)
    grams += rng.uniform(-5000, 3000, (SHELVES, PLATES))[None] + 2000.0
    grams = np.round(grams / 0.36) * 0.36
    for _ in range(5):
        i = rng.integers(n - 30)
        grams[i:i + 20, rng.integers(SHELVES), rng.integers(PLATES)] = np.nan
    other = [(f"P{k:02d}", f"product {k}", w) for k, w in
             enumerate((104.0, 162.0, 352.0, 455.0, 538.0, 1040.0))]
    skus: list[list[str | None]] = [[other[(s + p // 3) % 6][0] for p in range(PLATES)]
                                    for s in range(SHELVES)]
    skus[4][10] = skus[4][11] = WATER[0]
    return grams, skus, [*other, WATER]


def _items(out: Path) -> tuple[list[dict], list[dict]]:
    recs = [json.loads(x) for x in out.read_text().splitlines()]
    return ([r for r in recs if r["type"] == "weight"], [r for r in recs if r["type"] == "item"])


def test_a_shelf_handled_from_the_first_sample_gives_its_one_item(tmp_path):
    for seed in (1, 2, 3):
        grams, skus, products = _handled_gondola(seed)
        data, prod, plan = _aifi_files(tmp_path, grams, 1.5875e9, skus, products)
        out = tmp_path / f"events{seed}.jsonl"
        assert main(["weight-events", str(data), "--format", "aifi", "--products", str(prod),
                     "--planogram", str(plan), "--out", str(out)]) == 0
        _, items = _items(out)
        assert [(i["shelf_id"], i["sku"], i["qty"]) for i in items] == [("g1s5", WATER[0], 1)]
        assert abs(items[0]["t"] - (1.5875e9 + 12.8)) < 0.5


def test_the_plates_alone_find_it_when_the_total_is_buried():
    """Without the handled shelf's item the same record gives nothing: the presses and the
    swing of the total are not items."""
    import tempfile

    from walkout.sensors import Planogram, WeightEventDetector, iter_aifi
    with tempfile.TemporaryDirectory() as d:
        grams, skus, products = _handled_gondola(4)
        t = np.arange(len(grams)) / RATE
        grams[:, 4, 10] += WATER[2] * np.clip((t - 12.8) / 0.25, 0, 1)  # put it back
        data, prod, plan = _aifi_files(Path(d), grams, 1.5875e9, skus, products)
        pg = Planogram.from_aifi(prod, plan)
        assert WeightEventDetector(pg.shelves, RATE).run(iter_aifi(data)) == []


def test_real_quiet_gondolas_stay_silent(tmp_path):
    data = shared_path("aifi", "benchmark-1")
    out = tmp_path / "events.jsonl"
    assert main(["weight-events", str(data / "plate_data_g2-4.jsonl"), "--format", "aifi",
                 "--products", str(data / "products.jsonl"), "--planogram",
                 str(data / "planogram.jsonl"), "--out", str(out)]) == 0
    assert _items(out) == ([], [])


def _item_events(grams, skus, products, tmp: Path) -> list[tuple]:
    from walkout.sensors import ItemIdentifier, Planogram, WeightEventDetector, iter_aifi
    data, prod, plan = _aifi_files(tmp, grams, 1.5875e9, skus, products)
    pg = Planogram.from_aifi(prod, plan)
    ident = ItemIdentifier(pg)
    events = WeightEventDetector(pg.shelves, RATE).run(iter_aifi(data))
    return [(i.shelf_id, i.sku, i.qty, round(i.t - 1.5875e9, 1)) for ev in events
            for i in ident.identify(ev)]


def test_an_arm_resting_on_the_shelf_is_no_item(tmp_path):
    """An arm rests on the handled shelf from 1 s to 3 s (before its noise is known),
    adding 40 g shared by all its plates (3 g each): the shelf's total steps like a light
    item's, its plates do not."""
    for seed in (5, 6, 7, 8):
        grams, skus, products = _handled_gondola(seed)
        t = np.arange(len(grams)) / RATE
        grams[:, 4, 10] += WATER[2] * np.clip((t - 12.8) / 0.25, 0, 1)  # no item
        rest = np.clip((t - 1.0) / 0.3, 0, 1) * np.clip((3.0 - t) / 0.3, 0, 1)
        grams[:, 4, :] += 40.0 / PLATES * rest[:, None]
        assert _item_events(grams, skus, products, tmp_path) == [], seed


def test_a_light_item_taken_from_a_handled_shelf_is_read_on_its_plate(tmp_path):
    """Gum (24 g, the lightest item) taken from one plate of the handled shelf while its
    total swings by 80 g: one item of gum, and the water later."""
    gum = ("GUM01", "gum", 24.0)
    for seed in (6, 7, 8, 9):
        grams, skus, products = _handled_gondola(seed)
        t = np.arange(len(grams)) / RATE
        skus[4][2] = gum[0]
        grams[:, 4, 2] -= gum[2] * np.clip((t - 6.0) / 0.2, 0, 1)
        found = _item_events(grams, skus, [*products, gum], tmp_path)
        assert [x[:3] for x in found] == [("g1s5", gum[0], 1), ("g1s5", WATER[0], 1)], seed
        assert abs(found[0][3] - 6.1) <= 0.5 and abs(found[1][3] - 12.9) <= 0.5


def test_a_plate_pressed_again_and_again_around_a_take_gives_one_step_at_its_time():
    """Three presses of 70-130 g within 1.5 s before a take of 456 g (the hand rummages
    on the plate it takes from): one step of the plate, its size and time right."""
    from walkout.sensors import EventParams
    from walkout.sensors.plates import PlateStepFinder
    rng = np.random.default_rng(7)
    t = np.arange(int(10 * RATE)) / RATE
    x = 3000.0 + rng.normal(0, 1.0, len(t)) - 456.0 * np.clip((t - 6.0) / 0.2, 0, 1)
    for t0, peak in ((4.4, 125.0), (5.0, 92.0), (5.5, 71.0)):
        x += peak * np.clip(np.sin(np.pi * (t - t0) / 0.3), 0, None) * ((t > t0) & (t < t0 + 0.3))
    finder = PlateStepFinder(1, RATE, EventParams())
    steps = []
    for i in range(0, len(t), 30):
        steps += finder.update(t[i:i + 30], x[i:i + 30, None])
    steps += finder.update(np.zeros(0), np.zeros((0, 1)), True)
    assert len(steps) == 1
    assert abs(steps[0].delta_g + 456.0) < 4.0 and abs(steps[0].t_step - 6.0) <= 0.3
