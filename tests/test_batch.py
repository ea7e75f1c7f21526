"""`walkout batch`: many clips and stores at once, serially or on Ray, with every job's
outputs byte-identical to `walkout run`'s, also when workers are SIGKILLed mid-batch; a
finished job is not run again; bad input is one line, with nothing written."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import ROOT
from test_multicam import folder_of, yaml_of
from test_world_store import write

from walkout import batch
from walkout.carts import sealed
from walkout.cli import main
from walkout.config import load_store

SAMPLES = ROOT / "sample_videos"
RUN_FILES = ("receipts.json", "cart_ledger.jsonl", "events.jsonl", "tracks.txt", "run.json")


def clips_folder(tmp_path: Path, copies: dict[str, str]) -> Path:
    """A folder of clips: ``copies`` maps each clip's name to the sample it copies."""
    root = tmp_path / "clips"
    root.mkdir()
    for name, sample in copies.items():
        shutil.copytree(SAMPLES / sample, root / name)
    return root


def files_of(folder: Path) -> dict[str, bytes]:
    """Every output file of a run folder (not its lock), by name."""
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())
            if p.is_file() and not p.name.startswith(".")}


def walkout(*args, env=None):
    return subprocess.run([sys.executable, "-m", "walkout", *map(str, args)],
                          capture_output=True, text=True, timeout=600, env=env)


# ---- serially --------------------------------------------------------------------------------
def test_serial_batch_writes_what_walkout_run_writes_and_skips_finished_jobs(tmp_path):
    """Each job's folder holds byte for byte what `walkout run --out` writes for its clip,
    the labelled clips are scored in eval.json, and a second batch runs nothing (every
    ledger is sealed) and leaves every file as it was."""
    clips = clips_folder(tmp_path, {"one": "single", "two": "pair"})
    assert main(["-q", "batch", str(clips), "--out", str(tmp_path / "b"), "--serial"]) == 0
    for name in ("one", "two"):
        assert main(["-q", "run", str(clips / name), "--out", str(tmp_path / "r" / name)]) == 0
        assert files_of(tmp_path / "b" / name) == files_of(tmp_path / "r" / name)
        assert sealed(tmp_path / "b" / name)
        last = (tmp_path / "b" / name / "cart_ledger.jsonl").read_text().splitlines()[-1]
        assert json.loads(last)["op"] == "end"
    summary = json.loads((tmp_path / "b" / "batch.json").read_text())
    assert [(j["name"], j["status"]) for j in summary["jobs"]] == [("one", "ran"),
                                                                    ("two", "ran")]
    assert [j["frames"] for j in summary["jobs"]] == [400, 430]
    assert all(j["ms_per_frame"]["detect"] > 0 for j in summary["jobs"])
    scores = json.loads((tmp_path / "b" / "eval.json").read_text())
    assert scores["clips"] == 2 and scores["receipt_f1"] == 1.0

    before = {n: (p.stat().st_mtime_ns, p.read_bytes()) for n in ("one", "two")
              for p in [tmp_path / "b" / n / "cart_ledger.jsonl"]}
    again = walkout("batch", clips, "--out", tmp_path / "b", "--serial")
    assert again.returncode == 0, again.stderr
    assert "one: finished before (1 receipts), not run again" in again.stdout
    assert "(0 ran, 2 finished before, 0 failed)" in again.stdout
    assert {n: (p.stat().st_mtime_ns, p.read_bytes()) for n in ("one", "two")
            for p in [tmp_path / "b" / n / "cart_ledger.jsonl"]} == before


def test_a_run_killed_before_its_end_line_is_run_again(tmp_path):
    """A ledger without its `end` line (the run was killed before its last outputs) is
    not finished: the batch runs the job again, its replay appends only the end line."""
    clips = clips_folder(tmp_path, {"one": "single"})
    out = tmp_path / "b"
    assert main(["-q", "batch", str(clips), "--out", str(out), "--serial"]) == 0
    ledger = out / "one" / "cart_ledger.jsonl"
    whole = ledger.read_bytes()
    lines = whole.splitlines(keepends=True)
    ledger.write_bytes(b"".join(lines[:-1]) + lines[-1][:9])   # a torn end line
    (out / "one" / "events.jsonl").unlink()
    assert not sealed(out / "one")
    assert main(["-q", "batch", str(clips), "--out", str(out), "--serial"]) == 0
    assert ledger.read_bytes() == whole
    assert (out / "one" / "events.jsonl").is_file()


# ---- on Ray ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def ray():
    """A local Ray of 2 CPUs for the module's tests."""
    pytest.importorskip("ray")
    ray, started = batch.start_ray(None, 2)
    yield ray
    if started:
        ray.shutdown()


def ray_processes(prefixes: tuple[str, ...]) -> list[int]:
    """Pids of Ray's worker processes whose title starts with one of ``prefixes`` (a worker
    running a task is titled ``ray::<task>``, an actor ``ray::<class>``)."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            title = (proc / "cmdline").read_bytes().split(b"\0")[0].decode()
        except (OSError, UnicodeDecodeError):
            continue
        if title.startswith(prefixes):
            pids.append(int(proc.name))
    return sorted(pids)


class Killer(threading.Thread):
    """SIGKILLs ``kills`` worker processes titled with ``prefixes``, one at a random moment
    every ``gap`` seconds (uniform), chosen at random: seeded, so the kills fall alike on
    every run of the test (as far as the workers' timing allows)."""

    def __init__(self, prefixes: tuple[str, ...], kills: int, gap: tuple[float, float],
                 seed: int) -> None:
        super().__init__(daemon=True)
        self.prefixes, self.kills, self.gap = prefixes, kills, gap
        self.rng = random.Random(seed)
        self.landed: list[tuple[float, int]] = []
        self.stop = threading.Event()
        self.t0 = time.monotonic()

    def run(self) -> None:
        while len(self.landed) < self.kills and not self.stop.wait(self.rng.uniform(*self.gap)):
            pids = ray_processes(self.prefixes)
            if not pids:
                continue
            pid = self.rng.choice(pids)
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:  # it ended between the look and the kill
                continue
            self.landed.append((round(time.monotonic() - self.t0, 1), pid))


def test_ten_random_worker_kills_leave_every_receipt_byte_identical(tmp_path, ray):
    """Four clips on 2 Ray workers while ten workers are SIGKILLed at random moments in
    the middle of a clip: Ray runs each killed clip again, the rerun replays its ledger,
    and every output (receipts.json and the ledger included) is byte-identical to the
    serial batch's (which also runs the detector on 2 threads instead of 1)."""
    clips = clips_folder(tmp_path, {"a": "single", "b": "pair", "c": "single", "d": "pair"})
    jobs = batch.find_jobs([clips], tmp_path / "serial")
    opts = batch.Options()
    assert {o.status for o in batch.run_serial(jobs, opts)} == {"ran"}

    jobs = batch.find_jobs([clips], tmp_path / "ray")
    killer = Killer(("ray::_clip_task",), kills=10, gap=(0.8, 2.5), seed=30)
    killer.start()
    try:
        outcomes = batch.run_on_ray(jobs, opts, workers=2, ray=ray)
    finally:
        killer.stop.set()
        killer.join()
    assert len(killer.landed) == 10, f"the batch ended after {killer.landed}"
    assert [o.status for o in outcomes] == ["ran"] * 4
    for name in "abcd":
        assert files_of(tmp_path / "ray" / name) == files_of(tmp_path / "serial" / name), name


def two_camera_store(tmp_path: Path) -> Path:
    """The sample clip `pair` seen by two cameras (the simulator's store in world metres,
    its weights), as in test_multicam."""
    from walkout.sim.layout import world_layout

    src = SAMPLES / "pair"
    folder = tmp_path / "stores" / "pair2"
    folder.mkdir(parents=True)
    folder_of(folder, clip=src)
    base = load_store(src / "store.yaml")
    raw = yaml_of(folder)
    raw.update(world_layout({p.id: p.units for s in base.shelves for p in s.plates}))
    raw["catalogue"], raw["sensors"] = base.to_dict()["catalogue"], base.to_dict()["sensors"]
    write(folder, raw)
    shutil.copy(src / "weights.csv", folder / "weights.csv")
    return folder


def test_a_store_of_two_cameras_on_detector_actors_survives_kills(tmp_path, ray):
    """A store of two cameras on Ray: its line in a store actor, detection in two
    detector actors a tick at a time, ticks sent ahead. Killing the store's actor and the
    detector actors mid-run (four kills) leaves the outputs byte-identical to the serial
    run's: Ray restarts the actors and calls them again, and the store's rerun replays
    its ledger."""
    store = two_camera_store(tmp_path)
    opts = batch.Options()
    [serial] = batch.run_serial(batch.find_jobs([store], tmp_path / "serial"), opts)
    assert serial.status == "ran" and serial.receipts == 2

    jobs = batch.find_jobs([store], tmp_path / "ray")
    killer = Killer(("ray::_StoreWorker", "ray::_DetectorWorker"), kills=4, gap=(1.5, 3.0),
                    seed=31)
    killer.start()
    try:
        [outcome] = batch.run_on_ray(jobs, opts, workers=2, ray=ray)
    finally:
        killer.stop.set()
        killer.join()
    assert len(killer.landed) == 4, f"the run ended after {killer.landed}"
    assert outcome.status == "ran"
    assert files_of(tmp_path / "ray" / "pair2") == files_of(tmp_path / "serial" / "pair2")


# ---- bad input -------------------------------------------------------------------------------
def test_without_ray_the_error_names_the_extra(tmp_path):
    """Without Ray installed, `walkout batch` (on Ray by default) fails with one line that
    names the extra and the way without it, before writing anything."""
    clips = clips_folder(tmp_path, {"one": "single"})
    code = ("import sys; sys.modules['ray'] = None; from walkout.cli import main; "
            f"sys.exit(main(['batch', {str(clips)!r}, '--out', {str(tmp_path / 'b')!r}]))")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 2
    assert res.stderr.count("\n") == 1 and "Traceback" not in res.stderr
    assert "pip install 'walkout[ray]'" in res.stderr and "--serial" in res.stderr


@pytest.mark.parametrize("args, message", [
    (["nowhere"], "nowhere: not a folder"),
    (["{clips}/one", "{clips}/one"], "one: two clips share this folder name"),
    (["{clips}", "--workers", "0"], "--workers: expected 1 or more, got 0"),
    (["{clips}", "--serial", "--workers", "2"], "--serial runs in this process"),
    (["{clips}", "--model", "missing.onnx"], "missing.onnx: model file not found"),
    (["{clips}", "--ray", "127.0.0.1:1"], "--ray 127.0.0.1:1: no Ray cluster there"),
])
def test_bad_input_is_one_line_and_writes_nothing(tmp_path, args, message):
    clips = clips_folder(tmp_path, {"one": "single"})
    if "--ray" in args:
        pytest.importorskip("ray")
    res = walkout("batch", *[a.format(clips=clips) for a in args], "--out", tmp_path / "b")
    assert res.returncode == 2, res.stdout
    line = [x for x in res.stderr.splitlines() if x.startswith("walkout:")]
    assert len(line) == 1 and message in line[0], res.stderr
    assert "Traceback" not in res.stderr
    assert not (tmp_path / "b").exists()


def test_a_job_that_fails_is_reported_and_the_others_finish(tmp_path):
    """A clip whose weights file is damaged fails with its one-line reason; the other clip
    of the batch still runs, and the batch exits 2 naming the failure."""
    clips = clips_folder(tmp_path, {"bad": "single", "good": "pair"})
    header = (clips / "bad" / "weights.csv").read_text().splitlines()[0]
    (clips / "bad" / "weights.csv").write_text(f"{header}\n0.0,abc\n")
    res = walkout("batch", clips, "--out", tmp_path / "b", "--serial")
    assert res.returncode == 2
    assert "good: 2 receipts" in res.stdout
    assert "bad: failed: " in res.stdout and "weights.csv: line 2: expected" in res.stdout
    assert res.stderr.strip().startswith("walkout: error: 1 of 2 jobs failed; first: bad:")
    assert sealed(tmp_path / "b" / "good") and not sealed(tmp_path / "b" / "bad")
