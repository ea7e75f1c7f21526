"""Reading a raw YAML tree into a :class:`StoreConfig`, checking every key on the way: one
clear line naming the file, the key path and what was expected, for the first problem."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError
from ..geometry import Calibration
from .store import (
    Camera,
    DetectorSettings,
    Plate,
    Polygon,
    Product,
    Sensors,
    Shelf,
    StoreConfig,
    Zones,
)
from .world import CameraSpec, PlateSpan, ShelfBox, World

# Bounds on numbers, each far beyond any real store, so that a slip (or a hostile file) is
# an error here instead of a crash, a hang or gigabytes later on.
MAX_NUMBER = 1e12          # any other number: nothing in a store description is this large
MAX_INTEGER = 10**9        # any other integer (ids, class numbers)
MAX_FRAME_SIDE = 16384     # pixels: the widest camera sensors are about 16k pixels
MAX_PIXELS = 1e6           # a polygon point: zones may reach past the frame, not this far
MAX_POLYGON_POINTS = 1000  # a drawn zone has a handful of corners; checking is O(n^2)
MAX_FPS = 1000.0           # high-speed cameras; store cameras run at 5-60 frames/s
MAX_IMGSZ = 4096           # model input pixels: 200,000 would ask for about 90 GB
MIN_RATE_HZ = 1.0          # a load cell read less than once a second misses a whole pick
MAX_RATE_HZ = 10000.0      # load-cell converters sample at 10-80 Hz, lab ones at a few kHz
MAX_CLOCK_S = 1e10         # seconds: epoch time reaches 1e10 in the year 2286
MAX_GRAMS = 1e6            # no product on a shelf plate weighs a tonne
MAX_UNITS = 10**6          # units stocked on one plate


def _finite(v) -> bool:
    try:
        return bool(np.isfinite(float(v)))
    except OverflowError:
        return False


class Validator:
    """Walks the raw YAML tree, keeping the key path for error messages."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, key: str, msg: str) -> ConfigError:
        if len(msg) > 200:  # a value quoted in it may be as long as the file
            msg = msg[:196] + " ..."
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

    def number(self, raw: Any, key: str, low: float | None = None, strict: bool = False,
               below: float | None = None, high: float = MAX_NUMBER) -> float:
        if isinstance(raw, bool) or not isinstance(raw, (int, float)):
            raise self.fail(key, f"expected a number, got {_kind(raw)}")
        try:
            value = float(raw)
        except OverflowError:  # an integer of hundreds of digits
            raise self.fail(key, f"expected a number, got {_kind(raw)}") from None
        if not np.isfinite(value):
            raise self.fail(key, f"expected a number, got {_kind(raw)}")
        if low is not None and (value < low or (strict and value == low)):
            rel = ">" if strict else ">="
            raise self.fail(key, f"expected a number {rel} {low}, got {_kind(raw)}")
        if below is not None and value >= below:
            raise self.fail(key, f"expected a number < {below}, got {_kind(raw)}")
        if abs(value) > high:
            raise self.fail(key, f"expected a number from {-high:g} to {high:g}, got "
                                 f"{_kind(raw)}")
        return value

    def integer(self, raw: Any, key: str, low: int | None = None,
                high: int = MAX_INTEGER) -> int:
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise self.fail(key, f"expected an integer, got {_kind(raw)}")
        if low is not None and raw < low:
            raise self.fail(key, f"expected an integer >= {low}, got {_kind(raw)}")
        if raw > high:
            raise self.fail(key, f"expected an integer <= {high}, got {_kind(raw)}")
        return int(raw)

    def polygon(self, raw: Any, key: str, unit: str = "pixels") -> Polygon:
        bad = "expected a polygon: a list of at least 3 [x, y] points"
        if not isinstance(raw, list) or len(raw) < 3:
            raise self.fail(key, f"{bad}, got {_kind(raw)}")
        if len(raw) > MAX_POLYGON_POINTS:
            raise self.fail(key, f"{bad} and at most {MAX_POLYGON_POINTS}, got {len(raw)}")
        pts = []
        for i, pt in enumerate(raw):
            if (
                not isinstance(pt, list)
                or len(pt) != 2
                or any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in pt)
                or not all(_finite(v) and abs(float(v)) <= MAX_PIXELS for v in pt)
            ):
                raise self.fail(f"{key}[{i}]", f"{bad} within +-{MAX_PIXELS:g} {unit}; this "
                                               f"point is {_kind(pt)}")
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
        if isinstance(raw, dict) and "cameras" in raw:
            return self.world_store(raw, path)
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

    def world_store(self, raw: dict, path: Path | None) -> StoreConfig:
        """A store in world metres seen by several cameras (:mod:`.world`), as its first
        camera sees it."""
        top = self.mapping(raw, "", ("cameras", "detector", "catalogue", "shelves", "zones"),
                           ("name", "sensors"))
        cameras = self.cameras(top["cameras"])
        catalogue = self.catalogue(top["catalogue"])
        skus = {p.sku for p in catalogue}
        zm = self.mapping(top["zones"], "zones", ("entrance", "exit"))
        world = World(cameras, self.shelf_boxes(top["shelves"], skus),
                      self.polygon(zm["entrance"], "zones.entrance", "metres"),
                      self.polygon(zm["exit"], "zones.exit", "metres"))
        first = cameras[0]
        detector = self.detector(top["detector"])
        if detector.ignore:   # pixels of which camera?
            raise self.fail("detector.ignore", "expected none in a store of several cameras "
                                               "(give each camera's as cameras[i].ignore)")
        base = StoreConfig(
            camera=Camera(first.width, first.height, first.fps),
            detector=detector, catalogue=catalogue, shelves=(),
            zones=Zones(world.entrance, world.exit),
            sensors=self.sensors(top.get("sensors", {})),
            name=self.text(top["name"], "name") if "name" in top else "", path=path,
            world=world)
        return base.view(first.id)

    def matrix(self, raw: Any, key: str, rows: int, cols: int) -> np.ndarray:
        ok = isinstance(raw, list) and len(raw) == rows and all(
            isinstance(r, list) and len(r) == cols for r in raw)
        if not ok:
            raise self.fail(key, f"expected a {rows}x{cols} list of numbers")
        return np.array([[self.number(v, f"{key}[{i}][{j}]") for j, v in enumerate(r)]
                         for i, r in enumerate(raw)])

    def vector(self, raw: Any, key: str, n: int | tuple[int, ...]) -> np.ndarray:
        sizes = (n,) if isinstance(n, int) else n
        if not isinstance(raw, list) or len(raw) not in sizes:
            want = " or ".join(str(k) for k in sizes)
            raise self.fail(key, f"expected a list of {want} numbers, got {_kind(raw)}")
        return np.array([self.number(v, f"{key}[{i}]") for i, v in enumerate(raw)])

    def cameras(self, raw: Any) -> tuple[CameraSpec, ...]:
        out, seen = [], set()
        for i, item in enumerate(self.seq(raw, "cameras")):
            key = f"cameras[{i}]"
            m = self.mapping(item, key, ("id", "width", "height", "fps", "calibration"),
                             ("source", "view", "start_s", "ignore"))
            cid = self.text(m["id"], f"{key}.id")
            if cid in seen:
                raise self.fail(f"{key}.id", f"duplicate camera id {cid!r}")
            seen.add(cid)
            calib = self.calibration(m["calibration"], f"{key}.calibration")
            view = self.text(m.get("view", "overhead"), f"{key}.view")
            if view not in ("overhead", "oblique"):
                raise self.fail(f"{key}.view", f"expected overhead or oblique, got {view!r}")
            out.append(CameraSpec(
                id=cid,
                width=self.integer(m["width"], f"{key}.width", 1, MAX_FRAME_SIDE),
                height=self.integer(m["height"], f"{key}.height", 1, MAX_FRAME_SIDE),
                fps=self.number(m["fps"], f"{key}.fps", 0, strict=True, high=MAX_FPS),
                calibration=calib,
                source=self.text(m["source"], f"{key}.source") if "source" in m else None,
                view=view,
                start_s=self.number(m["start_s"], f"{key}.start_s") if "start_s" in m else 0.0,
                ignore=tuple(self.polygon(q, f"{key}.ignore[{j}]") for j, q in enumerate(
                    self.seq(m.get("ignore", []), f"{key}.ignore", min_len=0))),
            ))
        return tuple(out)

    def calibration(self, raw: Any, key: str) -> Calibration:
        """Either ``homography`` (image pixels -> floor metres), or ``K`` (pixels), ``R``
        and ``t`` (camera -> world, metres) and optionally ``dist`` (OpenCV's order)."""
        if isinstance(raw, dict) and "homography" in raw:
            m = self.mapping(raw, key, ("homography",))
            H = self.matrix(m["homography"], f"{key}.homography", 3, 3)
            if abs(np.linalg.det(H)) < 1e-12:
                raise self.fail(f"{key}.homography",
                                "expected an invertible 3x3 matrix (determinant is 0)")
            return Calibration.from_homography(H)
        m = self.mapping(raw, key, ("K", "R", "t"), ("dist",))
        K = self.matrix(m["K"], f"{key}.K", 3, 3)
        if K[0, 0] <= 0 or K[1, 1] <= 0 or K[2].tolist() != [0.0, 0.0, 1.0]:
            raise self.fail(f"{key}.K", "expected [[fx, 0, cx], [0, fy, cy], [0, 0, 1]] with "
                                        "fx, fy > 0 (pixels)")
        R = self.matrix(m["R"], f"{key}.R", 3, 3)
        if not np.allclose(R @ R.T, np.eye(3), atol=1e-4) or np.linalg.det(R) < 0:
            raise self.fail(f"{key}.R", "expected a rotation (orthonormal rows, determinant "
                                        "+1): the camera-to-world turn")
        t = self.vector(m["t"], f"{key}.t", 3)
        dist = (self.vector(m["dist"], f"{key}.dist", (4, 5, 8, 12, 14))
                if "dist" in m else None)
        # re-orthonormalise the rotation written to a few decimals
        u, _, vt = np.linalg.svd(R)
        return Calibration.pinhole(K, u @ vt, t, dist)

    def plate(self, raw: Any, key: str, where: str, skus: set[str], plate_ids: set[str]
              ) -> tuple[dict, str, str, int | None]:
        """A plate's mapping (``id``, ``sku``, optional ``units`` and ``where`` it lies),
        its id (new to ``plate_ids``, added), its sku (in ``skus``) and its units."""
        pm = self.mapping(raw, key, ("id", "sku"), ("units", where))
        pid = self.text(pm["id"], f"{key}.id")
        if pid in plate_ids:
            raise self.fail(f"{key}.id", f"duplicate plate id {pid!r}")
        plate_ids.add(pid)
        sku = self.text(pm["sku"], f"{key}.sku")
        if sku not in skus:
            raise self.fail(f"{key}.sku", f"unknown sku {sku!r} (not in catalogue)")
        units = self.integer(pm["units"], f"{key}.units", 0, MAX_UNITS) if "units" in pm \
            else None
        return pm, pid, sku, units

    def shelf_boxes(self, raw: Any, skus: set[str]) -> tuple[ShelfBox, ...]:
        out, shelf_ids, plate_ids = [], set(), set()
        for i, item in enumerate(self.seq(raw, "shelves")):
            key = f"shelves[{i}]"
            m = self.mapping(item, key, ("id", "origin", "size", "plates"),
                             ("gondola", "yaw_deg"))
            sid = self.text(m["id"], f"{key}.id")
            if sid in shelf_ids:
                raise self.fail(f"{key}.id", f"duplicate shelf id {sid!r}")
            shelf_ids.add(sid)
            origin = self.vector(m["origin"], f"{key}.origin", 3)
            size = self.vector(m["size"], f"{key}.size", 3)
            if np.any(size <= 0):
                raise self.fail(f"{key}.size", "expected [length, depth, height] in metres, "
                                               f"each > 0, got {size.tolist()}")
            praw = self.seq(m["plates"], f"{key}.plates")
            plates = []
            for j, pr in enumerate(praw):
                pkey = f"{key}.plates[{j}]"
                pm, pid, sku, units = self.plate(pr, pkey, "span", skus, plate_ids)
                if "span" in pm:   # metres along the front from the origin
                    x0, x1 = self.vector(pm["span"], f"{pkey}.span", 2)
                    if not 0 <= x0 < x1 <= size[0] + 1e-9:
                        raise self.fail(f"{pkey}.span", f"expected [from, to] with 0 <= from "
                                                        f"< to <= the shelf's length "
                                                        f"{size[0]:g} m")
                else:              # the plates share the shelf's length equally, in order
                    x0, x1 = size[0] * j / len(praw), size[0] * (j + 1) / len(praw)
                for q in plates:   # two plates cannot hold one stretch of shelf
                    if x0 < q.x1 - 1e-9 and q.x0 < x1 - 1e-9:
                        raise self.fail(f"{pkey}.span" if "span" in pm else pkey,
                                        f"overlaps plate {q.id!r} ({q.x0:g}-{q.x1:g} m): "
                                        f"expected plates side by side along the shelf")
                plates.append(PlateSpan(pid, sku, float(x0), float(x1), units))
            out.append(ShelfBox(
                id=sid, origin=tuple(origin.tolist()), size=tuple(size.tolist()),
                yaw_deg=self.number(m.get("yaw_deg", 0.0), f"{key}.yaw_deg", -360, high=360),
                plates=tuple(plates),
                gondola=self.text(m["gondola"], f"{key}.gondola") if "gondola" in m else None,
            ))
        return tuple(out)

    def camera(self, raw: Any) -> Camera:
        m = self.mapping(raw, "camera", ("width", "height", "fps"), ("homography", "view"))
        width = self.integer(m["width"], "camera.width", 1, MAX_FRAME_SIDE)
        height = self.integer(m["height"], "camera.height", 1, MAX_FRAME_SIDE)
        fps = self.number(m["fps"], "camera.fps", 0, strict=True, high=MAX_FPS)
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
            rate_hz=self.number(m.get("rate_hz", 60.0), "sensors.rate_hz", MIN_RATE_HZ,
                                high=MAX_RATE_HZ),
            clock_offset_s=self.number(m.get("clock_offset_s", 0.0), "sensors.clock_offset_s",
                                       high=MAX_CLOCK_S),
        )

    def detector(self, raw: Any) -> DetectorSettings:
        m = self.mapping(raw, "detector", ("model", "person_classes"),
                         ("confidence", "track_confidence", "imgsz", "ignore", "trust"))
        trust = m.get("trust", False)
        if not isinstance(trust, bool):
            raise self.fail("detector.trust", f"expected true or false, got {_kind(trust)}")
        classes = self.seq(m["person_classes"], "detector.person_classes")
        ignore = tuple(self.polygon(q, f"detector.ignore[{i}]")
                       for i, q in enumerate(self.seq(m.get("ignore", []), "detector.ignore",
                                                      min_len=0)))
        # a score is at most 1, so a threshold of 1 or more would keep no person at all
        confidence = self.number(m.get("confidence", 0.25), "detector.confidence", 0, below=1)
        track = m.get("track_confidence")
        if track is not None:
            track = self.number(track, "detector.track_confidence", 0, below=1)
            if track > confidence:
                raise self.fail("detector.track_confidence",
                                f"expected at most detector.confidence ({confidence:g}): the "
                                f"tracker keeps the boxes a person is found in, and more, got "
                                f"{track:g}")
        return DetectorSettings(
            model=self.text(m["model"], "detector.model"),
            person_classes=tuple(
                self.integer(c, f"detector.person_classes[{i}]", 0) for i, c in enumerate(classes)
            ),
            confidence=confidence,
            track_confidence=track,
            imgsz=self.integer(m.get("imgsz", 640), "detector.imgsz", 32, MAX_IMGSZ),
            ignore=ignore,
            trust=trust,
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
                weight_g=self.number(m["weight_g"], f"{key}.weight_g", 0, strict=True,
                                     high=MAX_GRAMS),
                weight_sd_g=self.number(m["weight_sd_g"], f"{key}.weight_sd_g", 0,
                                        high=MAX_GRAMS),
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
                pm, pid, sku, units = self.plate(praw, pkey, "polygon", skus, plate_ids)
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
    """What a value is, for a message: never longer than a few dozen characters."""
    if raw is None:
        return "nothing"
    if isinstance(raw, (dict, list)):
        return f"a {type(raw).__name__} of {len(raw)}"
    if isinstance(raw, int) and not isinstance(raw, bool) and abs(raw) > 10**15:
        return f"an integer of {len(str(abs(raw)))} digits"
    text = repr(raw)
    return text if len(text) <= 60 else text[:57] + "..."


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
