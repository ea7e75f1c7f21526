"""The line: frames -> detect -> track -> zones -> fuse <- items <- weight events <- weights;
fuse -> carts -> receipts.

:class:`Pipeline` holds one object per stage and is fed in time order: ``frame(Frame)`` for
each video frame, ``weights(SampleBlock)`` for each block of load-cell samples (sensor
clock; ``store.sensors.clock_offset_s`` moves it onto the video clock). :func:`run` does
that for a recorded clip or video and writes the outputs; ``walkout live`` feeds the same
object from a camera.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .carts import Carts
from .config import StoreConfig
from .errors import InputError
from .fusion import Fused, Fusion, FusionParams
from .io import (
    RUN_JSON,
    claim_run_folder,
    event_record,
    mot_lines,
    remove_stray_temps,
    write_lines_atomic,
    write_text_atomic,
)
from .sensors import ItemIdentifier, Planogram, SampleBlock, WeightEventDetector
from .spool import RowSpool
from .track import make_tracker
from .types import Frame, Receipt, WeightEvent
from .zones import Ignore, Scene, Zones

log = logging.getLogger(__name__)
WEIGHT_STEP_S = 0.5  # weights are fed in pieces this long: events come at most this late
# The store's tracker keeps reporting a confirmed shopper's predicted box through a detector
# dropout of up to 0.1 s (a walker at 1.5 m/s moves 15 cm in it, well inside the prediction's
# accuracy), so that a shopper's presence in a zone does not end on one missed frame. The
# `walkout track` default reports only matched tracks, as the published trackers do. A
# low-scoring box (a shopper half hidden by a door frame, a fixture or another shopper)
# extends a track from IoU 0.3, OC-SORT's gate for that pass, rather than ByteTrack's 0.5:
# such a box is cut off abruptly where the person disappears behind the edge, so it overlaps
# the prediction less than a whole body would (the real AiFi shopper is lost in the far
# door, and so is their exit, at 0.5).
TRACKER_SETTINGS = {"coast_s": 0.1, "iou_low": 0.3}


@dataclass
class Timing:
    """Seconds spent per stage, and frames seen."""

    seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    frames: int = 0

    def ms_per_frame(self) -> dict[str, float]:
        n = max(self.frames, 1)
        return {k: 1000 * v / n for k, v in self.seconds.items()}


class _Clock:
    def __init__(self, timing: Timing) -> None:
        self.timing, self.t = timing, time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.timing.seconds[stage] += now - self.t
        self.t = now


class Pipeline:
    """The stages of the line, fed in time order (see the module doc)."""

    def __init__(self, store: StoreConfig, detector, out: str | Path | None = None,
                 fusion: FusionParams | None = None) -> None:
        self.store = store
        self.detector = detector
        cam = store.camera
        self.tracker = make_tracker("default", frame_rate=cam.fps, homography=cam.homography,
                                    image_size=(cam.width, cam.height), **TRACKER_SETTINGS)
        self.zones = Zones(store)
        self.ignore = Ignore(store)
        planogram = Planogram.from_store(store)
        self.weigher = WeightEventDetector(planogram.shelves, store.sensors.rate_hz)
        self.fusion = Fusion(ItemIdentifier(planogram), fusion)
        out = None if out is None else Path(out)
        self.carts = Carts(store, out and out / "cart_ledger.jsonl", out and out / "receipts.json")
        self.records: list[dict] = []        # events.jsonl, sorted at the end
        self._cart_records: dict[int, dict] = {}
        # tracks.txt rows (frame, t, track, x0, y0, x1, y1), on disk beside the outputs; the
        # shopper of each track is only known at the end (identities may be repaired)
        self.track_rows = RowSpool(7, out)
        self.timing = Timing()
        self.last_scene: Scene | None = None
        self.new_receipts: list[Receipt] = []
        # shoppers gone out of the door whose receipt waits for a shelf they were at to
        # give its reading: shopper -> (exit time, receipt flag)
        self.leaving: dict[str, tuple[float, str | None]] = {}
        # shoppers first seen inside while nobody was missing -> when; and the times of the
        # weight changes nobody near explained (see _came_in_unseen)
        self.unseen: dict[str, float] = {}
        self.unattributed_t: list[float] = []

    # ---- the line ----------------------------------------------------------------------------
    def frame(self, frame: Frame) -> Scene:
        clock = _Clock(self.timing)
        detections = self.ignore(self.detector(frame.image))
        clock.lap("detect")
        people = self.tracker.update(detections)
        clock.lap("track")
        scene = self.zones.update(frame.t, people, frame.image)
        clock.lap("zones")
        self.seen(scene, clock)
        self._keep(frame, scene)
        return scene

    def seen(self, scene: Scene, clock: _Clock) -> None:
        """What the cameras saw at a moment (``scene``) goes to the doors, fusion and the
        carts."""
        self._doors_in(scene)
        fused = self.fusion.update(scene, [], self.zones, self.carts)
        self._log(fused)
        self._doors_out(scene)
        clock.lap("fuse")
        self.timing.frames += 1
        self.last_scene = scene

    def weights(self, block: SampleBlock) -> None:
        """A block of samples already on the video clock (see :func:`on_video_clock`)."""
        clock = _Clock(self.timing)
        self._weighed(self.weigher.update(block))
        clock.lap("weights")

    def _weighed(self, events: list[WeightEvent]) -> None:
        self.records.extend(event_record(e) for e in events)
        self._log(self.fusion.update(None, events, self.zones, self.carts))

    def finish(self) -> None:
        """End of the stream: the last weights, decide waiting events, close visits, give
        up lost shoppers."""
        self._weighed(self.weigher.flush())
        self._log(self.fusion.flush(self.zones, self.carts))
        self.new_receipts += self._close_carts(math.inf)
        t = self.last_scene.t if self.last_scene is not None else 0.0
        scene = self.zones.finish(t)
        self._visits(scene)
        for s in self.zones.shoppers.values():
            if s.lost and self.carts.is_open(s.id):
                self.new_receipts.append(self.carts.close(s.id, s.last_t, "lost_track"))
        self.carts.ledger.check_end()  # before any output is written

    # ---- bookkeeping -------------------------------------------------------------------------
    def _doors_in(self, scene: Scene) -> None:
        for sid, t in scene.entered:
            self.carts.open(sid, t)
        for sid, t in scene.appeared:
            self.carts.open(sid, t, ("lost_track",))
        for sid, t in scene.unseen:
            self.carts.open(sid, t)
            self.unseen[sid] = t

    def _doors_out(self, scene: Scene) -> None:
        self.leaving.update({sid: (t, None) for sid, t in scene.exited})
        self.leaving.update({sid: (t, "lost_track") for sid, t in scene.gone})
        self.new_receipts = self._close_carts(scene.t)
        self._visits(scene)

    def _close_carts(self, now: float) -> list[Receipt]:
        """The receipts of the leaving shoppers that need not wait any longer (at time
        ``now``): no shelf they were at is still being read (:meth:`Fusion.holds`), or they
        have waited ``max_wait_s``. The events they could have made are decided first."""
        unsettled = self.weigher.unsettled() if self.leaving else {}
        done = [sid for sid, (t, _) in self.leaving.items()
                if now - t >= self.fusion.params.max_wait_s
                or not self.fusion.holds(sid, unsettled, self.zones, self.carts)]
        if not done:
            return []
        self._log(self.fusion.leaving(set(done), self.zones, self.carts))
        for sid in done:
            self._came_in_unseen(sid)
        receipts = [self.carts.close(sid, *self.leaving.pop(sid)) for sid in done]
        return [r for r in receipts if r is not None]

    def _came_in_unseen(self, sid: str) -> None:
        """A shopper first seen inside the store while nobody was missing came in unseen
        (the detector missed them on the way in). Their receipt is flagged ``lost_track``
        only when a weight change nobody near explained came in the time they could have
        spent unseen (``reid_window_s``, as long as anyone stays out of view), which may
        have been theirs."""
        t = self.unseen.pop(sid, None)
        window = self.zones.params.reid_window_s
        if t is not None and any(t - window <= u <= t for u in self.unattributed_t):
            self.carts.flag(sid, "lost_track")

    def _visits(self, scene: Scene) -> None:
        for v in scene.visits:
            self.records.append({"type": "visit", "t": round(v.t_start, 4),
                                 "t_end": round(v.t_end, 4), "shopper_id": v.shopper_id,
                                 "shelf_id": v.shelf_id, "min_gap": round(v.min_gap, 2)})

    def _log(self, fused: Fused) -> None:
        self.records.extend(event_record(e) for e in fused.items)
        for ev in fused.cart:
            self._cart_records[id(ev)] = rec = event_record(ev)
            self.records.append(rec)
        for was, now in fused.moved:  # the record shows the final decision
            rec = self._cart_records.pop(id(was))
            rec.update(event_record(now))
            self._cart_records[id(now)] = rec
        self.records.extend(fused.unattributed)
        self.unattributed_t.extend(u["t"] for u in fused.unattributed)

    def _keep(self, frame: Frame, scene: Scene) -> None:
        n = len(scene.track_ids)
        self.track_rows.append(np.column_stack([np.full(n, frame.index + 1.0),
                                                np.full(n, frame.t), scene.track_ids,
                                                scene.boxes]))

    # ---- outputs -----------------------------------------------------------------------------
    def track_lines(self) -> Iterator[str]:
        """tracks.txt, a line at a time: MOTChallenge rows under shopper ids (tracks never a
        shopper left out), one per shopper and frame (:func:`walkout.io.mot_lines`)."""
        yield from mot_lines(
            (int(f), sid, int(tid), (x0, y0, x1 - x0, y1 - y0))
            for chunk in self.track_rows.chunks()
            for f, t, tid, x0, y0, x1, y1 in chunk.tolist()
            if (sid := self.zones.shopper_at(int(tid), t)))

    def tracks_text(self) -> str:
        return "".join(self.track_lines())

    def write_outputs(self, out: str | Path) -> None:
        """events.jsonl and tracks.txt, written whole (atomically), and receipts.json again."""
        out = Path(out)
        write_text_atomic(out / "events.jsonl", self.events_text())
        write_lines_atomic(out / "tracks.txt", self.track_lines())
        self.track_rows.close()
        self.carts.write_receipts()
        self.seal()

    def seal(self) -> None:
        """The ledger's ``end`` line, once every other output is on disk: the run is done."""
        self.carts.close_ledger({"frames": self.timing.frames,
                                 "receipts": len(self.carts.receipts)})

    def events_text(self) -> str:
        """events.jsonl: every record in time order (stable, so ties keep their order)."""
        recs = sorted(self.records, key=lambda r: r.get("t", r.get("t_start", 0.0)))
        return "".join(json.dumps(r) + "\n" for r in recs)


def by_time(frames: Iterable[Frame], blocks: Iterable[SampleBlock]
            ) -> Iterator[Frame | SampleBlock]:
    """Frames and sample blocks merged in time order (a block counts at its last sample,
    after the video clock offset)."""
    f_it, b_it = iter(frames), iter(blocks)
    f, b = next(f_it, None), next(b_it, None)
    while f is not None or b is not None:
        if b is None or (f is not None and f.t <= float(b.t[-1])):
            yield f
            f = next(f_it, None)
        else:
            yield b
            b = next(b_it, None)


def on_video_clock(blocks: Iterable[SampleBlock], offset_s: float, step_s: float
                   ) -> Iterator[SampleBlock]:
    """Sensor-clock blocks moved onto the video clock (``t_video = t_sensor + offset_s``)
    and cut into pieces of at most ``step_s``, so weight events are detected as the video
    goes, not a file block (10 s) later."""
    for b in blocks:
        t = b.t + offset_s
        edges = np.flatnonzero(np.diff(np.floor((t - t[0]) / step_s))) + 1
        for lo, hi in zip(np.r_[0, edges], np.r_[edges, len(t)]):
            yield SampleBlock(t[lo:hi], b.grams[lo:hi], b.plate_ids)


def weight_blocks(weights: str | Path | None, store: StoreConfig,
                  video: tuple[float, float] | None = None):
    """A run's shelf weights: ``(blocks on the video clock, read statistics, the file's
    time span)``, the whole file checked first; no blocks (and None, None) without one.
    ``video``: the video's first and last frame times where known; weights that share no
    time with it are refused (two clocks, and no ``sensors.clock_offset_s`` joining them)."""
    from .sensors import ReadStats, check_plates, iter_weights, time_span

    if weights is None:
        return (), None, None
    carried: set[str] = set()

    def noting(blocks):
        for b in blocks:
            carried.update(b.plate_ids)
            yield b

    span = time_span(noting(iter_weights(weights)))  # the whole file, before any work
    if carried and store.plate_ids and not carried & set(store.plate_ids):
        raise InputError(
            f"{weights}: none of its {len(carried)} plates ({_some(sorted(carried))}) is a "
            f"plate of {store.path or 'store.yaml'} (expected its plate ids: "
            f"{_some(store.plate_ids)}); are they the same store's?")
    if not span[0] <= span[1]:
        raise InputError(f"{weights}: no samples (expected rows of a time and each plate's "
                         "grams after the header; run without weights with --weights none)")
    off = store.sensors.clock_offset_s
    if video is not None and (span[0] + off > video[1] + WEIGHTS_PAST_VIDEO_S
                              or span[1] + off < video[0] - WEIGHTS_PAST_VIDEO_S):
        raise InputError(
            f"{weights}: no time in common with the video: its samples run "
            f"{span[0] + off:.1f}-{span[1] + off:.1f} s, the video {video[0]:.1f}-"
            f"{video[1]:.1f} s (expected the store's sensors.clock_offset_s to put them on "
            "one clock: t_video = t_weights + offset)")
    stats = ReadStats(str(weights))
    blocks = on_video_clock(check_plates(iter_weights(weights, None, stats),
                                         store.plate_ids, stats),
                            store.sensors.clock_offset_s, WEIGHT_STEP_S)
    return blocks, stats, span


def _some(ids: list[str], n: int = 3) -> str:
    """The first ``n`` of ``ids``, and how many more."""
    return ", ".join(ids[:n]) + (f" and {len(ids) - n} more" if len(ids) > n else "")


@dataclass
class RunResult:
    receipts: list[Receipt]
    open_carts: dict[str, dict[str, int]]     # shoppers still inside at the end
    frames: int
    video_s: float
    wall_s: float
    timing: Timing
    outputs: list[Path]
    warnings: list[str] = field(default_factory=list)  # one line each, for a person to read


def missing_plates(weights, stats) -> list[str]:
    """A warning line when the weights lack some of the store's plates (their shelves then
    give no weight events), else none."""
    if stats is None or not stats.missing_plates:
        return []
    return [f"{weights}: {len(stats.missing_plates)} of the store's plates are not in it "
            f"({_some(stats.missing_plates)}): those plates give no weight events"]


# Weights that go on this long after the last frame (a pick settles on a plate within about
# a second) hold shelf events that no shopper in the video can be given.
WEIGHTS_PAST_VIDEO_S = 1.0


def run(source: str | Path, store: StoreConfig, out: str | Path, detector,
        weights: str | Path | None = None, save_video: bool = False, show=None,
        progress: bool = False, fusion: FusionParams | None = None,
        settings: dict | None = None, on_frame=None) -> RunResult:
    """Process a recorded video (or clip, or image folder) and its weights into ``out``:
    ``receipts.json``, ``events.jsonl``, ``tracks.txt`` and ``cart_ledger.jsonl``, plus
    ``annotated.mp4`` with ``save_video`` and ``run.json`` (``settings``: what the run
    depends on) when given.

    Every input is checked before anything is written: the video's first frame and size,
    the whole weights file. ``show(image) -> bool`` displays annotated frames (False stops
    the run). Without ``weights`` the run is video only: shelf visits are the events.
    ``fusion`` overrides the fusion defaults (:class:`walkout.fusion.FusionParams`), e.g.
    ``ambiguous_below``. ``on_frame(n)`` hears of each frame done (``n`` so far).
    """
    from .sources import open_source, prefetch

    src = open_source(source)
    first = next(iter(src), None)
    if first is None:
        raise InputError(f"{src.path}: no frames (expected a video with at least one frame)")
    h, w = first.image.shape[:2]
    cam = store.camera
    if (w, h) != (cam.width, cam.height):
        raise InputError(f"{store.path or 'store.yaml'}: camera.width/height is "
                         f"{cam.width}x{cam.height} but {src.path} is {w}x{h} "
                         "(expected the store's camera size)")
    video = (src.start, src.start + (len(src) - 1) / src.fps) if len(src) else None
    blocks, stats, span = weight_blocks(weights, store, video)
    out = Path(out)
    if settings is not None:
        claim_run_folder(out, settings)
    out.mkdir(parents=True, exist_ok=True)
    pipe = Pipeline(store, detector, out, fusion)  # holds the folder: one run at a time
    remove_stray_temps(out)
    if settings is not None:
        write_text_atomic(out / RUN_JSON, json.dumps(settings, indent=2) + "\n")
    annotator = video_out = None
    if save_video or show is not None:
        from .annotate import Annotator, VideoOut

        annotator = Annotator(store)
        if save_video:
            video_out = VideoOut(out / "annotated.mp4", cam.fps, (cam.width, cam.height))
    frames = prefetch(src)
    t0 = time.perf_counter()
    last_receipt, receipt_until = None, -1.0
    try:
        shown = frames
        if progress:
            from tqdm import tqdm

            shown = tqdm(frames, total=len(src) or None, desc="run", unit="frame")
        for item in by_time(shown, blocks):
            if not isinstance(item, Frame):
                pipe.weights(item)
                continue
            scene = pipe.frame(item)
            if on_frame is not None:
                on_frame(pipe.timing.frames)
            if annotator is None:
                continue
            if pipe.new_receipts:
                last_receipt, receipt_until = pipe.new_receipts[-1], item.t + 4.0
            img = annotator.draw(item.image, overlay(pipe, scene,
                                                     last_receipt if item.t <= receipt_until
                                                     else None))
            if video_out is not None:
                video_out.write(img)
            if show is not None and not show(img):
                break
        pipe.finish()
        wall = time.perf_counter() - t0
        video = video_out.close() if video_out is not None else None
        pipe.write_outputs(out)  # sealed last: a finished run has every output
    except BaseException:
        if video_out is not None:
            video_out.abort()
        pipe.carts.ledger.close_quietly()  # let the folder go
        raise
    finally:
        frames.close()  # stops and joins the decoding thread, also on an error
    outputs = [out / n for n in ("receipts.json", "events.jsonl", "tracks.txt",
                                 "cart_ledger.jsonl")]
    if video is not None:
        outputs.append(video)
    if stats is not None and stats.summary():
        log.info(stats.summary())
    video_s = pipe.timing.frames / cam.fps
    warnings = missing_plates(weights, stats)
    if span is not None and span[1] + store.sensors.clock_offset_s > \
            video_s + WEIGHTS_PAST_VIDEO_S:
        warnings.append(f"{weights}: the weights run to "
                        f"{span[1] + store.sensors.clock_offset_s:.1f} s but the video ends "
                        f"at {video_s:.1f} s; shelf events after its end have no shopper")
    return RunResult(pipe.carts.receipts, pipe.carts.open_carts(), pipe.timing.frames,
                     video_s, wall, pipe.timing, outputs, warnings)


def overlay(pipe: Pipeline, scene: Scene, receipt: Receipt | None):
    """What the annotator draws for ``scene``."""
    from .annotate import Overlay

    return Overlay(t=scene.t, boxes=scene.boxes, labels=scene.shoppers,
                   reaching=scene.reaching(), carts=pipe.carts.open_carts(), receipt=receipt,
                   flags={s: pipe.carts.flags(s) for s in pipe.carts.open_carts()})
