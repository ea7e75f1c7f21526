"""Frame sources: a video file, a folder of images, or a labelled clip's video.

Each yields :class:`Frame` s with ``t = index / fps`` (the video clock). Live cameras
(webcam index, RTSP/HTTP URL) come with `walkout live`.
"""

from __future__ import annotations

import contextlib
import os
import queue
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2

# FFmpeg inside OpenCV prints its own complaint about a damaged video ("moov atom not
# found") before walkout's one-line error; keep it quiet unless the user asked otherwise.
# OpenCV reads this when it first opens a video, so setting it here is in time.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")

from .errors import InputError
from .types import Frame

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")


@dataclass
class FrameSource:
    """An opened source: ``len()`` frames (when known) at ``fps``, the first at ``start``
    seconds; iterate for frames."""

    path: Path
    fps: float
    count: int
    start: float = 0.0

    def __len__(self) -> int:
        return self.count

    def __iter__(self) -> Iterator[Frame]:
        if self.path.is_dir():
            files = _images(self.path)
            for k, f in enumerate(files):
                img = cv2.imread(str(f), cv2.IMREAD_COLOR)
                if img is None:
                    raise InputError(f"{f}: not a readable image")
                yield Frame(k, self.start + k / self.fps, img)
            return
        cap = cv2.VideoCapture(str(self.path))
        try:
            k = 0
            while True:
                ok, img = cap.read()
                if not ok:
                    break
                yield Frame(k, self.start + k / self.fps, img)
                k += 1
        finally:
            cap.release()


def prefetch(frames: Iterable[Frame], depth: int = 4) -> Iterator[Frame]:
    """``frames`` decoded ahead on a background thread (at most ``depth`` waiting), so video
    decoding overlaps the work on the previous frames instead of adding to it.

    Closing the generator (``close()``, or the end of a ``for`` loop over it) stops the
    thread and waits for it, so no decoder outlives the run that used it, even one that
    fails: a thread still inside the video decoder when the interpreter exits aborts the
    process."""
    q: queue.Queue = queue.Queue(maxsize=depth)
    done = object()
    stop = threading.Event()

    def work() -> None:
        try:
            for f in frames:
                while not stop.is_set():
                    try:
                        q.put(f, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
        except BaseException as exc:  # handed to the consumer
            q.put(exc)
        q.put(done)

    t = threading.Thread(target=work, name="walkout-decode", daemon=True)
    t.start()
    try:
        while True:
            item = q.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while t.is_alive():  # unblock a put() and let the thread see the stop
            with contextlib.suppress(queue.Empty):
                q.get(timeout=0.05)
        t.join()


def _images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def open_source(source: str | Path, fps: float | None = None) -> FrameSource:
    """A video file, an image folder (``fps`` default 10), or a clip folder (its
    ``video.mp4``)."""
    path = Path(source)
    if path.is_dir() and (path / "video.mp4").is_file():
        path = path / "video.mp4"
    if path.is_dir():
        files = _images(path)
        if not files:
            raise InputError(f"{path}: no images ({', '.join(IMAGE_SUFFIXES)}) and no "
                             "video.mp4 (expected a video, an image folder or a clip)")
        for f in files:  # the headers only: a damaged file found now, not mid-run
            if not cv2.haveImageReader(str(f)):
                raise InputError(f"{f}: not a readable image (expected "
                                 f"{', '.join(IMAGE_SUFFIXES)})")
        return FrameSource(path, fps or 10.0, len(files))
    if not path.is_file():
        raise InputError(f"{path}: file not found (expected a video, an image folder or a "
                         "clip)")
    cap = cv2.VideoCapture(str(path))
    try:
        if not cap.isOpened():
            raise InputError(f"{path}: OpenCV cannot read it as a video")
        rate = fps or cap.get(cv2.CAP_PROP_FPS) or 10.0
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    finally:
        cap.release()
    return FrameSource(path, float(rate), max(count, 0))
