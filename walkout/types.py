"""The data types that cross stage boundaries.

Each stage of the line (detect -> track -> zones -> fuse -> carts) takes one of these and
returns the next. They are frozen: a stage never edits its input. Units are in the field
names or the docstrings: pixels, seconds (one clock for video and sensors) and grams.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Frame:
    """One camera frame.

    Attributes:
        index: 0-based frame number in the source.
        t: time in seconds on the pipeline clock (``index / fps + start`` for files).
        image: ``(H, W, 3) uint8`` BGR image.
    """

    index: int
    t: float
    image: np.ndarray

    def __post_init__(self) -> None:
        img = self.image
        if not isinstance(img, np.ndarray) or img.ndim != 3 or img.shape[2] != 3:
            shape = getattr(img, "shape", type(img).__name__)
            raise ValueError(f"Frame.image: expected an (H, W, 3) array, got {shape}")
        if img.dtype != np.uint8:
            raise ValueError(f"Frame.image: expected dtype uint8, got {img.dtype}")

    @property
    def height(self) -> int:
        return int(self.image.shape[0])

    @property
    def width(self) -> int:
        return int(self.image.shape[1])


def _as_array(value, dtype, name: str) -> np.ndarray:
    arr = np.asarray(value, dtype=dtype)
    if arr.ndim == 0:
        raise ValueError(f"Detections.{name}: expected an array, got a scalar")
    return arr


@dataclass(frozen=True)
class Detections:
    """Columnar detections of one frame (supervision-style).

    Attributes:
        xyxy: ``(N, 4) float32`` boxes in pixels, ``x1, y1, x2, y2``.
        confidence: ``(N,) float32`` scores in ``[0, 1]``.
        class_id: ``(N,) int64`` model class ids.
        tracker_id: ``(N,) int64`` track ids, or ``None`` before tracking.
        data: optional extra per-detection columns, each ``(N, ...)``; for example the
            index of the source detection that a track was updated with.

    Indexing with an int, slice, integer array or boolean mask returns a new
    ``Detections`` holding the selected rows.
    """

    xyxy: np.ndarray
    confidence: np.ndarray
    class_id: np.ndarray
    tracker_id: np.ndarray | None = None
    data: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        xyxy = _as_array(self.xyxy, np.float32, "xyxy")
        if xyxy.size == 0:
            xyxy = xyxy.reshape(0, 4)
        if xyxy.ndim != 2 or xyxy.shape[1] != 4:
            raise ValueError(f"Detections.xyxy: expected shape (N, 4), got {xyxy.shape}")
        n = xyxy.shape[0]
        object.__setattr__(self, "xyxy", xyxy)
        columns = {
            "confidence": (self.confidence, np.float32),
            "class_id": (self.class_id, np.int64),
        }
        if self.tracker_id is not None:
            columns["tracker_id"] = (self.tracker_id, np.int64)
        for name, (value, dtype) in columns.items():
            arr = _as_array(value, dtype, name)
            if arr.size == 0:
                arr = arr.reshape(0)
            if arr.shape != (n,):
                raise ValueError(f"Detections.{name}: expected shape ({n},), got {arr.shape}")
            object.__setattr__(self, name, arr)
        data = {}
        for key, value in self.data.items():
            arr = np.asarray(value)
            if arr.ndim == 0 or arr.shape[0] != n:
                raise ValueError(
                    f"Detections.data[{key!r}]: expected shape ({n}, ...), got {arr.shape}"
                )
            data[key] = arr
        object.__setattr__(self, "data", data)

    @classmethod
    def _trusted(cls, xyxy: np.ndarray, confidence: np.ndarray, class_id: np.ndarray,
                 tracker_id: np.ndarray | None = None, data: dict | None = None
                 ) -> Detections:
        """Build from arrays already of the right dtypes and shapes, skipping the checks
        (for stages that made them, where the checks would cost more than the work)."""
        obj = object.__new__(cls)
        for name, value in (("xyxy", xyxy), ("confidence", confidence),
                            ("class_id", class_id), ("tracker_id", tracker_id),
                            ("data", {} if data is None else data)):
            object.__setattr__(obj, name, value)
        return obj

    @classmethod
    def empty(cls, tracked: bool = False) -> Detections:
        """No detections; with ``tracked=True`` it carries an empty ``tracker_id``."""
        return cls(
            xyxy=np.zeros((0, 4), np.float32),
            confidence=np.zeros(0, np.float32),
            class_id=np.zeros(0, np.int64),
            tracker_id=np.zeros(0, np.int64) if tracked else None,
        )

    def __len__(self) -> int:
        return int(self.xyxy.shape[0])

    def __getitem__(self, index) -> Detections:
        if isinstance(index, (int, np.integer)):
            index = [int(index)]
        return Detections(
            xyxy=self.xyxy[index],
            confidence=self.confidence[index],
            class_id=self.class_id[index],
            tracker_id=None if self.tracker_id is None else self.tracker_id[index],
            data={k: v[index] for k, v in self.data.items()},
        )

    @property
    def xywh(self) -> np.ndarray:
        """``(N, 4) float32`` boxes as top-left x, y, width, height (MOTChallenge)."""
        return xyxy_to_tlwh(self.xyxy)


def xyxy_to_tlwh(xyxy: np.ndarray) -> np.ndarray:
    """``(N, 4)`` corners to top-left + size."""
    xyxy = np.asarray(xyxy, np.float32).reshape(-1, 4)
    out = xyxy.copy()
    out[:, 2:] = xyxy[:, 2:] - xyxy[:, :2]
    return out


def tlwh_to_xyxy(tlwh: np.ndarray) -> np.ndarray:
    """``(N, 4)`` top-left + size to corners."""
    tlwh = np.asarray(tlwh, np.float32).reshape(-1, 4)
    out = tlwh.copy()
    out[:, 2:] = tlwh[:, :2] + tlwh[:, 2:]
    return out


@dataclass(frozen=True)
class WeightEvent:
    """One settled step change on a shelf.

    Attributes:
        shelf_id: the shelf whose plates changed.
        t_start, t_end: seconds; the last settled sample before and the first after.
        delta_g: grams, the change of the shelf total; negative is a removal.
        plate_deltas_g: grams per plate id, the change of each plate.
        noise_g: grams, the noise level (standard deviation) around the step.
        t_change: seconds, the moment of the lift or drop (inside ``[t_start, t_end]``):
            the change point of the plate that changed most, if it could be timed, else the
            middle of the event.
        plate_t_change: per plate whose change could be timed, its least-squares change
            point (:func:`walkout.sensors.steps.change_points`).
        t_detected: seconds, the stream time at which the event was emitted.
        plate_steps: per plate whose change came in several clear steps (hands a second
            apart, with no still moment between for the shelf to settle): ``((t, grams
            after the step), ...)``, grams from before the event; the last is the plate's
            change.
    """

    shelf_id: str
    t_start: float
    t_end: float
    delta_g: float
    plate_deltas_g: dict[str, float]
    noise_g: float
    t_change: float | None = None
    plate_t_change: dict[str, float] | None = None
    t_detected: float | None = None
    plate_steps: dict[str, tuple[tuple[float, float], ...]] | None = None


UNEXPLAINED = "unexplained"  # the sku of an ItemEvent that no product explains


@dataclass(frozen=True)
class ItemEvent:
    """A weight event identified as products.

    ``qty > 0`` means taken from the shelf, ``qty < 0`` put back. ``alternatives`` ranks
    other explanations as ``(sku, qty, confidence)``. A weight change that no product
    explains has ``sku == UNEXPLAINED``, ``qty == 0`` and confidence 0; it is never
    passed off as a guess. ``delta_g`` is the part of the shelf's change this event
    accounts for, and ``plates`` the plates it happened on.
    """

    t: float
    shelf_id: str
    sku: str
    qty: int
    confidence: float
    alternatives: tuple[tuple[str, int, float], ...] = ()
    delta_g: float = 0.0
    plates: tuple[str, ...] = ()

    @property
    def unexplained(self) -> bool:
        return self.sku == UNEXPLAINED


@dataclass(frozen=True)
class CartEvent:
    """An item event attributed to a shopper.

    ``candidates`` ranks the shoppers considered as ``(shopper_id, score)``.
    """

    t: float
    shopper_id: str
    sku: str
    qty: int
    confidence: float
    candidates: tuple[tuple[str, float], ...] = ()
    shelf_id: str = ""


@dataclass(frozen=True)
class ReceiptLine:
    sku: str
    name: str
    qty: int
    unit_price: float


@dataclass(frozen=True)
class Receipt:
    """What a shopper is charged for on leaving. Times are seconds; prices in store currency."""

    receipt_id: str
    shopper_id: str
    entered_t: float
    exited_t: float
    lines: tuple[ReceiptLine, ...]
    total: float
    flags: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return {
            "receipt_id": self.receipt_id,
            "shopper_id": self.shopper_id,
            "entered_t": self.entered_t,
            "exited_t": self.exited_t,
            "lines": [
                {"sku": x.sku, "name": x.name, "qty": x.qty, "unit_price": x.unit_price}
                for x in self.lines
            ],
            "total": self.total,
            "flags": list(self.flags),
        }
