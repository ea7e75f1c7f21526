"""Writing a :class:`StoreConfig` as a store.yaml with a comment on each key (at its first
occurrence), so written files explain themselves (the habit of ultralytics' tracker YAMLs)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from ..io import write_text_atomic
from .store import StoreConfig

KEY_COMMENTS = {
    "name": "free text shown in reports",
    "camera": "the ceiling camera",
    "camera.width": "image width, pixels",
    "camera.height": "image height, pixels",
    "camera.fps": "frames per second; video time = frame_index / fps",
    "camera.homography": "optional 3x3, image pixels -> floor metres",
    "camera.view": "optional: overhead (default; a person is where their box is) or oblique "
                   "(a person stands at the bottom middle of their box)",
    "sensors": "shelf load cells",
    "sensors.rate_hz": "samples per second of every plate",
    "sensors.clock_offset_s": "video time = sensor time + this offset, seconds",
    "detector": "person detector",
    "detector.model": "weights file, relative to the project or absolute",
    "detector.person_classes": "model class ids that count as a person",
    "detector.confidence": "a box at or above this score is a person",
    "detector.track_confidence": "optional: least score kept for tracking (boxes under "
                                 "confidence only extend a track); default: confidence",
    "detector.imgsz": "inference image size, pixels",
    "detector.trust": "load a .pt that is not shipped with walkout (it can run code)",
    "detector.ignore": "optional: polygons where a box standing there is a fixture, not a "
                       "person",
    "catalogue": "products: unit weight and spread in grams, unit price",
    "catalogue.sku": "unique product id",
    "catalogue.name": "shown on receipts",
    "catalogue.weight_g": "mean unit weight, grams (> 0)",
    "catalogue.weight_sd_g": "standard deviation of one unit's weight, grams (>= 0)",
    "catalogue.price": "unit price (>= 0)",
    "shelves": "each shelf: its footprint, the zone it is reached from, its plates",
    "shelves.id": "unique shelf id",
    "shelves.gondola": "optional: the gondola (fixture) this shelf belongs to",
    "shelves.polygon": "the shelf's footprint in the image, [[x, y], ...] pixels",
    "shelves.reach_zone": "where a shopper stands to reach this shelf, pixels",
    "shelves.plates": "load-cell plates, one sku each",
    "shelves.plates.id": "unique plate id; a column of weights.csv",
    "shelves.plates.sku": "the catalogue sku stocked on this plate",
    "shelves.plates.units": "optional: initial number of units on the plate",
    "shelves.plates.polygon": "optional: the plate's footprint in the image, pixels",
    "zones": "doors",
    "zones.entrance": "a shopper's cart opens when they enter this polygon",
    "zones.exit": "a shopper's receipt is issued when they leave through this polygon",
}


def dump_store(cfg: StoreConfig, path: str | Path) -> None:
    """Write ``cfg`` as a commented store.yaml (atomically: temp file + rename)."""
    lines = ["# walkout store description; docs/store-yaml.md documents every key."]
    seen: set[str] = set()
    _emit(cfg.to_dict(), "", 0, lines, seen)
    write_text_atomic(path, "\n".join(lines) + "\n")


def _flow(value: Any) -> str:
    """One value in YAML flow style on one line (scalars without the '...' end marker)."""
    text = yaml.safe_dump([value], default_flow_style=True, width=10_000, sort_keys=False)
    return text.strip()[1:-1]


def _comment(keypath: str, seen: set[str]) -> str:
    if keypath in seen or keypath not in KEY_COMMENTS:
        return ""
    seen.add(keypath)
    return f"  # {KEY_COMMENTS[keypath]}"


def _emit(obj: dict, prefix: str, indent: int, lines: list[str], seen: set[str]) -> None:
    pad = " " * indent
    for key, value in obj.items():
        keypath = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict):
            lines.append(f"{pad}{key}:{_comment(keypath, seen)}")
            _emit(value, keypath, indent + 2, lines, seen)
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            lines.append(f"{pad}{key}:{_comment(keypath, seen)}")
            for item in value:
                sub: list[str] = []
                _emit(item, keypath, indent + 4, sub, seen)
                sub[0] = f"{pad}  - {sub[0].lstrip()}"
                lines.extend(sub)
        else:
            lines.append(f"{pad}{key}: {_flow(value)}{_comment(keypath, seen)}")



def dump_yaml(raw: dict) -> str:
    """A store.yaml tree (plain dicts, lists and numbers) as YAML text in its order, each
    point or matrix row on one line and no aliases (walkout refuses them)."""

    class Plain(yaml.SafeDumper):
        def ignore_aliases(self, data):
            return True

    def rows(dumper, data):   # a point or a matrix row on one line
        flow = all(isinstance(v, (int, float)) for v in data)
        return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)

    Plain.add_representer(list, rows)
    return yaml.dump(raw, Dumper=Plain, sort_keys=False)
