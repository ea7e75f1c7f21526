"""StoreConfig: one store.yaml describes a store, its camera, its shelves and its products.

Loading validates everything up front. Any problem raises :class:`ConfigError` with one
line naming the file, the key path (``shelves[2].plates[0].sku``) and what was expected.
Unknown keys are errors, so a typo never silently falls back to a default.

The schema (every key is documented in docs/store-yaml.md and commented in written files)::

    name: demo                      # optional free text
    camera: {width, height, fps, homography?, view?}
    sensors: {rate_hz?, clock_offset_s?}
    detector: {model, person_classes, confidence?, imgsz?, ignore?}
    catalogue: [{sku, name, weight_g, weight_sd_g, price}]
    shelves: [{id, gondola?, polygon, reach_zone, plates: [{id, sku, units?, polygon?}]}]
    zones: {entrance, exit}

The package: :mod:`.store` (the types and :func:`load_store`), :mod:`.validate` (reading a
raw YAML tree into them) and :mod:`.write` (:func:`dump_store`, a commented store.yaml).
"""

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
    load_store,
)
from .validate import polygon_area
from .write import KEY_COMMENTS, dump_store, dump_yaml

__all__ = [
    "KEY_COMMENTS",
    "Camera",
    "DetectorSettings",
    "Plate",
    "Polygon",
    "Product",
    "Sensors",
    "Shelf",
    "StoreConfig",
    "Zones",
    "dump_store",
    "dump_yaml",
    "load_store",
    "polygon_area",
]
