"""Shared builders and simulated clips for the tests (seeded, so every run is the same)."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from walkout.sim import simulate
from walkout.sim.layout import View, plate_spots, store_config

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"


def shared_path(*parts: str) -> Path:
    """A file under ../shared/data, or skip the test when it is not there."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} not available (reference data lives beside the checkout)")
    return path


def make_store_dict() -> dict:
    """A valid raw store.yaml mapping: the simulator's store."""
    units = {sp.plate_id: 8 for sp in plate_spots()}
    return store_config(View(640, 480), 10.0, units, name="test").to_dict()


@pytest.fixture
def store_dict() -> dict:
    return copy.deepcopy(make_store_dict())


@pytest.fixture
def write_store(tmp_path):
    def write(d: dict, name: str = "store.yaml") -> Path:
        path = tmp_path / name
        path.write_text(yaml.safe_dump(d, sort_keys=False))
        return path

    return write


def make_detections(n: int, seed: int = 0, tracked: bool = False):
    from walkout import Detections

    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 500, (n, 2))
    wh = rng.uniform(10, 80, (n, 2))
    return Detections(
        xyxy=np.hstack([xy, xy + wh]),
        confidence=rng.uniform(0.3, 1.0, n),
        class_id=np.zeros(n, int),
        tracker_id=np.arange(1, n + 1) if tracked else None,
    )


@pytest.fixture(scope="session")
def single_clip(tmp_path_factory) -> Path:
    return simulate("single", 7, tmp_path_factory.mktemp("clips") / "single-7").root


@pytest.fixture(scope="session")
def pair_clip(tmp_path_factory) -> Path:
    return simulate("pair", 8, tmp_path_factory.mktemp("clips") / "pair-8").root


@pytest.fixture(scope="session")
def busy_clip(tmp_path_factory) -> Path:
    return simulate("busy", 11, tmp_path_factory.mktemp("clips") / "busy-11").root


def cut_video(src: Path, dst: Path, seconds: float) -> None:
    """Write the first ``seconds`` of the video ``src`` to ``dst`` (mp4v, same fps)."""
    cap = cv2.VideoCapture(str(src))
    fps = cap.get(cv2.CAP_PROP_FPS)
    ok, img = cap.read()
    assert ok
    writer = cv2.VideoWriter(str(dst), cv2.VideoWriter_fourcc(*"mp4v"), fps,
                             (img.shape[1], img.shape[0]))
    for _ in range(round(seconds * fps)):
        writer.write(img)
        ok, img = cap.read()
        if not ok:
            break
    writer.release()
    cap.release()


@pytest.fixture(scope="session")
def short_clip(tmp_path_factory) -> Path:
    """The sample clip `single` cut to its first 10 s of video, with all 40 s of weights:
    quick to run, and a video shorter than its weights."""
    clip = tmp_path_factory.mktemp("short") / "short"
    shutil.copytree(ROOT / "sample_videos" / "single", clip)
    cut_video(ROOT / "sample_videos" / "single" / "video.mp4", clip / "video.mp4", 10.0)
    return clip


@pytest.fixture(scope="session")
def doubtful_run(tmp_path_factory) -> Path:
    """`walkout run` of the sample clip `pair` with --ambiguous-below 0.9: its two receipts
    each hold one item decided at confidence 0.81-0.82, so both are flagged ``ambiguous``
    and the review queue has two items (ledger lines 4 and 6). Copy it before changing it."""
    from walkout.cli import main

    out = tmp_path_factory.mktemp("runs") / "pair-doubtful"
    assert main(["-q", "run", str(ROOT / "sample_videos" / "pair"), "--out", str(out),
                 "--ambiguous-below", "0.9"]) == 0
    return out
