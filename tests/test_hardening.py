"""One run per output folder, and a ledger that is checked whole (issue 26, part 3): a
second run into a busy folder is refused, a ledger longer than the rerun or damaged is a
one-line error that touches nothing, and temporary files a killed run left are cleaned."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import ROOT, cut_video

from walkout.carts import Ledger
from walkout.cli import main


def files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def test_a_second_run_into_a_busy_folder_is_refused(short_clip, tmp_path, capsys):
    out = tmp_path / "o"
    busy = Ledger(out / "cart_ledger.jsonl")  # another run holds the folder
    try:
        before = files(out)
        capsys.readouterr()
        assert main(["-q", "run", str(short_clip), "--out", str(out)]) == 2
        err = capsys.readouterr().err.strip()
        assert err == (f"walkout: error: {out}: another walkout run is writing into this "
                       "folder (expected one run per folder: wait for it to end, or use "
                       "another --out)")
        assert files(out) == before
    finally:
        busy.close()
    assert main(["-q", "run", str(short_clip), "--out", str(out)]) == 0  # free again


def test_two_runs_started_together_never_write_one_ledger_twice(short_clip, tmp_path):
    out = tmp_path / "o"
    cmd = [sys.executable, "-m", "walkout", "-q", "run", str(short_clip), "--out", str(out)]
    procs = [subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(2)]
    results = [(p.wait(timeout=300), p.stderr.read()) for p in procs]
    for p in procs:
        p.stdout.close()
        p.stderr.close()
    codes = sorted(code for code, _ in results)
    assert codes in ([0, 0], [0, 2]), results  # the second either waited its turn or failed
    if codes == [0, 2]:
        assert "another walkout run is writing into this folder" in \
            next(err for code, err in results if code == 2)
    seqs = [json.loads(ln)["seq"] for ln in (out / "cart_ledger.jsonl").read_text().splitlines()]
    assert seqs == list(range(1, len(seqs) + 1))  # every operation once, in order


def test_a_ledger_longer_than_the_rerun_is_refused_and_nothing_is_touched(
        short_clip, tmp_path, capsys):
    clip = tmp_path / "clip"
    shutil.copytree(short_clip, clip)
    out = tmp_path / "o"
    assert main(["-q", "run", str(clip), "--out", str(out)]) == 0
    capsys.readouterr()
    before = files(out)
    # the same input path now holds a shorter video: its run replays only a prefix
    cut_video(short_clip / "video.mp4", clip / "video.mp4", 5.0)
    assert main(["-q", "run", str(clip), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "more operation(s) than this run made" in err[0], err
    assert files(out) == before  # receipts.json and the ledger as the longer run left them


def test_a_damaged_ledger_is_one_line(short_clip, tmp_path, capsys):
    out = tmp_path / "o"
    assert main(["-q", "run", str(short_clip), "--out", str(out)]) == 0
    capsys.readouterr()
    ledger = out / "cart_ledger.jsonl"
    ledger.write_bytes(ledger.read_bytes().replace(b'"open"', b'"op\xffn"', 1))
    before = files(out)
    assert main(["-q", "run", str(short_clip), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"walkout: error: {ledger}: line 1: not UTF-8 text")
    assert files(out) == before


def test_temporary_files_of_a_killed_run_are_cleaned(short_clip, tmp_path):
    out = tmp_path / "o"
    assert main(["-q", "run", str(short_clip), "--out", str(out)]) == 0
    stray = [out / ".receipts.json.k2x9.tmp", out / ".annotated.q1w2.tmp.mp4"]
    for p in stray:
        p.write_bytes(b"half")
    (out / "notes.tmp").write_text("mine")  # not walkout's: left alone
    assert main(["-q", "run", str(short_clip), "--out", str(out)]) == 0
    assert not any(p.exists() for p in stray)
    assert (out / "notes.tmp").read_text() == "mine"
