"""Exactly once under `kill -9`: kill `walkout run` at evenly spread moments (some twice in
a row), rerun the same command, and compare every output with an uninterrupted run's.

    python benchmarks/kill_probe.py [--points 16] [--clip sample_videos/pair]

For each point it prints whether the rerun's receipts.json, cart_ledger.jsonl, events.jsonl
and tracks.txt are byte-identical to the reference and whether temporary files were left.
Target: every point byte-identical, none left. About 20 s a point on 2 cores.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUTPUTS = ("receipts.json", "cart_ledger.jsonl", "events.jsonl", "tracks.txt")


def digest(out: Path) -> dict[str, str]:
    return {n: hashlib.sha256((out / n).read_bytes()).hexdigest()[:12] for n in OUTPUTS
            if (out / n).is_file()}


def killed(cmd: list[str], after_s: float) -> None:
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(after_s)
    p.send_signal(signal.SIGKILL)
    p.wait()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=16)
    ap.add_argument("--clip", default=str(ROOT / "sample_videos" / "pair"))
    args = ap.parse_args()
    run = [sys.executable, "-m", "walkout", "-q", "run", args.clip, "--out"]
    with tempfile.TemporaryDirectory() as tmp:
        ref = Path(tmp) / "ref"
        t0 = time.monotonic()
        subprocess.run([*run, str(ref)], check=True, capture_output=True, cwd=ROOT)
        full = time.monotonic() - t0
        want = digest(ref)
        good = 0
        for i in range(args.points):
            at = full * (i + 1) / (args.points + 1)
            out = Path(tmp) / f"k{i}"
            killed([*run, str(out)], at)
            if i % 4 == 3:  # killed again while it catches up
                killed([*run, str(out)], at / 2)
            r = subprocess.run([*run, str(out)], capture_output=True, cwd=ROOT)
            same = r.returncode == 0 and digest(out) == want
            left = [p.name for p in out.iterdir() if ".tmp" in p.name]
            good += same and not left
            twice = " (twice)" if i % 4 == 3 else ""
            print(f"kill at {at:5.2f} s{twice:<8} rerun {'same' if same else 'DIFFERS'}"
                  f"{'  left: ' + ', '.join(left) if left else ''}", flush=True)
            shutil.rmtree(out, ignore_errors=True)
    print(f"\n{good} of {args.points} reruns byte-identical with nothing left behind "
          f"(an uninterrupted run takes {full:.1f} s)")
    return 0 if good == args.points else 1


if __name__ == "__main__":
    sys.exit(main())
