"""Shelf weight streams.

For now this holds the reader of AiFi's ``plate_data`` JSON-lines export (the CPS-IoT 2020
Autonomous Checkout data), used to calibrate the simulator's load-cell noise.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import InputError


@dataclass(frozen=True)
class AifiGondola:
    """All samples of one gondola: ``t (T,)`` epoch seconds, ``grams (T, shelves, plates)``.

    Shelf ``s`` and plate ``p`` (1-based in AiFi's ids) are ``grams[:, s - 1, p - 1]``; the
    NaN padding of row and column 0 is dropped.
    """

    gondola_id: int
    t: np.ndarray
    grams: np.ndarray
    rate_hz: float


def read_aifi_plate_data(path: str | Path) -> dict[int, AifiGondola]:
    """Read an AiFi ``plate_data`` export: one MongoDB document a line.

    Each document holds a batch of samples of one gondola, ``values.shape = [n, shelves+1,
    plates+1]`` float32 in base64, with the document ``timestamp`` (epoch seconds) taken as
    the time of the batch's last sample. Batches are sorted by time; a batch whose
    shape differs from the gondola's first is an error naming the line.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: file not found (expected AiFi plate_data JSON lines)")
    batches: dict[int, list[tuple[float, np.ndarray, float]]] = {}
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            where = f"{path}: line {lineno}"
            try:
                doc = json.loads(line)
                pd = doc["document"]["plate_data"]
                gid = int(pd["plate_id"]["shelf_id"]["gondola_id"]["id"])
                rate = float(pd["freq_samp"])
                shape = [int(x) for x in pd["values"]["shape"]]
                raw = base64.b64decode(pd["values"]["data"], validate=True)
                ts = float(doc["timestamp"])
            except json.JSONDecodeError as exc:
                raise InputError(f"{where}: invalid JSON ({exc.msg})") from None
            except (KeyError, TypeError) as exc:
                raise InputError(f"{where}: missing key {exc} (expected an AiFi plate_data "
                                 "document)") from None
            except (ValueError, binascii.Error):
                raise InputError(f"{where}: values.data is not base64 float32") from None
            if len(shape) != 3 or np.prod(shape) * 4 != len(raw):
                raise InputError(f"{where}: values.shape {shape} does not match "
                                 f"{len(raw)} bytes of float32")
            arr = np.frombuffer(raw, dtype="<f4").reshape(shape)[:, 1:, 1:].astype(np.float64)
            batches.setdefault(gid, []).append((ts, arr, rate))
    out = {}
    for gid, items in batches.items():
        items.sort(key=lambda x: x[0])
        first = items[0][1].shape[1:]
        for ts, arr, _ in items:
            if arr.shape[1:] != first:
                raise InputError(f"{path}: gondola {gid}: batch at {ts} has shape "
                                 f"{arr.shape[1:]}, expected {first}")
        rate = items[0][2]
        times = [ts - (len(arr) - 1 - np.arange(len(arr))) / rate for ts, arr, _ in items]
        out[gid] = AifiGondola(gid, np.concatenate(times),
                               np.concatenate([a for _, a, _ in items]), rate)
    return out
