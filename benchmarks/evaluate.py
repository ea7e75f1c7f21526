"""`walkout eval` speed: 100 clips scored from existing predictions.

    python benchmarks/evaluate.py [--clips 100] [--seed 0] [--json out.json]

The clips are copies of the three sample clips' labels (store.yaml and gt/; eval reads no
video), cycled single, pair, busy: 100 clips hold about 68,000 true boxes and 1,000 events.
Each gets a seeded, imperfect prediction: the true receipts with units dropped, added or
moved to another shopper, one shopper's id split in two now and then, event times shifted,
some events dropped, and the true tracks with box jitter, missed boxes and swapped ids.

It times, in one run: loading and scoring all clips (``evaluate`` + ``summary``), the same
through the command line (``walkout eval --json``, a fresh process, imports included), and
the markdown report with its plots. The target is under 10 s for the 100 clips on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from walkout.evaluate import evaluate, write_oracle_prediction
from walkout.report import terminal_table, write_report

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = [ROOT / "sample_videos" / p for p in ("single", "pair", "busy")]


def perturb(pred: Path, rng: np.random.Generator) -> None:
    """Make a perfect prediction imperfect, in the ways real systems fail."""
    doc = json.loads((pred / "receipts.json").read_text())
    receipts = doc["receipts"]
    for r in receipts:
        for ln in r["lines"]:
            if rng.random() < 0.1:
                ln["qty"] = max(0, ln["qty"] + int(rng.choice([-1, 1])))
        if rng.random() < 0.1 and len(receipts) > 1:   # a unit charged to someone else
            other = receipts[int(rng.integers(len(receipts)))]
            if r["lines"] and other is not r:
                moved = dict(r["lines"][0], qty=1)
                r["lines"][0]["qty"] -= 1
                other["lines"].append(moved)
        r["lines"] = [ln for ln in r["lines"] if ln["qty"] > 0]
        r["total"] = round(sum(ln["qty"] * ln["unit_price"] for ln in r["lines"]), 2)
        if rng.random() < 0.1:
            r["flags"] = ["ambiguous"]
    if rng.random() < 0.2 and receipts and len(receipts[0]["lines"]) > 1:   # a split track
        a = receipts[0]
        receipts.append(dict(a, receipt_id="split", shopper_id=a["shopper_id"] + "b",
                             lines=a["lines"][1:], total=0.0))
        a["lines"] = a["lines"][:1]
    (pred / "receipts.json").write_text(json.dumps(doc))
    events = []
    for line in (pred / "events.jsonl").read_text().splitlines():
        e = json.loads(line)
        if rng.random() < 0.05:
            continue
        e["t"] = round(e["t"] + float(rng.normal(0, 0.6)), 3)
        events.append(json.dumps(e))
    (pred / "events.jsonl").write_text("\n".join(events) + "\n")
    rows = np.loadtxt(pred / "tracks.txt", delimiter=",", ndmin=2)
    rows = rows[rng.random(len(rows)) > 0.05]
    rows[:, 2:6] += rng.normal(0, 3, (len(rows), 4))
    rows[:, 4:6] = np.maximum(rows[:, 4:6], 4)
    ids = np.unique(rows[:, 1])
    if len(ids) > 1 and rng.random() < 0.5:   # an id swap from some frame on
        a, b = rng.choice(ids, 2, replace=False)
        late = rows[:, 0] > np.median(rows[:, 0])
        ia, ib = late & (rows[:, 1] == a), late & (rows[:, 1] == b)
        rows[ia, 1], rows[ib, 1] = b, a
    np.savetxt(pred / "tracks.txt", rows, fmt="%.2f", delimiter=",")


def build(work: Path, n: int, seed: int) -> tuple[Path, Path]:
    rng = np.random.default_rng(seed)
    clips, preds = work / "clips", work / "pred"
    for k in range(n):
        src = SAMPLES[k % len(SAMPLES)]
        clip = clips / f"{src.name}-{k:03d}"
        clip.mkdir(parents=True)
        shutil.copy(src / "store.yaml", clip / "store.yaml")
        shutil.copytree(src / "gt", clip / "gt")
        perturb(write_oracle_prediction(clip, preds / clip.name), rng)
    return clips, preds


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        clips, preds = build(work, args.clips, args.seed)
        t0 = time.perf_counter()
        ev = evaluate([clips], preds)
        summary = ev.summary()
        t_eval = time.perf_counter() - t0
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "walkout", "eval", "--clips", str(clips),
                        "--pred", str(preds), "--json", str(work / "s.json")],
                       check=True, stdout=subprocess.DEVNULL, env=env)
        t_cli = time.perf_counter() - t0
        t0 = time.perf_counter()
        write_report(ev, work / "report")
        t_report = time.perf_counter() - t0
    boxes = sum(r.mot.num_gt for r in ev.results)
    events = sum(r.ev_true for r in ev.results)
    print(terminal_table(summary))
    print(f"\n{args.clips} clips, {boxes:,} true boxes, {events:,} true events "
          f"(cores: {os.cpu_count()})")
    print(f"{'stage':<34} {'seconds':>8} {'per clip (ms)':>14}")
    for name, t in (("evaluate + summary (in process)", t_eval),
                    ("walkout eval --json (new process)", t_cli),
                    ("report.md + plots", t_report)):
        print(f"{name:<34} {t:8.2f} {1000 * t / args.clips:14.1f}")
    verdict = "meets" if t_cli < 10 else "misses"
    print(f"target: 100 clips under 10 s through the command line -> {verdict}")
    if args.json:
        Path(args.json).write_text(json.dumps({
            "clips": args.clips, "true_boxes": boxes, "true_events": events,
            "seconds": {"evaluate": round(t_eval, 3), "cli": round(t_cli, 3),
                        "report": round(t_report, 3)},
            "scores": {k: summary[k] for k in ("receipt_f1", "exact_receipt_rate",
                                               "event_precision", "event_recall", "hota",
                                               "idf1", "mota")},
        }, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
