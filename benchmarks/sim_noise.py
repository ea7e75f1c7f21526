"""Real vs simulated load-cell noise on quiet shelves, side by side.

Real: AiFi BENCHMARK-1 gondolas 2-4 (17 shelves x 12 plates, 17 s at 60 Hz, nobody near).
Simulated: the same shape drawn from walkout.sim.weights' noise model, for several seeds.

    python benchmarks/sim_noise.py [--data ../shared/data] [--seeds 5] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from walkout.sensors import read_aifi_plate_data
from walkout.sim.weights import quiet_stats, simulated_quiet_shelves

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    path = Path(args.data) / "aifi" / "benchmark-1" / "plate_data_g2-4.jsonl"
    if not path.is_file():
        print(f"{path}: not found; nothing to compare against", file=sys.stderr)
        return 2
    gondolas = read_aifi_plate_data(path)
    shelves = [g.grams[:, s, :] for g in gondolas.values() for s in range(g.grams.shape[1])]
    n_plates = shelves[0].shape[1]
    seconds = shelves[0].shape[0] / 60.0
    real = quiet_stats(shelves)
    sims = [quiet_stats(simulated_quiet_shelves(seed, len(shelves), n_plates, seconds))
            for seed in range(args.seeds)]
    sim = {k: float(np.mean([s[k] for s in sims])) for k in real}
    spread = {k: float(np.std([s[k] for s in sims])) for k in real}

    print(f"quiet shelves: {len(shelves)} x {n_plates} plates, {seconds:.1f} s at 60 Hz; "
          f"simulated mean +- sd over {args.seeds} seeds")
    print(f"{'statistic (grams)':<22}{'real':>9}{'simulated':>16}{'ratio':>8}")
    for k in real:
        print(f"{k:<22}{real[k]:>9.2f}{sim[k]:>10.2f} +-{spread[k]:>4.2f}{sim[k] / real[k]:>8.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps(
            {"real": real, "simulated_mean": sim, "simulated_sd": spread,
             "shelves": len(shelves), "plates": n_plates, "seconds": seconds}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
