"""File formats shared by the stages: atomic writes and the labelled clip format.

A labelled clip is a folder::

    <clip>/store.yaml         the store (walkout.config)
    <clip>/video.mp4          the camera
    <clip>/weights.csv        t,<plate_id>,...  one row a sample, grams
    <clip>/gt/tracks.txt      MOTChallenge: frame,id,x,y,w,h,1,-1,-1,-1 (1-based frames)
    <clip>/gt/events.jsonl    {"t","shopper","shelf","plate","sku","qty"} per line
    <clip>/gt/receipts.json   {"receipts": [{"shopper","exited_t","items": {sku: qty}}]}

Readers raise :class:`InputError` naming the file and line on malformed input.
"""

from __future__ import annotations

import json
import math
import os
import reprlib
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from .errors import InputError


# ---- atomic writes -------------------------------------------------------------------------
def write_bytes_atomic(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temp file in the same folder, fsync, rename.

    A reader sees either the old file or the whole new one, never half of it.
    """
    _write_atomic(path, lambda fh: fh.write(data))


def write_text_atomic(path: str | Path, text: str) -> None:
    write_bytes_atomic(path, text.encode("utf-8"))


def write_lines_atomic(path: str | Path, lines: Iterable[str]) -> None:
    """:func:`write_text_atomic` for text made a line at a time, never held whole."""
    _write_atomic(path, lambda fh: fh.writelines(x.encode("utf-8") for x in lines))


def _write_atomic(path: str | Path, write) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json_atomic(path: str | Path, obj) -> None:
    write_text_atomic(path, json.dumps(obj, indent=2) + "\n")


# ---- output paths, checked before any work -------------------------------------------------
def _writable_folder(path: Path, what: str) -> None:
    """``path``, or else the nearest folder above it that exists, must be a folder we may
    write into."""
    for up in (path.absolute(), *path.absolute().parents):
        if not up.exists():
            continue
        if not up.is_dir():
            raise InputError(f"{what}: {up} is a file, so nothing can be written under it "
                             "(expected a folder)")
        if not os.access(up, os.W_OK | os.X_OK):
            raise InputError(f"{what}: {up} is not writable (expected a folder you may "
                             "write into)")
        return


def check_out_dir(path: str | Path, what: str = "--out") -> Path:
    """``path`` can be an output folder: one already there, or one that can be made.
    Raises :class:`InputError` (one line) otherwise; creates nothing."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise InputError(f"{what} {path}: a file is there (expected a folder for the "
                         "outputs)")
    _writable_folder(path, f"{what} {path}")
    return path


def check_out_file(path: str | Path, what: str = "--out") -> Path:
    """``path`` can be written as a file (replacing one already there, through a temporary
    file beside it). Raises :class:`InputError` (one line) otherwise; creates nothing."""
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{what} {path}: a folder is there (expected a file name)")
    _writable_folder(path.absolute().parent, f"{what} {path}")
    return path


# The outputs written through temporary files (``.<name>.<random>.tmp``, and the annotated
# video's ``.annotated.<random>.tmp.mp4``): a run killed mid-write leaves one behind.
TEMP_PATTERNS = (".receipts.json.*.tmp", ".events.jsonl.*.tmp", ".tracks.txt.*.tmp",
                 ".run.json.*.tmp", ".annotated.*.tmp.mp4")


def remove_stray_temps(folder: str | Path) -> int:
    """Delete the temporary files a killed run left in its output ``folder``; call only
    while holding the folder (its ledger's lock). Returns how many went."""
    gone = 0
    for pattern in TEMP_PATTERNS:
        for p in Path(folder).glob(pattern):
            p.unlink(missing_ok=True)
            gone += 1
    return gone


# ---- run.json: what a run's outputs depend on ------------------------------------------------
RUN_JSON = "run.json"


def read_run_settings(folder: str | Path) -> dict | None:
    """The settings a run wrote into its output folder, or None (no run.json, or not one
    walkout wrote)."""
    try:
        obj = json.loads((Path(folder) / RUN_JSON).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return obj if isinstance(obj, dict) else None


def run_settings(src: Path, store_path, weights, detector, fusion) -> dict:
    """What a run's results depend on, as written to ``run.json`` in its output folder."""
    return {"source": str(Path(src).resolve()), "store": str(Path(store_path).resolve()),
            "weights": None if weights is None else str(Path(weights).resolve()),
            "model": str(detector.path.resolve()), "backend": detector.backend,
            "ambiguous_below": None if fusion is None else fusion.ambiguous_below}


def claim_run_folder(folder: str | Path, settings: dict) -> None:
    """Refuse ``folder`` when it holds a run with other settings (its ledger would not
    match, and its outputs must not be mixed with ours); call before writing anything."""
    old = read_run_settings(folder)
    if old is not None and old != settings:
        diff = ", ".join(k for k in sorted(set(old) | set(settings))
                         if old.get(k) != settings.get(k))
        raise InputError(f"{Path(folder) / RUN_JSON}: this folder holds a run with another "
                         f"{diff} (expected the same input and settings; use another --out)")


# ---- the clip format -----------------------------------------------------------------------
@dataclass(frozen=True)
class ClipPaths:
    """Where each file of a labelled clip lives."""

    root: Path

    @property
    def store(self) -> Path:
        return self.root / "store.yaml"

    @property
    def video(self) -> Path:
        return self.root / "video.mp4"

    @property
    def weights(self) -> Path:
        return self.root / "weights.csv"

    @property
    def gt_tracks(self) -> Path:
        return self.root / "gt" / "tracks.txt"

    @property
    def gt_events(self) -> Path:
        return self.root / "gt" / "events.jsonl"

    @property
    def gt_receipts(self) -> Path:
        return self.root / "gt" / "receipts.json"


@dataclass(frozen=True)
class WeightTable:
    """Per-plate samples: ``t (T,)`` seconds, ``grams (T, P)``, ``plate_ids`` (P names)."""

    t: np.ndarray
    grams: np.ndarray
    plate_ids: tuple[str, ...]

    def column(self, plate_id: str) -> np.ndarray:
        return self.grams[:, self.plate_ids.index(plate_id)]


def format_weights_csv(t: np.ndarray, grams: np.ndarray, plate_ids: list[str]) -> str:
    """The clip's weights.csv text: time with 4 decimals, grams with 1 (a load cell's
    resolution; real plate noise is 0.5-2 g)."""
    rows = ["t," + ",".join(plate_ids)]
    for ti, row in zip(t, grams):
        rows.append(f"{ti:.4f}," + ",".join(f"{v:.1f}" for v in row))
    return "\n".join(rows) + "\n"


def read_weights_csv(path: str | Path) -> WeightTable:
    """Read a clip's weights.csv strictly: every row numeric, times increasing.

    (The tolerant streaming readers for live and messy data live in ``walkout.sensors``.)
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: file not found (expected weights.csv)")
    from .sensors.readers import MAX_GRAMS, MAX_TIME_S

    lines = iter_text_lines(path, "weights.csv: t,<plate_id>,... numbers")
    _, first = next(lines, (1, ""))
    header = first.strip().split(",")
    if len(header) < 2 or header[0] != "t":
        raise InputError(f"{path}: line 1: expected header 't,<plate_id>,...'")
    ts, rows = [], []
    for lineno, line in lines:  # strict: a fault is an error (the stream readers count it)
        parts = line.strip().split(",")
        if len(parts) != len(header):
            raise InputError(
                f"{path}: line {lineno}: expected {len(header)} columns, got {len(parts)}"
            )
        try:
            vals = [float(x) for x in parts]
        except ValueError:
            raise InputError(f"{path}: line {lineno}: expected numbers") from None
        if not all(math.isfinite(v) for v in vals):
            raise InputError(f"{path}: line {lineno}: expected finite numbers")
        if abs(vals[0]) > MAX_TIME_S or any(abs(v) > MAX_GRAMS for v in vals[1:]):
            raise InputError(f"{path}: line {lineno}: expected times within "
                             f"+-{MAX_TIME_S:g} s and grams within +-{MAX_GRAMS:g}")
        if ts and vals[0] <= ts[-1]:
            raise InputError(f"{path}: line {lineno}: time {vals[0]} does not increase")
        ts.append(vals[0])
        rows.append(vals[1:])
    grams = np.asarray(rows, np.float64).reshape(len(rows), len(header) - 1)
    return WeightTable(np.asarray(ts), grams, tuple(header[1:]))


# Bounds of a MOTChallenge row. 10,000,000 frames is 11.6 days at 10 fps (3.9 days at
# 30 fps), longer than any recording a store keeps in one file; a frame beyond it is damage
# (and a frame loop or an array up to it would hang or exhaust memory).
MAX_FRAME = 10_000_000
# A camera sensor is at most about 16,000 pixels wide; 100,000 leaves room for boxes that
# reach far off the frame, and anything beyond is not a box (1e300 made inf/nan tracks).
MAX_BOX_PX = 100_000.0
# Track ids are counters from 1 (or -1 for "no id"): a billion tracks is beyond any video.
MAX_TRACK_ID = 1_000_000_000


def cut(value, n: int = 60) -> str:
    """``value`` (a string, number or parsed JSON) as a repr of at most ``n`` characters:
    how a message quotes input, so that it never repeats unbounded file content."""
    quote = reprlib.Repr()
    quote.maxstring = quote.maxlong = quote.maxother = n
    r = quote.repr(value)
    return r if len(r) <= n else r[:n - 3] + "..."


def iter_text_lines(path: Path, expected: str) -> Iterator[tuple[int, str]]:
    """Yield ``(line number, line)`` for each line of the text file ``path`` (universal
    newlines, as ``open`` reads text); a line that is not UTF-8 is an :class:`InputError`
    naming its number and ``expected`` (what the file should hold)."""
    with path.open(encoding="utf-8", errors="surrogateescape") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.isascii():
                try:  # a byte that is not UTF-8 was escaped to a lone surrogate
                    line.encode("utf-8")
                except UnicodeEncodeError:
                    raise InputError(f"{path}: line {lineno}: not UTF-8 text (expected "
                                     f"{expected})") from None
            yield lineno, line


def parse_json(text: str, where: str, whole_file: bool = False):
    """``json.loads(text)``, any failure an :class:`InputError` ``<where>: invalid JSON
    (...)``; for a ``whole_file`` a syntax error names its line."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        at = f": line {exc.lineno}" if whole_file else ""
        raise InputError(f"{where}{at}: invalid JSON ({exc.msg})") from None
    except RecursionError:
        raise InputError(f"{where}: invalid JSON (nested too deeply)") from None
    except ValueError:  # an integer of more digits than Python converts (4300)
        raise InputError(f"{where}: invalid JSON (a number with too many digits)") from None


def _mot_rows(path: str | Path, what: str, min_cols: int, max_cols: int):
    """Yield ``(where, parts, values)`` for each non-blank line of a MOTChallenge-style file,
    after checking the column count, that every value is a finite number, and the bounds
    of a row (a whole frame 1..MAX_FRAME, an id within MAX_TRACK_ID, a box within
    MAX_BOX_PX)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: file not found (expected {what})")
    for lineno, line in iter_text_lines(path, f"{what}: frame,id,x,y,w,h,... numbers"):
        if not line.strip():
            continue
        where = f"{path}: line {lineno}"
        parts = line.strip().split(",")
        if not min_cols <= len(parts) <= max_cols:
            raise InputError(f"{where}: expected {min_cols}-{max_cols} columns "
                             f"frame,id,x,y,w,h,... (got {len(parts)})")
        vals = _finite_numbers(parts, where, line)
        frame, tid = vals[0], vals[1]
        if not (1 <= frame <= MAX_FRAME and frame.is_integer()):
            raise InputError(f"{where}: expected a 1-based integer frame up to "
                             f"{MAX_FRAME:,}, got {cut(parts[0], 20)}")
        if not (abs(tid) <= MAX_TRACK_ID and tid.is_integer()):
            raise InputError(f"{where}: expected an integer id within +-{MAX_TRACK_ID:,}, "
                             f"got {cut(parts[1], 20)}")
        if not all(abs(v) <= MAX_BOX_PX for v in vals[2:6]):
            raise InputError(f"{where}: expected a box x,y,w,h within +-{MAX_BOX_PX:,.0f} "
                             f"pixels, got {cut(','.join(parts[2:6]), 60)}")
        yield where, parts, vals + [-1.0] * (10 - len(vals))


def _finite_numbers(parts: list[str], where: str, line: str) -> list[float]:
    """The fields of a line as finite floats, or an error naming the line."""
    try:
        vals = [float(x) for x in parts]
    except ValueError:
        raise InputError(f"{where}: expected numbers, got {cut(line.strip())}") from None
    if all(map(math.isfinite, vals)):
        return vals
    raise InputError(f"{where}: expected finite numbers (found NaN or inf)")


def read_mot(path: str | Path) -> np.ndarray:
    """Read a MOTChallenge txt file into a ``(N, 10)`` float array (empty -> ``(0, 10)``)."""
    fast = _read_mot_uniform(path)
    if fast is not None:
        return fast
    rows = [vals for _, _, vals in _mot_rows(path, "a MOTChallenge txt file", 6, 10)]
    return np.asarray(rows, np.float64).reshape(-1, 10)


def _read_mot_uniform(path: str | Path) -> np.ndarray | None:
    """The common case in one vectorised parse: every line has the same 6-10 numeric, finite
    columns within the bounds of a row. Returns None otherwise, and the strict per-line
    reader names the bad line."""
    try:
        lines = Path(path).read_text(encoding="utf-8").split()
    except (OSError, UnicodeDecodeError):
        return None
    if not lines:
        return np.zeros((0, 10))
    cols = lines[0].count(",") + 1
    if not 6 <= cols <= 10 or any(ln.count(",") != cols - 1 for ln in lines):
        return None
    try:
        vals = np.array(",".join(lines).split(","), dtype=np.float64).reshape(-1, cols)
    except ValueError:
        return None
    frame, tid = vals[:, 0], vals[:, 1]
    ok = (np.isfinite(vals).all() and ((frame >= 1) & (frame <= MAX_FRAME)).all()
          and (np.abs(tid) <= MAX_TRACK_ID).all() and (np.abs(vals[:, 2:6]) <= MAX_BOX_PX).all()
          and (np.mod(vals[:, :2], 1) == 0).all())
    if not ok:
        return None
    return np.c_[vals, np.full((len(vals), 10 - cols), -1.0)]


def read_mot_detections(path: str | Path) -> np.ndarray:
    """Read MOTChallenge detections ``frame,id,x,y,w,h,score[,...]`` strictly.

    Every row must have 7 to 10 numeric, finite columns, a whole frame from 1 to
    :data:`MAX_FRAME`, an id within :data:`MAX_TRACK_ID`, a box within :data:`MAX_BOX_PX`
    with a positive width and height, and frames must not go backwards. Any other row is an
    error naming the file and the line (nothing is skipped silently). Blank lines are
    ignored. Returns ``(N, 10)``.
    """
    rows = []
    last_frame = 0.0
    for where, parts, vals in _mot_rows(path, "MOTChallenge detections", 7, 10):
        frame = vals[0]
        if vals[4] <= 0 or vals[5] <= 0:
            raise InputError(f"{where}: expected a positive width and height, got "
                             f"{cut(parts[4], 20)} x {cut(parts[5], 20)}")
        if frame < last_frame:
            raise InputError(f"{where}: frame {int(frame)} comes after frame "
                             f"{int(last_frame)} (expected frames in order)")
        last_frame = frame
        rows.append(vals)
    return np.asarray(rows, np.float64).reshape(-1, 10)


def mot_seqinfo(det_path: str | Path) -> dict | None:
    """The ``seqinfo.ini`` of a MOTChallenge sequence whose detections are ``det_path``
    (``SEQUENCE/det/det.txt`` in MOTChallenge's layout, the file in ``SEQUENCE``), as
    ``{"image_size": (width, height), "frame_rate": fps}``, or ``None`` where there is
    none. A malformed file is an :class:`InputError` naming it and the key."""
    import configparser

    folder = Path(det_path).resolve().parent
    path = (folder.parent if folder.name == "det" else folder) / "seqinfo.ini"
    if not path.is_file():
        return None
    ini = configparser.ConfigParser()
    try:
        ini.read_string(path.read_text(encoding="utf-8", errors="replace"))
    except configparser.Error as exc:
        raise InputError(f"{path}: not an ini file ({cut(str(exc).splitlines()[0])})") from None
    if not ini.has_section("Sequence"):
        raise InputError(f"{path}: expected a [Sequence] section")
    seq = ini["Sequence"]
    values = {}
    for key in ("imWidth", "imHeight", "frameRate"):
        text = seq.get(key)
        try:
            value = float(text)
        except (TypeError, ValueError):
            value = math.nan
        if not (math.isfinite(value) and value > 0):
            raise InputError(f"{path}: {key}: expected a positive number, got "
                             f"{cut(text, 20) if text is not None else 'nothing'}")
        values[key] = value
    return {"image_size": (values["imWidth"], values["imHeight"]),
            "frame_rate": values["frameRate"]}


def format_mot_row(frame: int, track_id: int, tlwh, score: float = 1.0) -> str:
    x, y, w, h = (float(v) for v in tlwh)
    return f"{frame},{track_id},{x:.2f},{y:.2f},{w:.2f},{h:.2f},{score:g},-1,-1,-1"


def mot_lines(rows) -> Iterator[str]:
    """MOTChallenge lines from ``(frame, shopper id, track id, tlwh)`` rows in frame order,
    one per shopper and frame. A track restarted on a shopper while the tracker still
    reported the old one (coasting on its prediction) shows them twice for a frame or two;
    the newer track's box, a detection, is kept."""
    frame, keep = None, {}
    for f, sid, tid, tlwh in rows:
        if f != frame:
            yield from (format_mot_row(frame, int(s), b) + "\n" for s, (_, b) in keep.items())
            frame, keep = f, {}
        if sid not in keep or tid > keep[sid][0]:
            keep[sid] = (tid, tlwh)
    yield from (format_mot_row(frame, int(s), b) + "\n" for s, (_, b) in keep.items())


def iter_jsonl(path: str | Path):
    """Yield ``(line_number, object)`` for each non-blank line of a JSON lines file; each
    line must be a JSON object."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: file not found (expected JSON lines)")
    for lineno, line in iter_text_lines(path, "JSON lines"):
        if not line.strip():
            continue
        obj = parse_json(line, f"{path}: line {lineno}")
        if not isinstance(obj, dict):
            raise InputError(f"{path}: line {lineno}: expected a JSON object")
        yield lineno, obj


def read_jsonl(path: str | Path) -> list[dict]:
    """Read JSON lines; each non-blank line must be an object."""
    return [obj for _, obj in iter_jsonl(path)]


def read_json(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: file not found (expected JSON)")
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        lineno = data.count(b"\n", 0, exc.start) + 1
        raise InputError(f"{path}: line {lineno}: not UTF-8 text (expected JSON)") from None
    obj = parse_json(text, str(path), whole_file=True)
    if not isinstance(obj, dict):
        raise InputError(f"{path}: expected a JSON object at the top level")
    return obj


_EVENT_TYPES = {"WeightEvent": "weight", "ItemEvent": "item", "CartEvent": "cart"}


def event_record(event) -> dict:
    """An event dataclass as one ``events.jsonl`` object: ``{"type": "weight" | "item" |
    "cart", ...its fields}``, grams and seconds rounded to 4 decimals."""

    def clean(v):
        if isinstance(v, float):
            return round(v, 4) if math.isfinite(v) else None
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [clean(x) for x in v]
        return v

    rec = {"type": _EVENT_TYPES[type(event).__name__]}
    rec.update({f.name: clean(getattr(event, f.name)) for f in fields(event)})
    return rec
