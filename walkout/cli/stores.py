"""Commands that write a store description from someone else's: ``aifi-store`` (AiFi's
store metadata and calibration -> a ``cameras:`` store.yaml)."""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path


def floor_polygon(text: str) -> list[list[float]]:
    """``"X,Y X,Y X,Y ..."`` (floor metres) -> ``[[x, y], ...]`` (at least 3 points)."""
    try:
        pts = [[float(v) for v in p.split(",")] for p in text.split()]
    except ValueError:
        pts = []
    if len(pts) < 3 or any(len(p) != 2 for p in pts):
        raise argparse.ArgumentTypeError(f"expected at least 3 floor points 'X,Y X,Y X,Y' in "
                                         f"metres, got {text!r}")
    return pts


def cmd_aifi_store(args: argparse.Namespace) -> int:
    from ..config import load_store
    from ..config.aifi import NANOSTORE_ENTRANCE, NANOSTORE_EXIT, aifi_store
    from ..config.write import dump_yaml
    from ..io import check_out_file

    out = check_out_file(args.out)   # output paths first
    raw = aifi_store(args.meta, args.cameras, args.videos, out,
                     args.entrance or NANOSTORE_ENTRANCE, args.exit or NANOSTORE_EXIT,
                     args.products, args.planogram)
    # written beside its final place (its video paths are relative to that folder), read
    # back by the loader every command uses, and only then put in place
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.absolute().parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(dump_yaml(raw))
        store = load_store(tmp)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    world = store.world
    n_plates = sum(len(s.plates) for s in world.shelves)
    print(f"{out}: {len(world.cameras)} cameras ({', '.join(c.id for c in world.cameras)}), "
          f"{len(world.shelves)} shelves, {n_plates} plates, {len(store.catalogue)} products")
    if args.overlay:
        from ..config.aifi import draw_overlays

        for path in draw_overlays(load_store(out), Path(args.overlay), args.frame):
            print(f"{path}: the store drawn on camera {path.stem}'s frame {args.frame}")
    return 0


def add_parsers(sub) -> None:
    a = sub.add_parser("aifi-store", help="AiFi store metadata + calibration -> a store.yaml "
                                          "of several cameras")
    a.add_argument("--meta", required=True,
                   help="AiFi's store_meta folder: Gondolas.json, Shelves.json, Plates.json, "
                        "calibration.json")
    a.add_argument("--cameras", nargs="+", required=True, metavar="N",
                   help="calibration.json camera keys; camera N reads VIDEOS/camN.mp4")
    a.add_argument("--videos", required=True, help="folder of the cameras' camN.mp4")
    a.add_argument("--out", required=True, help="store.yaml to write (usually VIDEOS/store.yaml)")
    a.add_argument("--products", default=None, help="AiFi products.jsonl (with --planogram)")
    a.add_argument("--planogram", default=None, help="AiFi planogram.jsonl (with --products); "
                                                     "without both, plates hold 'unknown'")
    a.add_argument("--entrance", type=floor_polygon, default=None, metavar="'X,Y X,Y X,Y ...'",
                   help="the entrance, floor metres (default: the NanoStore's, docs/cli.md)")
    a.add_argument("--exit", type=floor_polygon, default=None, metavar="'X,Y X,Y X,Y ...'",
                   help="the exit, floor metres (default: the NanoStore's)")
    a.add_argument("--overlay", default=None, metavar="DIR",
                   help="also draw the shelves and doors on each camera's frame, as "
                        "DIR/<camera>.png, to check the calibration by eye")
    a.add_argument("--frame", type=int, default=0, help="the frame --overlay draws on (0)")
    a.set_defaults(func=cmd_aifi_store)

