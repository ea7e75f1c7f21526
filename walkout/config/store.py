"""The store's description as frozen types (:class:`StoreConfig` and its parts), and
:func:`load_store` to read one from a store.yaml (validated by :mod:`.validate`)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import yaml

from ..errors import ConfigError

if TYPE_CHECKING:
    from .world import World

Polygon = np.ndarray  # (N, 2) float64, image pixels


@dataclass(frozen=True)
class Camera:
    """Image size in pixels, frame rate in frames/s, optional image->floor (metres) homography."""

    width: int
    height: int
    fps: float
    homography: np.ndarray | None = None  # (3, 3) image pixels -> floor metres
    view: str = "overhead"  # overhead: a person is where their box is; oblique: at its feet

    def px_per_m(self) -> float:
        """Image pixels per metre of floor in the middle of the view: the homography's
        local scale there (the square root of its Jacobian's area ratio), or, without one,
        the width of the image over 8 m, the floor a store's ceiling camera sees across (a
        lens 3 m up with a 100-110 degree field of view; AiFi's cameras cover a 7.4 m
        store). Distances that are physical (a walking speed, a hand's size) become
        pixels with it."""
        if self.homography is None:
            return self.width / 8.0
        H = np.asarray(self.homography, float)
        x, y = self.width / 2, self.height / 2
        w = H[2, 0] * x + H[2, 1] * y + H[2, 2]
        u, v = (H[0, 0] * x + H[0, 1] * y + H[0, 2]) / w, (H[1, 0] * x + H[1, 1] * y + H[1, 2]) / w
        # d(floor)/d(pixel) of the projective map at the centre
        J = (H[:2, :2] - np.outer([u, v], H[2, :2])) / w
        return round(float(1.0 / np.sqrt(abs(np.linalg.det(J)))), 6)  # a micro-pixel: noise


@dataclass(frozen=True)
class Sensors:
    """Load-cell stream settings. ``t_video = t_sensor + clock_offset_s``."""

    rate_hz: float = 60.0
    clock_offset_s: float = 0.0


@dataclass(frozen=True)
class DetectorSettings:
    """Which model finds people, and which of its classes count as a person."""

    model: str
    person_classes: tuple[int, ...]
    confidence: float = 0.25  # a box at or above it is a person (`walkout detect`)
    imgsz: int = 640
    ignore: tuple[Polygon, ...] = ()  # boxes standing in these are not people (fixtures)
    trust: bool = False  # the model may be a .pt that is not shipped (walkout.trust)
    # the least score kept for the tracker, whose second pass (ByteTrack) lets a low-scoring
    # box extend a track it overlaps but never start one; None: ``confidence``
    track_confidence: float | None = None

    @property
    def track_floor(self) -> float:
        """The least score the pipeline's detector keeps (for the tracker)."""
        return self.confidence if self.track_confidence is None else self.track_confidence


@dataclass(frozen=True)
class Product:
    """A catalogue entry: unit weight and its spread in grams, unit price."""

    sku: str
    name: str
    weight_g: float
    weight_sd_g: float
    price: float


@dataclass(frozen=True)
class Plate:
    """One load-cell plate holding one sku; ``units`` is the initial stock if known."""

    id: str
    sku: str
    units: int | None = None
    polygon: Polygon | None = None


@dataclass(frozen=True)
class Shelf:
    """A shelf: its own footprint, the zone a shopper must reach from, and its plates."""

    id: str
    polygon: Polygon
    reach_zone: Polygon
    plates: tuple[Plate, ...]
    gondola: str | None = None


@dataclass(frozen=True)
class Zones:
    entrance: Polygon
    exit: Polygon


@dataclass(frozen=True)
class StoreConfig:
    """A validated store.yaml. Build it with :func:`load_store` or :meth:`from_dict`."""

    camera: Camera
    detector: DetectorSettings
    catalogue: tuple[Product, ...]
    shelves: tuple[Shelf, ...]
    zones: Zones
    sensors: Sensors = field(default_factory=Sensors)
    name: str = ""
    path: Path | None = None
    # a store described in world metres for several cameras (a ``cameras:`` store.yaml):
    # its geometry and cameras, and which camera's view this is (:mod:`.world`)
    world: World | None = None
    camera_id: str | None = None

    # ---- lookups ----------------------------------------------------------------------------
    @property
    def products(self) -> dict[str, Product]:
        return {p.sku: p for p in self.catalogue}

    @property
    def plates(self) -> dict[str, tuple[Shelf, Plate]]:
        """Plate id -> (shelf, plate)."""
        return {p.id: (s, p) for s in self.shelves for p in s.plates}

    @property
    def plate_ids(self) -> list[str]:
        return [p.id for s in self.shelves for p in s.plates]

    def shelf(self, shelf_id: str) -> Shelf:
        for s in self.shelves:
            if s.id == shelf_id:
                return s
        raise KeyError(shelf_id)

    def view(self, camera_id: str) -> StoreConfig:
        """The store as camera ``camera_id`` of a ``cameras:`` store.yaml sees it: its
        shelves, plates and doors in that camera's pixels (:func:`.world.camera_view`)."""
        from .world import camera_view

        return camera_view(self, camera_id)

    def scaled(self, width: int, height: int) -> StoreConfig:
        """The same store for a camera image of ``width`` x ``height``: every polygon
        scaled (a webcam store drawn at 640x480 fits any webcam resolution)."""
        sx, sy = width / self.camera.width, height / self.camera.height
        if (sx, sy) == (1.0, 1.0):
            return self
        k = np.array([sx, sy])

        def sc(poly):
            return None if poly is None else np.asarray(poly, float) * k

        H = self.camera.homography
        if H is not None:  # pixels are scaled first, so undo that before H
            H = np.asarray(H, float) @ np.diag([1 / sx, 1 / sy, 1.0])
        shelves = tuple(replace(s, polygon=sc(s.polygon), reach_zone=sc(s.reach_zone),
                                plates=tuple(replace(q, polygon=sc(q.polygon))
                                             for q in s.plates))
                        for s in self.shelves)
        return replace(self, camera=replace(self.camera, width=width, height=height,
                                            homography=H),
                       detector=replace(self.detector,
                                        ignore=tuple(sc(q) for q in self.detector.ignore)),
                       shelves=shelves, zones=Zones(sc(self.zones.entrance),
                                                    sc(self.zones.exit)))

    # ---- (de)serialisation ------------------------------------------------------------------
    @classmethod
    def from_dict(cls, raw: Any, source: str | Path = "<store>") -> StoreConfig:
        from .validate import Validator  # it builds these types

        return Validator(str(source)).store(raw, Path(source) if source != "<store>" else None)

    def to_dict(self) -> dict:
        def poly(p: np.ndarray) -> list[list[float]]:
            return [[_num(x), _num(y)] for x, y in np.asarray(p)]

        camera: dict[str, Any] = {
            "width": self.camera.width,
            "height": self.camera.height,
            "fps": _num(self.camera.fps),
        }
        if self.camera.homography is not None:
            camera["homography"] = [[_num(v) for v in row] for row in self.camera.homography]
        if self.camera.view != "overhead":
            camera["view"] = self.camera.view
        shelves = []
        for s in self.shelves:
            plates = []
            for p in s.plates:
                d: dict[str, Any] = {"id": p.id, "sku": p.sku}
                if p.units is not None:
                    d["units"] = p.units
                if p.polygon is not None:
                    d["polygon"] = poly(p.polygon)
                plates.append(d)
            sd: dict[str, Any] = {"id": s.id}
            if s.gondola is not None:
                sd["gondola"] = s.gondola
            sd.update(polygon=poly(s.polygon), reach_zone=poly(s.reach_zone), plates=plates)
            shelves.append(sd)
        out: dict[str, Any] = {}
        if self.name:
            out["name"] = self.name
        out["camera"] = camera
        out["sensors"] = {
            "rate_hz": _num(self.sensors.rate_hz),
            "clock_offset_s": _num(self.sensors.clock_offset_s),
        }
        out["detector"] = {
            "model": self.detector.model,
            "person_classes": list(self.detector.person_classes),
            "confidence": _num(self.detector.confidence),
            "imgsz": self.detector.imgsz,
        }
        if self.detector.track_confidence is not None:
            out["detector"]["track_confidence"] = _num(self.detector.track_confidence)
        if self.detector.ignore:
            out["detector"]["ignore"] = [poly(q) for q in self.detector.ignore]
        if self.detector.trust:
            out["detector"]["trust"] = True
        out["catalogue"] = [
            {
                "sku": p.sku,
                "name": p.name,
                "weight_g": _num(p.weight_g),
                "weight_sd_g": _num(p.weight_sd_g),
                "price": _num(p.price),
            }
            for p in self.catalogue
        ]
        out["shelves"] = shelves
        out["zones"] = {"entrance": poly(self.zones.entrance), "exit": poly(self.zones.exit)}
        return out


def _num(x: float) -> float | int:
    """A float rounded for files: ints stay ints, others keep 6 significant decimals."""
    x = float(x)
    return int(x) if x.is_integer() else round(x, 6)


_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when built with it
# A store with a thousand shelves is well under a megabyte of YAML.
MAX_STORE_BYTES = 10 * 1024 * 1024


class _StoreLoader(_SAFE_LOADER):
    """The safe loader, refusing a key given twice in one mapping (YAML keeps the last one
    silently: a second ``camera:`` would replace the first without a word)."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, (str, int, float, bool)) and key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {str(key)[:40]!r}", key_node.start_mark)
            seen.add(key if isinstance(key, (str, int, float, bool)) else id(key_node))
        return super().construct_mapping(node, deep=deep)


def _no_aliases(text: str, path: Path) -> None:
    """A store description has no use for YAML aliases, and nested ones expand to
    gigabytes from a few kilobytes (a "billion laughs" file): refuse them."""
    for event in yaml.parse(text, Loader=_SAFE_LOADER):
        if isinstance(event, yaml.AliasEvent):
            raise ConfigError(f"{path}: line {event.start_mark.line + 1}: a YAML alias "
                              f"(*{str(event.anchor)[:40]}) (expected plain values: a store "
                              "description uses no aliases)")


def load_store(path: str | Path) -> StoreConfig:
    """Read and validate a store.yaml; raises :class:`ConfigError` with one clear line."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: file not found (expected a store.yaml)")
    if path.stat().st_size > MAX_STORE_BYTES:
        raise ConfigError(f"{path}: {path.stat().st_size} bytes (expected a store.yaml of at "
                          f"most {MAX_STORE_BYTES} bytes)")
    try:
        text = path.read_text(encoding="utf-8")
        _no_aliases(text, path)
        raw = yaml.load(text, Loader=_StoreLoader)
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a text file (expected YAML)") from None
    except RecursionError:
        raise ConfigError(f"{path}: nested too deeply (expected a store description)") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "?"
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{path}: {where}: invalid YAML ({str(problem)[:120]})") from None
    return StoreConfig.from_dict(raw, path)

