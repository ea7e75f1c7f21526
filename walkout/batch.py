"""Many recorded clips and stores at once (``walkout batch``): one after another in this
process (``serial``), or in parallel on Ray (the ``ray`` extra), with each receipt still
issued exactly once.

**The work.** A *job* is a clip (one camera: ``video.mp4`` and ``store.yaml``) or a store of
several cameras (a folder of videos and a ``cameras:`` store.yaml). Each job writes what
``walkout run`` writes into ``DIR/<job name>/`` (the same files, the same ``run.json``):
a job folder of a batch and of ``walkout run --out`` are interchangeable.

**On Ray.**

- A clip is one task: the whole line (decoding, detection, tracking, fusion, carts) in
  one worker, with a detector of one thread per CPU the task holds. Clips are independent,
  so this is the cheapest way to spread them: only their summaries travel.
- A store of several cameras is one actor that holds the line's state (the floor tracker,
  zones, fusion, carts) and decodes its cameras. Detection runs in a pool of detector
  actors (one per CPU slot, or per GPU share, ``gpus``) shared by the stores running at
  the time: each request is one tick, the frames of every camera at one moment, as one
  model batch, sent a few ticks ahead so that the detectors never wait for the line.
  Each tick stays one batch (never mixed with another store's frames), so that the boxes,
  and so the receipts, do not depend on what else the cluster is doing.
- Every path (the clips, ``DIR``) must be reachable by every worker under the same name:
  one machine, or a shared file system. The ledger is the state that matters; it lives in
  ``DIR/<job>/cart_ledger.jsonl``, not in any worker.

**Exactly once.** The line is deterministic, and a run that starts again in its folder
replays the ledger already there (:mod:`walkout.carts`): it checks each change against
the line on disk and appends only what is new. So when a worker dies (a SIGKILL, a lost
machine), Ray runs the task again (``retries``) or restarts the store's actor and calls it
again; the rerun starts from the first frame, and its receipts and ledger end byte-identical
to an uninterrupted run's. A job whose ledger is sealed (its ``end`` line, written after
every other output) with the same ``run.json`` is done, and is not run again.
"""

from __future__ import annotations

import json
import os
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import astuple, dataclass, field
from pathlib import Path

from .errors import InputError, MissingExtraError, WalkoutError
from .io import read_run_settings, run_settings, write_json_atomic

# A worker may die this many times under one job before the job counts as failed: a
# machine lost now and then is retried, a job that kills its worker every time (a
# corrupt video that crashes the decoder) is not retried for ever.
RETRIES = 10
# Frames a worker processes between two progress reports: at 10-30 frames/s per worker
# that is about a report a second, without a message per frame.
REPORT_EVERY = 25
# Ticks a store sends to the detector pool before it needs the first one's boxes: two per
# detector keeps every detector busy while the line handles the tick in front (a tick of
# four 640x480 frames is 3.7 MB in Ray's object store; 8 ahead is 30 MB a store).
AHEAD_PER_DETECTOR = 2


@dataclass(frozen=True)
class Job:
    """One clip or store of a batch, and where its outputs go."""

    name: str
    source: Path            # the clip folder, or the folder of a store's videos
    store: Path             # its store.yaml
    weights: Path | None    # its weights.csv, if any
    cameras: bool           # a store of several cameras
    labelled: bool          # has gt/ (walkout eval scores it)
    out: Path               # DIR/<name>
    frames: int             # video frames (a store: its longest camera's)


@dataclass(frozen=True)
class Options:
    """What every job of a batch runs with (``walkout run``'s options)."""

    model: str | None = None
    backend: str = "auto"
    device: str | None = None
    trust_model: bool = False
    fusion: object = None   # walkout.fusion.FusionParams, or None for the defaults
    save_video: bool = False


@dataclass
class Outcome:
    """What became of a job."""

    name: str
    status: str                   # "ran", "done before" or "failed"
    receipts: int = 0
    frames: int = 0
    video_s: float = 0.0
    wall_s: float = 0.0
    error: str = ""
    warnings: list[str] = field(default_factory=list)
    ms_per_frame: dict[str, float] = field(default_factory=dict)  # per stage (a store: tick)

    def line(self) -> str:
        if self.status == "failed":
            return f"{self.name}: failed: {self.error}"
        if self.status == "done before":
            return f"{self.name}: finished before ({self.receipts} receipts), not run again"
        return (f"{self.name}: {self.receipts} receipts, {self.frames} frames in "
                f"{self.wall_s:.1f} s ({self.video_s / max(self.wall_s, 1e-9):.1f}x real time)")


# ---- the jobs --------------------------------------------------------------------------------
def find_jobs(paths: list[str | Path], out: str | Path) -> list[Job]:
    """The jobs of ``paths`` (each a clip, a store of several cameras, or a folder of them),
    every store.yaml loaded and checked and every video found before anything runs."""
    from .config import load_store
    from .evaluate import find_clips
    from .multicam import open_cameras
    from .sources import open_source

    jobs = []
    for root in find_clips(paths):
        store = load_store(root / "store.yaml")
        cameras = store.world is not None
        if cameras:
            frames = max(len(f.source) for f in open_cameras(store, root))
        else:
            if not (root / "video.mp4").is_file():
                raise InputError(f"{root}: no video.mp4 (expected a clip folder: video.mp4, "
                                 "store.yaml and weights.csv)")
            frames = len(open_source(root / "video.mp4"))
        weights = root / "weights.csv"
        jobs.append(Job(root.name, root.resolve(), (root / "store.yaml").resolve(),
                        weights.resolve() if weights.is_file() else None, cameras,
                        (root / "gt").is_dir(), Path(out).resolve() / root.name, frames))
    return jobs


def detector_of(job: Job, opts: Options, threads: int | None = None):
    """The job's detector (not loaded): the store's model, or ``opts.model``."""
    from .cli.common import make_detector
    from .config import load_store

    det = make_detector(load_store(job.store), opts.model, opts.backend, opts.device,
                        opts.trust_model)
    det.threads = threads
    return det


def settings_of(job: Job, opts: Options, detector) -> dict:
    """The job's ``run.json``: what ``walkout run`` writes for the same clip."""
    return run_settings(job.source, job.store, job.weights, detector, opts.fusion)


def finished(job: Job, settings: dict) -> bool:
    """Whether the job's folder holds its finished run: a sealed ledger, same settings."""
    from .carts import sealed

    return sealed(job.out) and read_run_settings(job.out) == settings


def run_job(job: Job, opts: Options, threads: int | None = None, on_frame=None,
            detector=None, detect_ahead=None) -> Outcome:
    """Run one job into its folder (or see that it finished before). ``detector``: the
    detector to use (default: the job's own, loaded here, with ``threads``);
    ``detect_ahead``: see :func:`walkout.multicam.run_cameras`."""
    from .config import load_store
    from .multicam import run_cameras
    from .pipeline import run

    det = detector if detector is not None else detector_of(job, opts, threads)
    settings = settings_of(job, opts, det)
    if finished(job, settings):
        return Outcome(job.name, "done before", receipts=_receipt_count(job.out))
    if detector is None:
        det.load()
    store = load_store(job.store)
    if job.cameras:
        res = run_cameras(job.source, store, job.out, det, weights=job.weights,
                          fusion=opts.fusion, settings=settings, save_video=opts.save_video,
                          on_frame=on_frame, detect_ahead=detect_ahead)
    else:
        res = run(job.source, store, job.out, det, weights=job.weights,
                  save_video=opts.save_video, fusion=opts.fusion, settings=settings,
                  on_frame=on_frame)
    return Outcome(job.name, "ran", len(res.receipts), res.frames, round(res.video_s, 2),
                   round(res.wall_s, 2), warnings=list(res.warnings),
                   ms_per_frame={k: round(v, 2) for k, v in res.timing.ms_per_frame().items()})


def _receipt_count(folder: Path) -> int:
    try:
        return len(json.loads((folder / "receipts.json").read_text())["receipts"])
    except (OSError, ValueError, KeyError, TypeError):
        return 0


# ---- one after another -----------------------------------------------------------------------
def run_serial(jobs: list[Job], opts: Options, on_progress=None, on_done=None,
               threads: int | None = None) -> list[Outcome]:
    """Every job in this process, one after another, the detector on ``threads`` CPU
    threads (default: every core). ``on_progress(name, frames)`` hears of each frame;
    ``on_done(outcome)`` of each job. A job that fails with a WalkoutError is reported and
    the rest go on."""
    outcomes = []
    for job in jobs:
        tell = None if on_progress is None else (lambda n, name=job.name: on_progress(name, n))
        try:
            outcome = run_job(job, opts, threads=threads, on_frame=tell)
        except WalkoutError as exc:
            outcome = Outcome(job.name, "failed", error=str(exc))
        outcomes.append(outcome)
        if on_done is not None:
            on_done(outcome)
    return outcomes


# ---- on Ray ----------------------------------------------------------------------------------
def import_ray():
    """Ray, or one line naming the extra."""
    try:
        import ray
    except ImportError:
        raise MissingExtraError("walkout batch on Ray: needs the ray extra (Ray is not "
                                "installed): pip install 'walkout[ray]', or --serial runs "
                                "the clips one after another without it") from None
    return ray


def _reporter(progress, name: str) -> Callable[[int], None]:
    """A worker's ``on_frame``: every REPORT_EVERY frames, a message to the progress actor
    (sent and forgotten: a lost report only holds the bar back)."""
    def report(n: int) -> None:
        if n % REPORT_EVERY == 0:
            progress.report.remote(name, n)
    return report


def _one_thread_image_ops() -> None:
    """OpenCV's own threads stay off in a worker: the worker's CPUs are counted by Ray."""
    import cv2

    cv2.setNumThreads(1)


def _clip_task(job: Job, opts: Options, threads: int, progress) -> Outcome:
    """A Ray task: one clip, the whole line."""
    _one_thread_image_ops()
    return run_job(job, opts, threads=threads, on_frame=_reporter(progress, job.name))


class _Progress:
    """A Ray actor: frames done per job (the most any try of it reached)."""

    def __init__(self) -> None:
        self.done: dict[str, int] = {}

    def report(self, name: str, n: int) -> None:
        self.done[name] = max(self.done.get(name, 0), n)

    def poll(self) -> dict[str, int]:
        return dict(self.done)


class _DetectorWorker:
    """A Ray actor: one loaded detector; each call is one model batch."""

    def __init__(self, detector) -> None:
        _one_thread_image_ops()
        self.detector = detector.load()

    def detect(self, images: list) -> list:
        return self.detector(images)


class DetectorPool:
    """Stands in for a detector in a store's line: requests go to the detector actors in
    turn. ``ahead(ticks)`` sends ticks ``depth`` ahead and fills in their detections."""

    def __init__(self, actors: list, like, depth: int) -> None:
        self.actors, self.depth, self._k = actors, depth, 0
        self.path, self.backend = like.path, like.backend  # what run.json records

    def _next(self):
        self._k = (self._k + 1) % len(self.actors)
        return self.actors[self._k]

    def __call__(self, images):
        import ray

        single = not isinstance(images, list)
        out = ray.get(self._next().detect.remote([images] if single else images))
        return out[0] if single else out

    def ahead(self, ticks: Iterator) -> Iterator:
        import ray

        window: deque = deque()
        for tick in ticks:
            images = [f.image for f in tick.frames.values()]
            window.append((tick, self._next().detect.remote(images)))
            if len(window) > self.depth:
                done, ref = window.popleft()
                done.detections = ray.get(ref)
                yield done
        while window:
            done, ref = window.popleft()
            done.detections = ray.get(ref)
            yield done


class _StoreWorker:
    """A Ray actor: one store of several cameras; its line's state lives here."""

    def __init__(self, job: Job, opts: Options, detectors: list, progress) -> None:
        _one_thread_image_ops()
        self.job, self.opts, self.progress = job, opts, progress
        self.pool = DetectorPool(detectors, detector_of(job, opts),
                                 AHEAD_PER_DETECTOR * len(detectors))

    def run(self) -> Outcome:
        return run_job(self.job, self.opts, on_frame=_reporter(self.progress, self.job.name),
                       detector=self.pool, detect_ahead=self.pool.ahead)


def _failure(exc: BaseException, job: Job, ray) -> Outcome:
    """A failed job's outcome: the walkout error a worker raised, or what killed it."""
    cause = getattr(exc, "cause", None)
    if isinstance(cause, WalkoutError):
        return Outcome(job.name, "failed", error=str(cause))
    if isinstance(exc, (ray.exceptions.WorkerCrashedError, ray.exceptions.RayActorError)):
        return Outcome(job.name, "failed", error=f"its worker died {RETRIES + 1} times "
                       f"({type(exc).__name__})")
    text = str(cause if cause is not None else exc).strip().splitlines()
    return Outcome(job.name, "failed",
                   error=f"{type(cause or exc).__name__}: {text[-1] if text else ''}")


def _check_reachable(address: str) -> None:
    """One line, at once, when nothing listens at a ``HOST:PORT`` (or ``ray://HOST:PORT``)
    address: Ray itself would keep trying to connect for minutes."""
    import socket

    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        return  # "auto", or a form Ray resolves itself
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError as exc:
        raise InputError(f"--ray {address}: no Ray cluster there ({exc.strerror or exc}; "
                         "expected the address `ray start --head` printed)") from None


def start_ray(address: str | None, workers: int | None):
    """Connect to the Ray cluster at ``address``, or start a local one with ``workers``
    CPUs; returns (ray, whether it was started here)."""
    import logging

    ray = import_ray()
    if ray.is_initialized():
        return ray, False
    kw = dict(include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR,
              configure_logging=False)
    if address:
        _check_reachable(address)
        try:
            ray.init(address=address, **kw)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise InputError(f"--ray {address}: no Ray cluster there ({type(exc).__name__}: "
                             f"{str(exc).strip().splitlines()[0] if str(exc).strip() else ''})"
                             ) from None
    else:
        ray.init(num_cpus=workers or os.cpu_count() or 1, **kw)
    return ray, True


def run_on_ray(jobs: list[Job], opts: Options, workers: int, gpus: float = 0.0,
               on_progress=None, on_done=None, ray=None) -> list[Outcome]:
    """Every job on the connected Ray cluster, at most ``workers`` at once (each holding
    one CPU, and ``gpus`` of a GPU): clips as tasks, stores as actors over a pool of
    ``workers`` detector actors (see the module doc). ``on_progress(name, frames)`` and
    ``on_done(outcome)`` as for :func:`run_serial`."""
    ray = ray or import_ray()
    progress = ray.remote(_Progress).options(num_cpus=0, max_restarts=-1).remote()
    outcomes: dict[str, Outcome] = {}

    def finish(job: Job, get) -> None:
        try:
            outcome = get()
        except Exception as exc:  # a Ray error around whatever the worker hit
            outcome = _failure(exc, job, ray)
        outcomes[job.name] = outcome
        if on_done is not None:
            on_done(outcome)

    def poll() -> None:
        if on_progress is None:
            return
        try:
            done = ray.get(progress.poll.remote(), timeout=5)
        except Exception:  # the progress actor is restarting: the bar waits
            return
        for name, n in done.items():
            on_progress(name, n)

    def drain(pending: dict, limit: int) -> None:
        """Wait until fewer than ``limit`` of ``pending`` (ref -> job) are running."""
        while len(pending) >= max(limit, 1):
            ready, _ = ray.wait(list(pending), num_returns=1, timeout=0.5)
            poll()
            for ref in ready:
                job = pending.pop(ref)
                finish(job, lambda ref=ref: ray.get(ref))

    clip_task = ray.remote(_clip_task).options(num_cpus=1, num_gpus=gpus,
                                               max_retries=RETRIES)
    # stores first, a detector pool per detector (stores may name different models)
    pools: dict[tuple, list[Job]] = {}
    for job in (j for j in jobs if j.cameras):
        d = detector_of(job, opts)
        key = (str(d.path), d.backend, d._classes, astuple(d.settings), d._device)
        pools.setdefault(key, []).append(job)
    for group in pools.values():
        like = detector_of(group[0], opts, threads=1)
        actors = [ray.remote(_DetectorWorker).options(
            num_cpus=1, num_gpus=gpus, max_restarts=-1, max_task_retries=-1).remote(like)
            for _ in range(max(workers, 1))]
        pending: dict = {}
        holders = []
        for job in group:
            drain(pending, workers)
            holder = ray.remote(_StoreWorker).options(
                num_cpus=0, max_restarts=RETRIES, max_task_retries=RETRIES).remote(
                job, opts, actors, progress)
            holders.append(holder)
            pending[holder.run.remote()] = job
        drain(pending, 1)
        for actor in actors + holders:
            ray.kill(actor)
    pending = {}
    for job in (j for j in jobs if not j.cameras):
        drain(pending, workers)
        pending[clip_task.remote(job, opts, 1, progress)] = job
    drain(pending, 1)
    poll()
    ray.kill(progress)
    return [outcomes[j.name] for j in jobs]


def write_summary(path: Path, jobs: list[Job], outcomes: list[Outcome], how: dict) -> None:
    """``DIR/batch.json``: how the batch ran and what became of each job."""
    rows = [{"name": o.name, "source": str(j.source), "status": o.status,
             "receipts": o.receipts, "frames": o.frames, "video_s": o.video_s,
             "wall_s": o.wall_s, **({"ms_per_frame": o.ms_per_frame} if o.ms_per_frame else {}),
             **({"error": o.error} if o.error else {}),
             **({"warnings": o.warnings} if o.warnings else {})}
            for j, o in zip(jobs, outcomes, strict=True)]
    write_json_atomic(path, {**how, "jobs": rows})


def elapsed(t0: float) -> float:
    return time.perf_counter() - t0
