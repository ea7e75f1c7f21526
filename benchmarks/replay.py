"""Replay clips through `walkout.pipeline.run` on detections computed once, and fingerprint
what it writes: a check that a change meant to leave behaviour alone (a refactor, a speed-up)
leaves every output of every clip byte for byte as it was.

    python benchmarks/replay.py [--seeds 700 701 ...] [--presets single pair busy]
                                [--world random] [--work DIR] [--save FILE | --check FILE]

Clips are simulated into --work exactly as benchmarks/pipeline.py does (and shared with it:
a clip already there is reused); --world random puts seed s in drawn world s, as there.
The detector (the store's model, ONNX backend when onnxruntime is installed) runs once per
clip and its boxes are kept in
--work/det/<clip>.npz; the pipeline is then replayed on them, decoding the frames as usual
(the hand tips read the image). Each run's receipts.json, events.jsonl, tracks.txt and
cart_ledger.jsonl are hashed with SHA-256, and scored with walkout.evaluate: the table at
the end is what benchmarks/pipeline.py (a) would print for these clips, in a fraction of
the time; a second table scores the detector's boxes at the store's threshold.

--save FILE writes ``{clip: {file: sha256}}``. --check FILE compares with such a file,
prints each clip whose outputs differ and exits with 1 if any does.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
from itertools import pairwise
from pathlib import Path

import numpy as np
from pipeline import clip  # benchmarks/pipeline.py: the same simulated clips

from walkout.cli import make_detector
from walkout.config import load_store
from walkout.evaluate import ClipResult, Evaluation, evaluate_clip, load_prediction, load_truth
from walkout.pipeline import run
from walkout.report import score_text
from walkout.sources import open_source
from walkout.types import Detections

OUTPUTS = ("receipts.json", "events.jsonl", "tracks.txt", "cart_ledger.jsonl")


class Replayed:
    """A detector that hands back stored detections, one frame a call, in order."""

    backend = "replay"

    def __init__(self, frames: list[Detections]) -> None:
        self.frames, self.k = frames, 0

    def __call__(self, image: np.ndarray) -> Detections:
        d = self.frames[self.k]
        self.k += 1
        return d


def detections(root: Path, work: Path, backend: str) -> list[Detections]:
    """The detector's output for every frame of clip ``root``, computed once and kept."""
    path = work / "det" / f"{root.name}.npz"
    if not path.is_file():
        store = load_store(root / "store.yaml")
        det = make_detector(store, None, backend, "cpu")
        frames = [det(f.image) for f in open_source(root)]
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, counts=np.array([len(d) for d in frames], np.int64),
                 xyxy=np.concatenate([d.xyxy for d in frames]).reshape(-1, 4),
                 confidence=np.concatenate([d.confidence for d in frames]),
                 class_id=np.concatenate([d.class_id for d in frames]))
    z = np.load(path)
    edges = np.r_[0, np.cumsum(z["counts"])]
    return [Detections(z["xyxy"][a:b], z["confidence"][a:b], z["class_id"][a:b])
            for a, b in pairwise(edges)]


def replay(root: Path, work: Path, backend: str) -> tuple[dict[str, str], ClipResult]:
    """The SHA-256 of each output of clip ``root`` replayed, and its scores."""
    store = load_store(root / "store.yaml")
    with tempfile.TemporaryDirectory() as tmp:
        run(root, store, tmp, Replayed(detections(root, work, backend)),
            weights=root / "weights.csv")
        hashes = {name: hashlib.sha256((Path(tmp) / name).read_bytes()).hexdigest()
                  for name in OUTPUTS}
        return hashes, evaluate_clip(load_truth(root), load_prediction(Path(tmp)))


def detection_counts(root: Path, work: Path, backend: str) -> np.ndarray:
    """(true boxes, found, kept) of clip ``root``'s detections at its store's person
    threshold (``detector.confidence``), matched at IoU >= 0.5."""
    from detection import clip_counts  # benchmarks/detection.py, which imports this file

    thr = load_store(root / "store.yaml").detector.confidence
    return clip_counts(root, work, backend, [thr])[0]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=list(range(700, 710)))
    ap.add_argument("--presets", nargs="+", default=["single", "pair", "busy"])
    ap.add_argument("--work", default=str(Path(tempfile.gettempdir()) / "walkout-bench"))
    ap.add_argument("--backend", default="auto")
    ap.add_argument("--world", choices=["random"], default=None,
                    help="each seed in its own drawn world (seed s in world s)")
    group = ap.add_mutually_exclusive_group()
    group.add_argument("--save", default=None, help="write the fingerprints to this JSON file")
    group.add_argument("--check", default=None, help="compare with fingerprints saved before")
    args = ap.parse_args()
    work = Path(args.work)
    expected = json.loads(Path(args.check).read_text()) if args.check else None
    prints, differ, scores, boxes = {}, [], {}, {}
    for preset in args.presets:
        for seed in args.seeds:
            root = clip(work, preset, seed, world=seed if args.world else None)
            prints[root.name], result = replay(root, work, args.backend)
            got = prints[root.name]
            scores.setdefault(preset, []).append(result)
            boxes[preset] = boxes.get(preset, 0) + detection_counts(root, work, args.backend)
            status = ""
            if expected is not None:
                was = expected.get(root.name)
                bad = [f for f in OUTPUTS if was is None or was.get(f) != got[f]]
                status = "  same" if not bad else "  DIFFERS: " + ", ".join(bad)
                if bad:
                    differ.append(root.name)
            print(f"{root.name:<12} " + " ".join(got[f][:12] for f in OUTPUTS) + status,
                  flush=True)
    cols = ("receipt_f1", "exact_receipt_rate", "flagged_rate", "event_precision",
            "event_recall", "attribution_accuracy", "hota", "idf1")
    print(f"\n{'preset':<8}{'clips':>6}" + "".join(f"{c[:10]:>11}" for c in cols))
    for preset, results in scores.items():
        summary = Evaluation(results).summary()
        print(f"{preset:<8}{len(results):>6}"
              + "".join(f"{score_text(summary[c]):>11}" for c in cols))
    print(f"\n{'preset':<8}{'boxes':>8}  person detection at the store's threshold "
          "(IoU 0.5): precision / recall")
    for preset, (n, found, kept) in boxes.items():
        print(f"{preset:<8}{n:>8}  {found / max(kept, 1):.4f} / {found / max(n, 1):.4f}")
    if args.save:
        Path(args.save).write_text(json.dumps(prints, indent=2, sort_keys=True) + "\n")
        print(f"wrote {args.save} ({len(prints)} clips)")
    if expected is not None:
        print(f"{len(prints) - len(differ)} of {len(prints)} clips byte-identical"
              + (f"; differ: {' '.join(differ)}" if differ else ""))
        return 1 if differ else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
