"""StoreConfig: one store.yaml describes a store, its camera, its shelves and its products.

Loading validates everything up front. Any problem raises :class:`ConfigError` with one
line naming the file, the key path (``shelves[2].plates[0].sku``) and what was expected.
Unknown keys are errors, so a typo never silently falls back to a default.

The schema (every key is documented in the README and commented in written files)::

    name: demo                      # optional free text
    camera: {width, height, fps, homography?, view?}
    sensors: {rate_hz?, clock_offset_s?}
    detector: {model, person_classes, confidence?, imgsz?, ignore?}
    catalogue: [{sku, name, weight_g, weight_sd_g, price}]
    shelves: [{id, gondola?, polygon, reach_zone, plates: [{id, sku, units?, polygon?}]}]
    zones: {entrance, exit}
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from .errors import ConfigError
from .io import write_text_atomic

Polygon = np.ndarray  # (N, 2) float64, image pixels


@dataclass(frozen=True)
class Camera:
    """Image size in pixels, frame rate in frames/s, optional image->floor (metres) homography."""

    width: int
    height: int
    fps: float
    homography: np.ndarray | None = None  # (3, 3) image pixels -> floor metres
    view: str = "overhead"  # overhead: a person is where their box is; oblique: at its feet


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
    confidence: float = 0.25
    imgsz: int = 640
    ignore: tuple[Polygon, ...] = ()  # boxes standing in these are not people (fixtures)


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
        return _Validator(str(source)).store(raw, Path(source) if source != "<store>" else None)

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
        if self.detector.ignore:
            out["detector"]["ignore"] = [poly(q) for q in self.detector.ignore]
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


def load_store(path: str | Path) -> StoreConfig:
    """Read and validate a store.yaml; raises :class:`ConfigError` with one clear line."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: file not found (expected a store.yaml)")
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_SAFE_LOADER)
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a text file (expected YAML)") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "?"
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{path}: {where}: invalid YAML ({problem})") from None
    return StoreConfig.from_dict(raw, path)


# ---- writing -------------------------------------------------------------------------------
# One comment per key, written next to the first occurrence, so written files explain
# themselves (the habit of ultralytics' tracker YAMLs).
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
    "detector.confidence": "minimum detection score",
    "detector.imgsz": "inference image size, pixels",
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
    lines = ["# walkout store description; the README documents every key."]
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


# ---- validation ----------------------------------------------------------------------------
class _Validator:
    """Walks the raw YAML tree, keeping the key path for error messages."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, key: str, msg: str) -> ConfigError:
        return ConfigError(f"{self.source}: {key}: {msg}" if key else f"{self.source}: {msg}")

    def mapping(self, raw: Any, key: str, required: tuple, optional: tuple = ()) -> dict:
        if not isinstance(raw, dict):
            raise self.fail(key, f"expected a mapping, got {_kind(raw)}")
        allowed = required + optional
        for k in raw:
            if k not in allowed:
                raise self.fail(
                    _join(key, str(k)), f"unknown key (expected one of: {', '.join(allowed)})"
                )
        for k in required:
            if k not in raw:
                raise self.fail(_join(key, k), "missing required key")
        return raw

    def seq(self, raw: Any, key: str, min_len: int = 1) -> list:
        if not isinstance(raw, list):
            raise self.fail(key, f"expected a list, got {_kind(raw)}")
        if len(raw) < min_len:
            raise self.fail(key, f"expected at least {min_len} item(s), got {len(raw)}")
        return raw

    def text(self, raw: Any, key: str) -> str:
        if isinstance(raw, bool) or not isinstance(raw, (str, int)) or str(raw).strip() == "":
            raise self.fail(key, f"expected a non-empty string, got {_kind(raw)}")
        return str(raw)

    def number(self, raw: Any, key: str, low: float | None = None, strict: bool = False) -> float:
        if isinstance(raw, bool) or not isinstance(raw, (int, float)) or not np.isfinite(raw):
            raise self.fail(key, f"expected a number, got {_kind(raw)}")
        if low is not None and (raw < low or (strict and raw == low)):
            rel = ">" if strict else ">="
            raise self.fail(key, f"expected a number {rel} {low}, got {raw}")
        return float(raw)

    def integer(self, raw: Any, key: str, low: int | None = None) -> int:
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise self.fail(key, f"expected an integer, got {_kind(raw)}")
        if low is not None and raw < low:
            raise self.fail(key, f"expected an integer >= {low}, got {raw}")
        return int(raw)

    def polygon(self, raw: Any, key: str) -> Polygon:
        bad = "expected a polygon: a list of at least 3 [x, y] points"
        if not isinstance(raw, list) or len(raw) < 3:
            raise self.fail(key, f"{bad}, got {_kind(raw)}")
        pts = []
        for i, pt in enumerate(raw):
            if (
                not isinstance(pt, list)
                or len(pt) != 2
                or any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in pt)
                or not all(np.isfinite(pt))
            ):
                raise self.fail(f"{key}[{i}]", f"{bad}; this point is {pt!r}")
            pts.append((float(pt[0]), float(pt[1])))
        poly = np.asarray(pts, np.float64)
        if _self_intersects(poly):
            raise self.fail(key, f"{bad}; its edges cross each other")
        if abs(polygon_area(poly)) < 1e-6:
            raise self.fail(key, f"{bad}; these points enclose no area")
        return poly

    # -- sections --
    def store(self, raw: Any, path: Path | None) -> StoreConfig:
        if raw is None:
            raise self.fail("", "empty file (expected a store description)")
        top = self.mapping(
            raw, "", ("camera", "detector", "catalogue", "shelves", "zones"), ("name", "sensors")
        )
        camera = self.camera(top["camera"])
        sensors = self.sensors(top.get("sensors", {}))
        detector = self.detector(top["detector"])
        catalogue = self.catalogue(top["catalogue"])
        skus = {p.sku for p in catalogue}
        shelves = self.shelves(top["shelves"], skus)
        zm = self.mapping(top["zones"], "zones", ("entrance", "exit"))
        zones = Zones(self.polygon(zm["entrance"], "zones.entrance"),
                      self.polygon(zm["exit"], "zones.exit"))
        name = self.text(top["name"], "name") if "name" in top else ""
        return StoreConfig(camera, detector, catalogue, shelves, zones, sensors, name, path)

    def camera(self, raw: Any) -> Camera:
        m = self.mapping(raw, "camera", ("width", "height", "fps"), ("homography", "view"))
        width = self.integer(m["width"], "camera.width", 1)
        height = self.integer(m["height"], "camera.height", 1)
        fps = self.number(m["fps"], "camera.fps", 0, strict=True)
        hom = None
        if "homography" in m:
            key = "camera.homography"
            rows = m["homography"]
            ok = isinstance(rows, list) and len(rows) == 3 and all(
                isinstance(r, list) and len(r) == 3 for r in rows
            )
            if not ok:
                raise self.fail(key, "expected a 3x3 list of numbers")
            hom = np.array(
                [[self.number(v, f"{key}[{i}][{j}]") for j, v in enumerate(r)]
                 for i, r in enumerate(rows)]
            )
            if abs(np.linalg.det(hom)) < 1e-12:
                raise self.fail(key, "expected an invertible 3x3 matrix (determinant is 0)")
        view = self.text(m.get("view", "overhead"), "camera.view")
        if view not in ("overhead", "oblique"):
            raise self.fail("camera.view", f"expected overhead or oblique, got {view!r}")
        return Camera(width, height, fps, hom, view)

    def sensors(self, raw: Any) -> Sensors:
        m = self.mapping(raw, "sensors", (), ("rate_hz", "clock_offset_s"))
        return Sensors(
            rate_hz=self.number(m.get("rate_hz", 60.0), "sensors.rate_hz", 0, strict=True),
            clock_offset_s=self.number(m.get("clock_offset_s", 0.0), "sensors.clock_offset_s"),
        )

    def detector(self, raw: Any) -> DetectorSettings:
        m = self.mapping(raw, "detector", ("model", "person_classes"),
                         ("confidence", "imgsz", "ignore"))
        classes = self.seq(m["person_classes"], "detector.person_classes")
        ignore = tuple(self.polygon(q, f"detector.ignore[{i}]")
                       for i, q in enumerate(self.seq(m.get("ignore", []), "detector.ignore",
                                                      min_len=0)))
        return DetectorSettings(
            model=self.text(m["model"], "detector.model"),
            person_classes=tuple(
                self.integer(c, f"detector.person_classes[{i}]", 0) for i, c in enumerate(classes)
            ),
            confidence=self.number(m.get("confidence", 0.25), "detector.confidence", 0),
            imgsz=self.integer(m.get("imgsz", 640), "detector.imgsz", 32),
            ignore=ignore,
        )

    def catalogue(self, raw: Any) -> tuple[Product, ...]:
        out, seen = [], set()
        for i, item in enumerate(self.seq(raw, "catalogue")):
            key = f"catalogue[{i}]"
            m = self.mapping(item, key, ("sku", "name", "weight_g", "weight_sd_g", "price"))
            sku = self.text(m["sku"], f"{key}.sku")
            if sku in seen:
                raise self.fail(f"{key}.sku", f"duplicate sku {sku!r}")
            seen.add(sku)
            out.append(Product(
                sku=sku,
                name=self.text(m["name"], f"{key}.name"),
                weight_g=self.number(m["weight_g"], f"{key}.weight_g", 0, strict=True),
                weight_sd_g=self.number(m["weight_sd_g"], f"{key}.weight_sd_g", 0),
                price=self.number(m["price"], f"{key}.price", 0),
            ))
        return tuple(out)

    def shelves(self, raw: Any, skus: set[str]) -> tuple[Shelf, ...]:
        out, shelf_ids, plate_ids = [], set(), set()
        for i, item in enumerate(self.seq(raw, "shelves")):
            key = f"shelves[{i}]"
            m = self.mapping(item, key, ("id", "polygon", "reach_zone", "plates"), ("gondola",))
            sid = self.text(m["id"], f"{key}.id")
            if sid in shelf_ids:
                raise self.fail(f"{key}.id", f"duplicate shelf id {sid!r}")
            shelf_ids.add(sid)
            plates = []
            for j, praw in enumerate(self.seq(m["plates"], f"{key}.plates")):
                pkey = f"{key}.plates[{j}]"
                pm = self.mapping(praw, pkey, ("id", "sku"), ("units", "polygon"))
                pid = self.text(pm["id"], f"{pkey}.id")
                if pid in plate_ids:
                    raise self.fail(f"{pkey}.id", f"duplicate plate id {pid!r}")
                plate_ids.add(pid)
                sku = self.text(pm["sku"], f"{pkey}.sku")
                if sku not in skus:
                    raise self.fail(f"{pkey}.sku", f"unknown sku {sku!r} (not in catalogue)")
                units = self.integer(pm["units"], f"{pkey}.units", 0) if "units" in pm else None
                poly = self.polygon(pm["polygon"], f"{pkey}.polygon") if "polygon" in pm else None
                plates.append(Plate(pid, sku, units, poly))
            out.append(Shelf(
                id=sid,
                polygon=self.polygon(m["polygon"], f"{key}.polygon"),
                reach_zone=self.polygon(m["reach_zone"], f"{key}.reach_zone"),
                plates=tuple(plates),
                gondola=self.text(m["gondola"], f"{key}.gondola") if "gondola" in m else None,
            ))
        return tuple(out)


def _join(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


def _kind(raw: Any) -> str:
    if raw is None:
        return "nothing"
    if isinstance(raw, (dict, list)):
        return f"a {type(raw).__name__}"
    return repr(raw)


def polygon_area(poly: np.ndarray) -> float:
    """Signed area (shoelace) of an ``(N, 2)`` polygon, in squared input units."""
    x, y = poly[:, 0], poly[:, 1]
    return 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))


def _self_intersects(poly: np.ndarray) -> bool:
    n = len(poly)

    def cross(o, a, b) -> float:
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

    for i in range(n):
        a, b = poly[i], poly[(i + 1) % n]
        for j in range(i + 1, n):
            if j == i or (j + 1) % n == i or j == (i + 1) % n:
                continue  # adjacent edges share a vertex
            c, d = poly[j], poly[(j + 1) % n]
            d1, d2 = cross(c, d, a), cross(c, d, b)
            d3, d4 = cross(a, b, c), cross(a, b, d)
            if d1 * d2 < 0 and d3 * d4 < 0:
                return True
    return False
