"""Weight-stream readers: every source becomes the same time-stamped per-plate samples.

A reader yields :class:`SampleBlock` s, a few hundred rows at a time, so memory stays flat
however long the stream. Times are seconds on the sensor clock and strictly increase within
a stream; grams are float64.

What a reader does with bad input (each case is counted in :class:`ReadStats`, and the
CLI prints the counts on stderr):

================================  ===============================================================
input                             handling
================================  ===============================================================
broken structure: a bad header,   **error** naming the file and line (the file is damaged;
wrong number of columns, text     nothing is written)
where a number belongs, bytes
that are not UTF-8, invalid JSON,
bad base64 or shape, an AiFi key
missing or out of its bounds
a NaN, inf or empty value, or     **filled**: the plate keeps its previous reading (a load cell
grams beyond ``MAX_GRAMS`` (a     holds its weight); counted as ``filled``. A plate with no
tonne)                            valid value yet stays NaN and the event detector ignores the
                                  windows it spoils
a time that is NaN or beyond      **skipped** row, counted as ``bad_time``
``MAX_TIME_S`` (the year 2286)
a time earlier than the previous  **skipped** row, counted as ``out_of_order``
the same time as the previous     **skipped** row, counted as ``duplicate``
a dropped sample or a gap         **kept**: the samples around it are real. Jumps longer than
                                  ``gap_s`` are counted as ``gaps``
a plate the store expects but     **warned** once, counted in ``missing_plates``; that plate
the stream lacks                  gives no events
(live) an unparseable line or an  **skipped**, counted as ``bad_lines`` / ``unknown_plates``
unknown plate id; a reading out   / ``out_of_range``; an unsigned datagram with a key:
of bounds (walkout.sensors.live)  ``unauthenticated``
================================  ===============================================================
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..io import cut, iter_text_lines, parse_json

BLOCK_ROWS = 600  # rows per block from files: 10 s at 60 Hz
# One plate of a shelf carries at most a few tens of kilograms; a tonne is beyond any, so a
# reading beyond it is a fault, held over like NaN (1e308 grams overflowed the detector).
MAX_GRAMS = 1e6
# Sample times are epoch seconds (AiFi) or seconds from 0 (clips); epoch seconds reach 1e10
# only in the year 2286, so a time beyond it is a fault, skipped like NaN (one such time
# made every later row "out of order").
MAX_TIME_S = 1e10
# AiFi bounds: a store has at most hundreds of gondolas; a load-cell ADC samples at most a
# few kHz; a batch holds seconds of samples and a gondola tens of shelves and plates.
MAX_GONDOLA = 10_000
MAX_RATE_HZ = 10_000.0
MAX_SHAPE_DIM = 10_000


@dataclass(frozen=True)
class SampleBlock:
    """Consecutive samples of a fixed set of plates: ``t (T,)`` seconds, increasing;
    ``grams (T, P)``, one column per plate id."""

    t: np.ndarray
    grams: np.ndarray
    plate_ids: tuple[str, ...]

    def __post_init__(self) -> None:
        if self.grams.shape != (len(self.t), len(self.plate_ids)):
            raise ValueError(f"SampleBlock: grams {self.grams.shape} does not match "
                             f"{len(self.t)} times x {len(self.plate_ids)} plates")

    def __len__(self) -> int:
        return len(self.t)


@dataclass
class ReadStats:
    """What a reader skipped, filled or noticed (see the module docstring)."""

    source: str
    rows: int = 0
    filled: int = 0
    bad_time: int = 0
    out_of_order: int = 0
    duplicate: int = 0
    gaps: int = 0
    bad_lines: int = 0
    unknown_plates: int = 0
    out_of_range: int = 0       # live: grams or a reading's time beyond their bounds
    unauthenticated: int = 0    # live: datagrams without a valid signature
    missing_plates: list[str] = field(default_factory=list)

    def problems(self) -> dict[str, int]:
        names = ("filled", "bad_time", "out_of_order", "duplicate", "gaps", "bad_lines",
                 "unknown_plates", "out_of_range", "unauthenticated")
        out = {k: getattr(self, k) for k in names if getattr(self, k)}
        if self.missing_plates:
            out["missing_plates"] = len(self.missing_plates)
        return out

    def summary(self) -> str:
        probs = self.problems()
        if not probs:
            return f"{self.source}: {self.rows} samples, clean"
        text = ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in probs.items())
        if self.missing_plates:
            text += f" ({', '.join(self.missing_plates[:5])}"
            text += ", ...)" if len(self.missing_plates) > 5 else ")"
        return f"{self.source}: {self.rows} samples; {text}"


class _Cleaner:
    """The shared rules for one stream: drop bad, repeated and backward times; hold a
    plate's last value over NaN; count gaps."""

    def __init__(self, stats: ReadStats, n_plates: int, gap_s: float) -> None:
        self.stats, self.gap_s = stats, gap_s
        self.last_t = -math.inf
        self.last = np.full(n_plates, np.nan)

    def clean(self, t: np.ndarray, grams: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        st = self.stats
        good_t = np.abs(t) <= MAX_TIME_S  # False for NaN
        st.bad_time += int((~good_t).sum())
        t, grams = t[good_t], grams[good_t]
        # keep a row only if its time is beyond every earlier kept time
        prev = np.maximum.accumulate(np.r_[self.last_t, t])[:-1]
        dup, back = t == prev, t < prev
        st.duplicate += int(dup.sum())
        st.out_of_order += int(back.sum())
        keep = ~(dup | back)
        t, grams = t[keep], np.array(grams[keep], np.float64)
        if not len(t):
            return t, grams
        st.gaps += int((np.diff(t if self.last_t == -math.inf else np.r_[self.last_t, t])
                        > self.gap_s).sum())
        bad = ~(np.abs(grams) <= MAX_GRAMS)  # NaN, inf or beyond a tonne
        if bad.any():
            st.filled += int(bad.sum())
            grams[bad] = np.nan
            grams = _hold(np.vstack([self.last, grams]))[1:]
        self.last_t = float(t[-1])
        self.last = grams[-1].copy()
        st.rows += len(t)
        return t, grams


def _hold(a: np.ndarray) -> np.ndarray:
    """Forward-fill NaN/inf down each column (a column stays NaN until its first value)."""
    ok = np.isfinite(a)
    idx = np.where(ok, np.arange(len(a))[:, None], 0)
    np.maximum.accumulate(idx, axis=0, out=idx)
    out = a[idx, np.arange(a.shape[1])[None, :]]
    out[~ok & ~np.isfinite(out)] = np.nan
    return out


# ---- (a) the clip format's weights.csv ------------------------------------------------------
def iter_weights_csv(path: str | Path, stats: ReadStats | None = None,
                     block_rows: int = BLOCK_ROWS, gap_s: float = 0.25
                     ) -> Iterator[SampleBlock]:
    """Stream a ``weights.csv`` (header ``t,<plate_id>,...``; one row a sample, grams)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: file not found (expected weights.csv)")
    stats = stats if stats is not None else ReadStats(str(path))
    lines = iter_text_lines(path, "weights.csv: t,<plate_id>,... and rows of numbers")
    header = [h.strip() for h in next(lines, (1, ""))[1].strip().split(",")]
    if len(header) < 2 or header[0] != "t" or not all(header[1:]):
        raise InputError(f"{path}: line 1: expected header 't,<plate_id>,<plate_id>,...'")
    if len(set(header)) != len(header):
        raise InputError(f"{path}: line 1: duplicate plate id in header")
    plates = tuple(header[1:])
    cleaner = _Cleaner(stats, len(plates), gap_s)
    rows: list[list[float]] = []
    for lineno, line in lines:
        if not line.strip():
            continue
        parts = line.rstrip("\r\n").split(",")
        if len(parts) != len(header):
            raise InputError(f"{path}: line {lineno}: expected {len(header)} columns "
                             f"(t and {len(plates)} plates), got {len(parts)}")
        try:
            rows.append([float(x) if x.strip() else math.nan for x in parts])
        except ValueError:
            raise InputError(f"{path}: line {lineno}: expected numbers, got "
                             f"{cut(line.strip())}") from None
        if len(rows) >= block_rows:
            yield from _emit(cleaner, rows, plates)
            rows = []
    yield from _emit(cleaner, rows, plates)


def _emit(cleaner: _Cleaner, rows: list[list[float]], plates: tuple[str, ...]
          ) -> Iterator[SampleBlock]:
    if not rows:
        return
    a = np.asarray(rows, np.float64)
    t, grams = cleaner.clean(a[:, 0], a[:, 1:])
    if len(t):
        yield SampleBlock(t, grams, plates)


# ---- (b) AiFi plate_data JSON lines ---------------------------------------------------------
def aifi_plate_id(gondola: int, shelf: int, plate: int) -> str:
    """AiFi's 1-based gondola, shelf and plate as walkout ids: ``g2s3p7``."""
    return f"g{gondola}s{shelf}p{plate}"


def aifi_shelf_id(gondola: int, shelf: int) -> str:
    return f"g{gondola}s{shelf}"


def iter_aifi(path: str | Path, stats: ReadStats | None = None, gap_s: float = 0.25,
              jitter_s: float = 0.1) -> Iterator[SampleBlock]:
    """Stream an AiFi ``plate_data`` export (one MongoDB document a line).

    Each document is a batch of ``n`` samples of one gondola: ``values.data`` float32 in
    base64 with ``values.shape = [n, shelves+1, plates+1]`` (row and column 0 are NaN
    padding, dropped), and the document ``timestamp`` (epoch s) is taken as the time of its
    last sample. Batches of a gondola are joined on a continuous clock at ``freq_samp``:
    a batch whose timestamp is within ``jitter_s`` of where the clock has got to continues
    it (document timestamps jitter by about 10 ms), a later one starts after a counted gap,
    and one that lies entirely in the past is skipped as out of order.

    Yields one block per document; blocks of different gondolas interleave, each with its
    own plate ids.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: file not found (expected AiFi plate_data JSON lines)")
    stats = stats if stats is not None else ReadStats(str(path))
    clocks: dict[int, tuple[float, tuple[str, ...], _Cleaner]] = {}
    for lineno, line in iter_text_lines(path, "AiFi plate_data JSON lines"):
        if not line.strip():
            continue
        gid, rate, ts, arr = _aifi_doc(line, f"{path}: line {lineno}")
        n, shelves, plates = arr.shape
        ids = tuple(aifi_plate_id(gid, s + 1, p + 1)
                    for s in range(shelves) for p in range(plates))
        if gid not in clocks:
            clocks[gid] = (ts - n / rate, ids, _Cleaner(stats, len(ids), gap_s))
        t_next, known, cleaner = clocks[gid]
        if ids != known:
            raise InputError(f"{path}: line {lineno}: gondola {gid} has shape "
                             f"{list(arr.shape[1:])}, earlier documents had "
                             f"{len(known)} plates")
        first = ts - (n - 1) / rate
        if abs(first - (t_next + 1 / rate)) <= jitter_s:
            first = t_next + 1 / rate  # continue the clock
        t = first + np.arange(n) / rate
        t, grams = cleaner.clean(t, arr.reshape(n, -1))
        if len(t):
            clocks[gid] = (float(t[-1]), ids, cleaner)
            yield SampleBlock(t, grams, ids)


_PD = "document.plate_data"


def _aifi_key(doc: dict, key: str, where: str):
    """The value at the dotted ``key`` of an AiFi document, or an error naming the key."""
    obj, path = doc, []
    for part in key.split("."):
        if not isinstance(obj, dict):
            raise InputError(f"{where}: {'.'.join(path)}: expected an object, got "
                             f"{cut(obj, 40)}")
        if part not in obj:
            raise InputError(f"{where}: missing key {key} (expected an AiFi plate_data "
                             "document)")
        obj = obj[part]
        path.append(part)
    return obj


def _aifi_number(v, key: str, where: str, integer: bool = False) -> float:
    """A number (or a string of one) at ``key``, finite, whole when ``integer``."""
    want = "an integer" if integer else "a number"
    try:
        if isinstance(v, bool) or not isinstance(v, (int, float, str)):
            raise ValueError
        x = float(v)
    except (ValueError, OverflowError):
        raise InputError(f"{where}: {key}: expected {want}, got {cut(v, 40)}") from None
    if not math.isfinite(x) or (integer and not x.is_integer()):
        raise InputError(f"{where}: {key}: expected {want}, got {cut(v, 40)}")
    return x


def _aifi_doc(line: str, where: str) -> tuple[int, float, float, np.ndarray]:
    doc = parse_json(line, where)
    if not isinstance(doc, dict):
        raise InputError(f"{where}: expected a JSON object (an AiFi plate_data document), "
                         f"got {type(doc).__name__}")
    key = f"{_PD}.plate_id.shelf_id.gondola_id.id"
    gid = _aifi_number(_aifi_key(doc, key, where), key, where, integer=True)
    if not 1 <= gid <= MAX_GONDOLA:
        raise InputError(f"{where}: {key}: expected a gondola id 1..{MAX_GONDOLA:,}, got "
                         f"{gid:g}")
    key = f"{_PD}.freq_samp"
    rate = _aifi_number(_aifi_key(doc, key, where), key, where)
    if not 0 < rate <= MAX_RATE_HZ:
        raise InputError(f"{where}: {key}: expected a rate in (0, {MAX_RATE_HZ:,.0f}] Hz, "
                         f"got {rate:g}")
    ts = _aifi_number(_aifi_key(doc, "timestamp", where), "timestamp", where)
    key = f"{_PD}.values.shape"
    shape = _aifi_key(doc, key, where)
    if not isinstance(shape, list) or len(shape) != 3:
        raise InputError(f"{where}: {key}: expected [samples, shelves + 1, plates + 1], got "
                         f"{cut(shape, 40)}")
    dims = [_aifi_number(x, key, where, integer=True) for x in shape]
    if not (dims[0] >= 1 and min(dims[1:]) >= 2 and max(dims) <= MAX_SHAPE_DIM):
        raise InputError(f"{where}: {key}: expected [samples, shelves + 1, plates + 1] "
                         f"with samples >= 1, the others >= 2 and each at most "
                         f"{MAX_SHAPE_DIM:,}, got {cut(shape, 40)}")
    shape = [int(x) for x in dims]
    key = f"{_PD}.values.data"
    data = _aifi_key(doc, key, where)
    try:
        if not isinstance(data, str):
            raise ValueError
        raw = base64.b64decode(data, validate=True)
    except (ValueError, binascii.Error):
        raise InputError(f"{where}: {key} is not base64 float32") from None
    if math.prod(shape) * 4 != len(raw):
        raise InputError(f"{where}: values.shape {shape} does not match {len(raw)} bytes "
                         "of float32")
    arr = np.frombuffer(raw, dtype="<f4").reshape(shape)[:, 1:, 1:].astype(np.float64)
    return int(gid), rate, ts, arr


@dataclass(frozen=True)
class AifiGondola:
    """All samples of one gondola: ``t (T,)`` epoch seconds, ``grams (T, shelves, plates)``.

    Shelf ``s`` and plate ``p`` (1-based in AiFi's ids) are ``grams[:, s - 1, p - 1]``.
    """

    gondola_id: int
    t: np.ndarray
    grams: np.ndarray
    rate_hz: float


def read_aifi_plate_data(path: str | Path) -> dict[int, AifiGondola]:
    """Read a whole AiFi ``plate_data`` export into memory, one array per gondola (for
    calibration and plots; the pipeline streams with :func:`iter_aifi`)."""
    parts: dict[int, list[SampleBlock]] = {}
    for block in iter_aifi(path):
        gid = int(block.plate_ids[0][1:].split("s")[0])
        parts.setdefault(gid, []).append(block)
    out = {}
    for gid, blocks in parts.items():
        last = blocks[0].plate_ids[-1]
        shelves, plates = (int(x) for x in last.split("s")[1].split("p"))
        t = np.concatenate([b.t for b in blocks])
        grams = np.concatenate([b.grams for b in blocks]).reshape(len(t), shelves, plates)
        rate = 1.0 / float(np.median(np.diff(t))) if len(t) > 1 else 60.0
        out[gid] = AifiGondola(gid, t, grams, round(rate, 3))
    return out


def iter_weights(path: str | Path, fmt: str | None = None, stats: ReadStats | None = None
                 ) -> Iterator[SampleBlock]:
    """A file by format: ``csv`` (weights.csv) or ``aifi`` (plate_data JSON lines); by
    default from the suffix (``.jsonl``/``.json`` is AiFi)."""
    path = Path(path)
    if fmt is None:
        fmt = "aifi" if path.suffix in (".jsonl", ".json") else "csv"
    if fmt == "csv":
        return iter_weights_csv(path, stats)
    if fmt == "aifi":
        return iter_aifi(path, stats)
    raise InputError(f"{path}: unknown weights format {fmt!r} (expected csv or aifi)")


def time_span(blocks: Iterable[SampleBlock]) -> tuple[float, float]:
    """The first and last sample time of a stream, reading it all: a file read this way
    before a run has every malformed line found before any work starts. (nan, nan) for a
    stream without samples."""
    first, last = math.inf, -math.inf
    for block in blocks:  # blocks of several gondolas interleave, each in time order
        first, last = min(first, float(block.t[0])), max(last, float(block.t[-1]))
    return (first, last) if first <= last else (math.nan, math.nan)


def check_plates(blocks: Iterable[SampleBlock], expected: Iterable[str], stats: ReadStats
                 ) -> Iterator[SampleBlock]:
    """Pass blocks through, recording once in ``stats.missing_plates`` the expected plates
    that the stream never carries (judged on the first block of each plate set)."""
    want = list(expected)
    seen: set[str] = set()
    for block in blocks:
        if block.plate_ids[0] not in seen:
            seen.update(block.plate_ids)
        yield block
    stats.missing_plates.extend(p for p in want if p not in seen)
