"""`walkout batch`: clips per minute one after another vs on 1 and 2 Ray workers, side by side
in one run on this machine; and what a store of several cameras costs besides detection.

    python benchmarks/batch.py [--work DIR] [--clips 6] [--json FILE]

(needs the ray extra.) Data: ``--clips`` simulated `busy` clips (2 minutes, 6+ shoppers,
one camera at 10 fps; seeds 3001, 3002, ...), written once into ``--work`` and reused.

(a) **Throughput.** The same clips through `walkout batch` as a user runs it, each mode a
    fresh output folder, one after another in one run:
    - ``serial``: ``--serial``, the detector on ONNX Runtime's own thread count (every core);
    - ``serial, 1 thread``: ``--serial --threads 1`` (one core's worth, as a Ray worker has);
    - ``ray 1`` and ``ray 2``: ``--workers 1`` and ``--workers 2`` on a local Ray started by
      the command (its start and stop are counted).
    Clips per minute from the command's wall time, and the ratio to ``serial``. Target:
    ``ray 2`` >= 1.6x ``serial``. Every mode's receipts.json and cart_ledger.jsonl must be
    byte-identical to ``serial``'s (checked, and reported).
(b) **A store of several cameras.** A `busy` store of 4 cameras (2 minutes, seed 3101, or
    ``--store DIR``) through `walkout batch --serial` and `--workers 2` (its line in one
    store actor, detection in 2 detector actors, ticks sent ahead): wall time, whether the
    outputs are byte-identical, and the serial run's milliseconds per tick for detection
    (4 frames a batch) and for the rest of the line (floor tracking, zones, fusion, carts:
    what the store actor does on Ray).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODES = {
    "serial": ["--serial"],
    "serial, 1 thread": ["--serial", "--threads", "1"],
    "ray 1": ["--workers", "1"],
    "ray 2": ["--workers", "2"],
}


def walkout(*args: str) -> str:
    res = subprocess.run([sys.executable, "-m", "walkout", "-q", *args], capture_output=True,
                         text=True)
    if res.returncode:
        raise SystemExit(f"walkout {' '.join(args)} failed: {res.stderr.strip()[-2000:]}")
    return res.stdout


def clips(work: Path, n: int) -> Path:
    folder = work / "busy"
    for k in range(n):
        clip = folder / f"busy-{3001 + k}"
        if not (clip / "gt").is_dir():
            walkout("simulate", "--preset", "busy", "--seed", str(3001 + k), "--out", str(clip))
    return folder


def throughput(folder: Path, n: int, out: Path) -> dict:
    rows = {}
    for mode, flags in MODES.items():
        dest = out / re.sub(r"\W+", "-", mode)
        t0 = time.perf_counter()
        walkout("batch", str(folder), "--out", str(dest), *flags)
        wall = time.perf_counter() - t0
        rows[mode] = {"wall_s": round(wall, 1), "clips_per_min": round(60 * n / wall, 2)}
        print(f"{mode:>18}: {n} clips in {wall:6.1f} s = {60 * n / wall:.2f} clips/min "
              f"({rows[mode]['clips_per_min'] / rows['serial']['clips_per_min']:.2f}x serial)",
              flush=True)
    base = out / "serial"
    for mode, row in rows.items():
        row["x_serial"] = round(rows["serial"]["wall_s"] / row["wall_s"], 2)
        dest = out / re.sub(r"\W+", "-", mode)
        row["identical"] = all(
            (dest / c.name / f).read_bytes() == (base / c.name / f).read_bytes()
            for c in sorted(folder.iterdir()) for f in ("receipts.json", "cart_ledger.jsonl"))
    frames = 1200 * n
    for row in rows.values():
        row["frames_per_s"] = round(frames / row["wall_s"], 1)
    return rows


def store_line(work: Path, store: Path | None, out: Path) -> dict:
    if store is None:
        store = work / "store4"
        if not (store / "store.yaml").is_file():
            walkout("simulate", "--preset", "busy", "--seed", "3101", "--cameras", "4",
                    "--out", str(store))
    rows = {}
    for mode, flags in (("serial", ["--serial"]), ("ray 2", ["--workers", "2"])):
        dest = out / f"store-{mode.replace(' ', '')}"
        t0 = time.perf_counter()
        walkout("batch", str(store), "--out", str(dest), *flags)
        rows[mode] = {"wall_s": round(time.perf_counter() - t0, 1)}
        job = json.loads((dest / "batch.json").read_text())["jobs"][0]
        rows[mode]["ticks"] = job["frames"]
        if mode == "serial":
            ms = job["ms_per_frame"]
    same = all((out / "store-serial" / store.name / f).read_bytes()
               == (out / "store-ray2" / store.name / f).read_bytes()
               for f in ("receipts.json", "cart_ledger.jsonl", "tracks_floor.csv"))
    rest = round(sum(v for k, v in ms.items() if k != "detect"), 1)
    ratio = rows["serial"]["wall_s"] / rows["ray 2"]["wall_s"]
    print(f"4-camera store ({rows['serial']['ticks']} ticks): serial "
          f"{rows['serial']['wall_s']} s, ray 2 {rows['ray 2']['wall_s']} s ({ratio:.2f}x), "
          f"identical: {same}; ms per tick: detect {ms['detect']:.1f} (4 frames), the rest "
          f"of the line {rest}", flush=True)
    return {"cameras": 4, "runs": rows, "x_serial": round(ratio, 2), "identical": same,
            "ms_per_tick": ms, "line_ms_per_tick": rest}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--work", default=None, help="where the clips are kept (default: a temp dir)")
    p.add_argument("--clips", type=int, default=6)
    p.add_argument("--store", default=None,
                   help="a store of several cameras for (b) (default: simulate one)")
    p.add_argument("--skip-throughput", action="store_true", help="only (b)")
    p.add_argument("--json", default=None)
    args = p.parse_args()
    import importlib.util

    if importlib.util.find_spec("ray") is None:
        raise SystemExit("benchmarks/batch.py needs the ray extra: pip install -e '.[ray]'")
    work = Path(args.work or tempfile.mkdtemp(prefix="walkout-batch-"))
    result = {"clips": args.clips}
    with tempfile.TemporaryDirectory() as tmp:
        if not args.skip_throughput:
            folder = clips(work, args.clips)
            result["throughput"] = throughput(folder, args.clips, Path(tmp))
        result["store"] = store_line(work, args.store and Path(args.store), Path(tmp))
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
