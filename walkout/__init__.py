"""walkout: a "Just Walk Out" checkout pipeline.

The public API is flat: ``import walkout as wo`` then ``wo.Detections``, ``wo.load_store``.
Importing walkout never imports torch or ultralytics; the detector loads them on first use.
"""

from .config import StoreConfig, dump_store, load_store
from .errors import ConfigError, InputError, WalkoutError
from .mot import MOTScores, evaluate_mot
from .track import SortTracker, Tracker, TrackerConfig, make_tracker
from .types import (
    CartEvent,
    Detections,
    Frame,
    ItemEvent,
    Receipt,
    ReceiptLine,
    WeightEvent,
    tlwh_to_xyxy,
    xyxy_to_tlwh,
)

__version__ = "0.1.0"

__all__ = [
    "CartEvent",
    "ConfigError",
    "Detections",
    "Frame",
    "InputError",
    "ItemEvent",
    "MOTScores",
    "Receipt",
    "ReceiptLine",
    "SortTracker",
    "StoreConfig",
    "Tracker",
    "TrackerConfig",
    "WalkoutError",
    "WeightEvent",
    "__version__",
    "dump_store",
    "evaluate_mot",
    "load_store",
    "make_tracker",
    "tlwh_to_xyxy",
    "xyxy_to_tlwh",
]
