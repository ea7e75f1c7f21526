"""The size of walkout's base install: a fresh virtual environment with the README's install
command (``pip install -e .``), measured on disk, largest packages first.

    python benchmarks/install_size.py [--extra ultralytics] [--json out.json]

Needs the package registry (pip) and a minute or two. Target: the base environment under
600 MB, with ONNX Runtime (the detector) and without torch. ``--extra NAME`` measures
``pip install -e '.[NAME]'`` beside it, for comparison.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MB = 1024 * 1024


def disk_bytes(path: Path) -> int:
    """Bytes on disk under ``path`` (allocated blocks, as du counts), each file once."""
    total, seen = 0, set()
    for dirpath, _, files in os.walk(path):
        for name in files:
            st = os.lstat(os.path.join(dirpath, name))
            if (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                total += st.st_blocks * 512
    return total


def packages(site: Path) -> dict[str, int]:
    """Bytes per installed distribution, from the files its RECORD lists."""
    out = {}
    for info in site.glob("*.dist-info"):
        record = info / "RECORD"
        if not record.is_file():
            continue
        size = 0
        for line in record.read_text(encoding="utf-8").splitlines():
            f = site / line.split(",")[0]
            if f.is_file():
                size += f.stat().st_blocks * 512
        out[info.name.split("-")[0]] = size
    return out


def measure(spec: str, work: Path) -> dict:
    venv = work / "venv"
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "-e", spec], check=True,
                   cwd=ROOT)
    seconds = time.perf_counter() - t0
    site = next((venv / "lib").glob("python3*/site-packages"))
    pkgs = packages(site)
    return {"spec": spec, "total_mb": round(disk_bytes(venv) / MB, 1),
            "install_s": round(seconds, 1),
            "torch": "torch" in pkgs, "onnxruntime": "onnxruntime" in pkgs,
            "packages_mb": {k: round(v / MB, 1) for k, v in
                            sorted(pkgs.items(), key=lambda kv: -kv[1])}}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--extra", default=None, help="also measure .[EXTRA] (e.g. ultralytics)")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    specs = ["."] + ([f".[{args.extra}]"] if args.extra else [])
    rows = []
    for spec in specs:
        with tempfile.TemporaryDirectory() as tmp:
            rows.append(measure(spec, Path(tmp)))
        r = rows[-1]
        print(f"pip install -e '{spec}': {r['total_mb']:.0f} MB in {r['install_s']:.0f} s "
              f"(torch {'yes' if r['torch'] else 'no'}, onnxruntime "
              f"{'yes' if r['onnxruntime'] else 'no'})")
        for name, mb in list(r["packages_mb"].items())[:8]:
            print(f"  {name:<24} {mb:>7.1f} MB")
    base = rows[0]
    ok = base["total_mb"] < 600 and base["onnxruntime"] and not base["torch"]
    print(f"\nbase install {base['total_mb']:.0f} MB -> {'meets' if ok else 'misses'} the "
          "target (under 600 MB, ONNX Runtime, no torch)")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
