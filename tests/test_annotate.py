"""walkout.annotate: what each overlay element does to the pixels, and atomic video output."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

import walkout as wo
from walkout.annotate import Annotator, Overlay, VideoOut, shopper_colour
from walkout.types import Receipt, ReceiptLine

ROOT = Path(__file__).resolve().parents[1]
W, H = 640, 480
GREY_LEVEL = 128


@pytest.fixture(scope="module")
def store() -> wo.StoreConfig:
    return wo.load_store(ROOT / "sample_videos" / "busy" / "store.yaml")


@pytest.fixture(scope="module")
def ann(store) -> Annotator:
    return Annotator(store)


def grey(w: int = W, h: int = H) -> np.ndarray:
    return np.full((h, w, 3), GREY_LEVEL, np.uint8)


def empty(t: float = 1.0, **kw) -> Overlay:
    return Overlay(t=t, boxes=np.zeros((0, 4)), labels=[], **kw)


def one_box(box, label: str, **kw) -> Overlay:
    return Overlay(t=1.0, boxes=np.array([box], float), labels=[label], **kw)


def inside(poly: np.ndarray, inset: int = 4, k: float = 1.0) -> tuple[slice, slice]:
    """Row and column slices of a rectangle polygon's interior (scaled by ``k``)."""
    p = np.asarray(poly) * k
    x0, y0 = p.min(axis=0).astype(int) + inset
    x1, y1 = p.max(axis=0).astype(int) - inset
    return slice(y0, y1), slice(x0, x1)


def mean_bgr(img: np.ndarray, region: tuple[slice, slice]) -> np.ndarray:
    return img[region].reshape(-1, 3).mean(axis=0)


def receipt(store) -> Receipt:
    skus = list(store.products)[:3]
    lines = tuple(ReceiptLine(s, store.products[s].name, 2, store.products[s].price) for s in skus)
    return Receipt("r0001", "7", 3.0, 25.0, lines, sum(2 * x.unit_price for x in lines),
                   ("ambiguous",))


def busy_overlay(store) -> Overlay:
    """Six shoppers with carts, two reaching, one flagged, a receipt, fps and latency."""
    boxes = np.array([[60, 100, 110, 180], [250, 60, 300, 140], [580, 300, 635, 390],
                      [300, 140, 350, 220], [460, 380, 520, 470], [150, 300, 200, 400],
                      [400, 300, 440, 380]], float)
    labels = ["1", "2", "3", "4", "5", "6", ""]
    skus = list(store.products)
    carts = {lab: {skus[(3 * i + j) % len(skus)]: j + 1 for j in range(3)}
             for i, lab in enumerate(labels) if lab}
    return Overlay(t=12.34, boxes=boxes, labels=labels, reaching={"1": ["G4S1"], "2": ["G1S1"]},
                   carts=carts, receipt=receipt(store), fps=12.5, latency_ms=85.0,
                   flags={"2": ["ambiguous"]})


# ---- Annotator ---------------------------------------------------------------------------------
def test_draw_returns_a_new_image_and_leaves_the_input_unchanged(store, ann):
    img = np.random.default_rng(0).integers(0, 256, (H, W, 3), dtype=np.uint8)
    before = img.copy()
    out = ann.draw(img, busy_overlay(store))
    assert out.shape == img.shape and out.dtype == np.uint8
    assert not np.shares_memory(out, img)
    assert np.array_equal(img, before)
    assert not np.array_equal(out, img)


def test_exit_zone_is_red_and_entrance_zone_green(store, ann):
    out = ann.draw(grey(), empty())
    b, g, r = mean_bgr(out, inside(store.zones.exit))
    assert r > g + 30 and r > b + 30
    b, g, r = mean_bgr(out, inside(store.zones.entrance))
    assert g > r + 30 and g > b + 30
    # a floor pixel away from every polygon and panel is left alone
    assert (out[400, 20] == GREY_LEVEL).all()


def test_a_reach_zone_being_reached_is_highlighted(store, ann):
    g2s1 = inside(store.shelf("G2S1").reach_zone)
    g4s1 = inside(store.shelf("G4S1").reach_zone)
    rest = ann.draw(grey(), empty())
    reached = ann.draw(grey(), empty(reaching={"9": ["G2S1"]}))
    assert (mean_bgr(rest, g2s1) != GREY_LEVEL).any()  # reach zones are filled at rest too
    b, g, r = mean_bgr(reached, g2s1)
    b0, g0, r0 = mean_bgr(rest, g2s1)
    assert abs(r - r0) + abs(g - g0) + abs(b - b0) > 40
    assert r > b + 40 and g > b + 40  # yellowish
    assert np.array_equal(reached[g4s1], rest[g4s1])  # other zones as at rest
    # an unknown shelf id draws nothing extra
    assert np.array_equal(ann.draw(grey(), empty(reaching={"9": ["nope"]})), rest)


def test_a_labelled_box_is_drawn_in_its_shopper_colour(ann):
    box = [250, 150, 300, 230]
    base = ann.draw(grey(), empty())
    out = ann.draw(grey(), one_box(box, "7"))
    assert tuple(int(v) for v in out[190, 250]) == shopper_colour("7")  # left edge
    assert tuple(int(v) for v in out[230, 275]) == shopper_colour("7")  # bottom edge
    assert not np.array_equal(out[130:150, 250:300], base[130:150, 250:300])  # "#7" above
    assert np.array_equal(out[170:210, 260:290], base[170:210, 260:290])  # inside untouched
    assert shopper_colour("7") == shopper_colour("7")


def test_an_unlabelled_box_is_thin_grey_without_a_label(ann):
    dark = np.full((H, W, 3), 30, np.uint8)
    base = ann.draw(dark, empty())
    out = ann.draw(dark, one_box([250, 150, 300, 230], ""))
    edge = out[160:220, 250]
    assert (np.abs(edge.astype(int) - 150) <= 15).all()  # grey (anti-aliased), one pixel wide
    assert np.array_equal(out[160:220, 252], base[160:220, 252])
    assert np.array_equal(out[130:149, 250:300], base[130:149, 250:300])  # no label


def test_the_cart_panel_is_next_to_the_box_only_when_the_cart_has_items(store, ann):
    box = [250, 150, 300, 230]
    panel = (slice(152, 175), slice(310, 380))  # right of the box
    base = ann.draw(grey(), one_box(box, "7"))
    no_cart = ann.draw(grey(), one_box(box, "7", carts={"7": {}}))
    zero = ann.draw(grey(), one_box(box, "7", carts={"7": {"P01": 0}}))
    cart = ann.draw(grey(), one_box(box, "7", carts={"7": {"P01": 2, "P03": 1}}))
    assert np.array_equal(no_cart, base) and np.array_equal(zero, base)
    assert not np.array_equal(cart[panel], base[panel])
    assert mean_bgr(cart, panel).mean() < mean_bgr(base, panel).mean() - 30  # dark background
    # a cart of someone without a box is not drawn
    assert np.array_equal(ann.draw(grey(), one_box(box, "7", carts={"8": {"P01": 1}})), base)


def test_the_cart_panel_flips_left_near_the_right_edge_and_stays_inside(ann):
    box = [590, 300, 635, 470]
    carts = {"7": {"P01": 1, "P02": 2, "P03": 3, "P04": 4, "P05": 5}}
    base = ann.draw(grey(), one_box(box, "7"))
    out = ann.draw(grey(), one_box(box, "7", carts=carts))
    left = (slice(305, 340), slice(540, 580))
    assert mean_bgr(out, left).mean() < mean_bgr(base, left).mean() - 30
    # a long cart near the bottom is clamped: its last line is still inside the image
    many = {"7": {sku: 1 for sku in ("P01", "P02", "P03", "P04", "P05", "P06", "P07")}}
    low = ann.draw(grey(), one_box([200, 440, 240, 478], "7", carts=many))
    assert low.shape == (H, W, 3)
    assert not np.array_equal(low[440:478, 250:330], base[440:478, 250:330])


def test_flags_are_a_red_tag_under_the_label(ann):
    box = [250, 150, 300, 230]
    plain = ann.draw(grey(), one_box(box, "7"))
    flagged = ann.draw(grey(), one_box(box, "7", flags={"7": ["ambiguous"]}))
    tag = (slice(151, 161), slice(252, 300))  # under "#7", inside the box's top-left

    def red_share(img: np.ndarray) -> float:
        b, g, r = (img[tag][..., c].astype(int) for c in range(3))
        return float(((r > 180) & (g < 80) & (b < 80)).mean())

    assert red_share(plain) == 0.0
    assert red_share(flagged) > 0.5


def test_the_hud_shows_time_fps_and_latency(ann):
    hud = (slice(0, 25), slice(0, 260))
    t_only = ann.draw(grey(), empty(t=12.3))
    full = ann.draw(grey(), empty(t=12.3, fps=12.5, latency_ms=85.0))
    assert not np.array_equal(t_only[hud], grey()[hud])
    assert not np.array_equal(full[hud], t_only[hud])
    assert (full[hud].sum(axis=2) < t_only[hud].sum(axis=2)).sum() > 100  # wider panel


def test_a_receipt_panel_is_drawn_bottom_right(store, ann):
    corner = (slice(H - 60, H - 8), slice(W - 80, W - 8))
    top_left = (slice(60, 90), slice(130, 180))
    base = ann.draw(grey(), empty())
    out = ann.draw(grey(), empty(receipt=receipt(store)))
    assert not np.array_equal(out[corner], base[corner])
    assert mean_bgr(out, corner).mean() < mean_bgr(base, corner).mean() - 30
    assert np.array_equal(out[top_left], base[top_left])
    # many lines and an empty receipt both fit
    lines = tuple(ReceiptLine(f"S{i}", f"product number {i} with a long name", 1, 1.0)
                  for i in range(60))
    big = Receipt("r9", "9", 0.0, 1.0, lines, 60.0)
    assert ann.draw(grey(), empty(receipt=big)).shape == (H, W, 3)
    assert ann.draw(grey(), empty(receipt=Receipt("r0", "1", 0.0, 1.0, (), 0.0))).shape == \
        (H, W, 3)


@pytest.mark.parametrize("size", [(320, 240), (1280, 960), (200, 300)])
def test_other_image_sizes_scale_the_store(store, ann, size):
    w, h = size
    out = ann.draw(grey(w, h), busy_overlay(store))
    assert out.shape == (h, w, 3)
    plain = ann.draw(grey(w, h), empty())
    k = np.array([w / W, h / H])
    b, g, r = mean_bgr(plain, inside(store.zones.exit, inset=3, k=k))
    assert r > g + 30 and r > b + 30
    b, g, r = mean_bgr(plain, inside(store.zones.entrance, inset=3, k=k))
    assert g > r + 30 and g > b + 30


def test_odd_inputs(store, ann):
    gray = np.full((H, W), 100, np.uint8)
    assert ann.draw(gray, empty()).shape == (H, W, 3)
    boxes = np.array([[np.nan, 0, 10, 10], [-50, -50, 2000, 2000], [-1e12, 0, 1e12, 1e15]])
    ov = Overlay(t=0.0, boxes=boxes, labels=["1", "2", "3"], carts={"2": {"X": 1}})
    out = ann.draw(grey(), ov)
    assert out.shape == (H, W, 3)
    with pytest.raises(ValueError, match="3 boxes but 1 labels"):
        ann.draw(grey(), Overlay(t=0.0, boxes=boxes, labels=["1"]))
    with pytest.raises(ValueError, match="uint8"):
        ann.draw(grey().astype(np.float32), empty())


# ---- VideoOut ----------------------------------------------------------------------------------
def frames(n: int, w: int = 64, h: int = 48):
    for i in range(n):
        yield np.full((h, w, 3), 40 * i, np.uint8)


def test_video_out_writes_all_frames_atomically(tmp_path):
    path = tmp_path / "out" / "annotated.mp4"
    vo = VideoOut(path, 10.0, (64, 48))
    for f in frames(5):
        vo.write(f)
        assert not path.exists()  # nothing at the path before close()
    assert vo.close() == path
    assert vo.close() == path  # idempotent
    assert [p.name for p in path.parent.iterdir()] == ["annotated.mp4"]
    cap = cv2.VideoCapture(str(path))
    n = 0
    while True:
        ok, img = cap.read()
        if not ok:
            break
        assert img.shape == (48, 64, 3)
        n += 1
    cap.release()
    assert n == 5


def test_video_out_abort_leaves_nothing(tmp_path):
    path = tmp_path / "annotated.mp4"
    vo = VideoOut(path, 10.0, (64, 48))
    for f in frames(3):
        vo.write(f)
    vo.abort()
    vo.abort()
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError, match="after close"):
        vo.write(next(frames(1)))


def test_video_out_abort_keeps_an_older_video(tmp_path):
    path = tmp_path / "annotated.mp4"
    path.write_bytes(b"old")
    with pytest.raises(RuntimeError), VideoOut(path, 10.0, (64, 48)) as vo:
        vo.write(next(frames(1)))
        raise RuntimeError("boom")
    assert path.read_bytes() == b"old"
    assert list(tmp_path.iterdir()) == [path]


def test_video_out_context_manager(tmp_path):
    path = tmp_path / "annotated.mp4"
    with pytest.raises(RuntimeError), VideoOut(path, 10.0, (64, 48)) as vo:
        for f in frames(2):
            vo.write(f)
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []
    with VideoOut(path, 10.0, (64, 48)) as vo:
        for f in frames(2):
            vo.write(f)
    assert [p.name for p in tmp_path.iterdir()] == ["annotated.mp4"]
    assert path.stat().st_size > 0


def test_video_out_rejects_a_frame_of_the_wrong_size(tmp_path):
    path = tmp_path / "annotated.mp4"
    with pytest.raises(ValueError, match="frame is 32x48"), VideoOut(path, 10.0, (64, 48)) as vo:
        vo.write(np.zeros((48, 32, 3), np.uint8))
    assert list(tmp_path.iterdir()) == []


def test_video_out_unwritable_place_is_an_input_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(wo.InputError, match="cannot write a video here"):
        VideoOut(blocker / "annotated.mp4", 10.0, (64, 48))
    with pytest.raises(wo.InputError, match="cannot write a video here"):
        VideoOut(tmp_path / "annotated.nosuchformat", 10.0, (64, 48))
    assert list(tmp_path.iterdir()) == [blocker]
