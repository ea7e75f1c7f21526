"""Shelf weights: readers, event detection and item identification.

    blocks = iter_weights("clip/weights.csv")           # readers: CSV, AiFi, live lines
    detector = WeightEventDetector(shelves)             # settle-to-settle steps per shelf
    identifier = ItemIdentifier(planogram)              # steps -> products and quantities
    for block in blocks:
        for event in detector.update(block):
            items = identifier.identify(event)
    last = detector.flush()                             # end of stream: the last samples
"""

from .events import EventParams, WeightEventDetector, shelves_by_prefix
from .items import IdentifyParams, ItemIdentifier, Planogram
from .readers import (
    AifiGondola,
    ReadStats,
    SampleBlock,
    aifi_plate_id,
    aifi_shelf_id,
    check_plates,
    iter_aifi,
    iter_weights,
    iter_weights_csv,
    read_aifi_plate_data,
    time_span,
)

__all__ = [
    "AifiGondola",
    "EventParams",
    "IdentifyParams",
    "ItemIdentifier",
    "Planogram",
    "ReadStats",
    "SampleBlock",
    "WeightEventDetector",
    "aifi_plate_id",
    "aifi_shelf_id",
    "check_plates",
    "iter_aifi",
    "iter_weights",
    "iter_weights_csv",
    "read_aifi_plate_data",
    "shelves_by_prefix",
    "time_span",
]
