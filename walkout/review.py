"""Human review of doubtful receipts: the queue, the decisions, and the amended receipts.

A run flags a receipt for a person to look at (``ambiguous``, ``lost_track``,
``unexplained_weight_change``). This module turns a run's output folder into a **review
queue** and records what a reviewer decides, without ever rewriting what the run wrote:

- **Items to review** (:func:`review_items`) are read from the cart ledger and
  ``receipts.json``. Each item a receipt holds that fusion decided with a confidence under
  the run's ``ambiguous_below`` (or that it moved between shoppers) is one item, ``i<seq>``
  after the ledger line that added it, while the run issued that receipt flagged
  ``ambiguous`` (fusion withdraws the flag once it settles every doubt of a cart, as when
  the shopper clearly puts the item back); each receipt flagged for another reason is one more,
  ``r<receipt id>``. Only receipts already issued are reviewed (a decision is made before
  the charge is final, on what the shopper left with).
- **A decision** (:func:`decide`) is ``confirm`` (fusion was right), ``assign`` (the item
  goes to another shopper) or ``not_taken`` (nobody took it; for a receipt, only
  ``confirm``). It is one ledger line, ``{"op": "review", ...}``: who decided, when, what,
  and why. The same decision sent again adds nothing; a different one for the same item
  replaces it (the latest counts), as a line of its own.
- **Amended receipts** (:func:`amend`): ``receipts.json`` shows each receipt as the
  decisions so far leave it. A receipt a decision changed carries ``revision`` (1, 2, ...)
  and its earlier versions in ``history``, the run's original first; the others are as the
  run issued them, byte for byte. The quantities come from the ledger's adds and moves (a
  cart's whole history, put-backs included), so an item given to another shopper leaves
  one receipt and joins the other's.

**Durability.** The ledger is shared with a run that may still be writing it: every
append, the run's and a reviewer's, holds ``.ledger.lock`` (an exclusive ``flock``) and
writes whole lines, fsynced. A reviewer's line is written before ``receipts.json`` is
rebuilt from the ledger (atomically), and :func:`sync_receipts` rebuilds it on every read,
so a server killed between the two loses nothing and counts nothing twice. A run replaying
its ledger after a crash passes over review lines (:func:`is_review_line`).
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import WalkoutError
from .io import RUN_JSON, write_json_atomic

LEDGER = "cart_ledger.jsonl"
RECEIPTS = "receipts.json"
LOCK = ".ledger.lock"
ACTIONS = ("confirm", "assign", "not_taken")
# fusion's default threshold (walkout.fusion.params.FusionParams.ambiguous_below), for runs
# whose run.json does not say which one they used
DEFAULT_AMBIGUOUS_BELOW = 0.25
# the flags a review settles: ambiguous by deciding the doubtful items, the others by
# confirming the receipt
ITEM_FLAG = "ambiguous"


class ReviewError(WalkoutError):
    """A decision that cannot be taken; ``status`` is the HTTP status that says why."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


# ---- the ledger, shared by a run and a reviewer ------------------------------------------------
@contextmanager
def ledger_lock(folder: str | Path) -> Iterator[None]:
    """Hold the exclusive lock every append to ``folder``'s ledger takes (a run's and a
    reviewer's), for as long as the block runs."""
    path = Path(folder) / LOCK
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)   # closing drops the lock


def repair_tail(path: Path) -> None:
    """Cut a torn last line (a writer killed mid-line) off the ledger; call under the
    lock, before appending."""
    if not path.is_file():
        return
    with path.open("r+b") as fh:
        size = fh.seek(0, os.SEEK_END)
        if size == 0:
            return
        fh.seek(size - 1)
        if fh.read(1) == b"\n":
            return
        # find the last newline (ledgers are small enough to read backwards in one go)
        fh.seek(0)
        data = fh.read()
        fh.truncate(data.rfind(b"\n") + 1)


def append_line(path: Path, record: dict) -> None:
    """Append one JSON line and make it durable (call under :func:`ledger_lock`)."""
    repair_tail(path)
    line = (json.dumps(record, sort_keys=True) + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)


def is_review_line(line: str) -> bool:
    """Whether a ledger line is a reviewer's (a run replaying its ledger passes over them)."""
    return '"op": "review"' in line and json.loads(line).get("op") == "review"


def read_ledger(path: str | Path) -> list[dict]:
    """The whole lines of a cart ledger (a torn last line is left out), as objects; a line
    that is not a JSON object raises :class:`ReviewError` naming it."""
    path = Path(path)
    if not path.is_file():
        return []
    data = path.read_bytes()
    out = []
    for k, line in enumerate(data[: data.rfind(b"\n") + 1].splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except (ValueError, UnicodeDecodeError):
            raise ReviewError(f"{path}: line {k}: not JSON (expected the JSON lines of a "
                              "walkout cart ledger)", 500) from None
        if not isinstance(obj, dict):
            raise ReviewError(f"{path}: line {k}: expected a JSON object", 500)
        out.append(obj)
    return out


# ---- what the ledger says ----------------------------------------------------------------------
class _Book:
    """A run's ledger read back: each cart's items, where each went, and the decisions."""

    def __init__(self, ledger: list[dict], receipts: list[dict], threshold: float) -> None:
        self.receipts = {r["shopper_id"]: r for r in receipts}     # issued, originals
        self.shoppers: list[str] = []
        self.adds: dict[int, dict] = {}      # seq -> add op, with its current holder
        self.doubtful: set[int] = set()
        self.reviews: list[dict] = []
        for op in ledger:
            kind = op.get("op")
            if kind == "open":
                self.shoppers.append(str(op["shopper_id"]))
            elif kind == "add":
                self.adds[int(op["seq"])] = {**op, "holder": str(op["shopper_id"])}
                if float(op.get("confidence", 1.0)) < threshold:
                    self.doubtful.add(int(op["seq"]))
            elif kind == "move":
                seq = self._moved(op)
                if seq is not None:
                    self.adds[seq]["holder"] = str(op["to"])
                    self.doubtful.add(seq)   # fusion changed its mind: a close call
            elif kind == "review":
                self.reviews.append(op)

    def _moved(self, op: dict) -> int | None:
        """The add a ``move`` line moves: the latest with its time, sku and quantity that
        its ``from`` shopper holds."""
        for seq in sorted(self.adds, reverse=True):
            a = self.adds[seq]
            if (a["holder"] == str(op["from"]) and a["sku"] == op["sku"]
                    and a["qty"] == op["qty"] and abs(float(a["t"]) - float(op["t"])) < 1e-3):
                return seq
        return None

    def items(self) -> list[dict]:
        """The review queue, in the order things happened (see the module doc)."""
        out = []
        for seq in sorted(self.doubtful):
            a = self.adds[seq]
            r = self.receipts.get(a["holder"])
            if r is None:
                continue   # still in the store: reviewed once they leave
            if ITEM_FLAG not in r.get("flags", []):
                continue   # fusion settled its doubts later (a clear put-back, a move)
            out.append({"id": f"i{seq}", "kind": "item", "receipt_id": r["receipt_id"],
                        "shopper_id": a["holder"], "sku": a["sku"], "qty": a["qty"],
                        "t": a["t"], "shelf_id": a.get("shelf_id"),
                        "confidence": a.get("confidence"),
                        "candidates": a.get("candidates", [])})
        for r in self.receipts.values():
            other = [f for f in r.get("flags", []) if f != ITEM_FLAG]
            if other:
                out.append({"id": f"r{r['receipt_id']}", "kind": "receipt",
                            "receipt_id": r["receipt_id"], "shopper_id": r["shopper_id"],
                            "flags": other, "t": r["exited_t"]})
        return out


def threshold(folder: Path) -> float:
    """The ``ambiguous_below`` the run in ``folder`` used (its run.json), else fusion's default."""
    try:
        settings = json.loads((folder / RUN_JSON).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return DEFAULT_AMBIGUOUS_BELOW
    value = settings.get("ambiguous_below") if isinstance(settings, dict) else None
    return float(value) if isinstance(value, (int, float)) else DEFAULT_AMBIGUOUS_BELOW


def originals_of(receipts: list[dict]) -> list[dict]:
    """The receipts as the run issued them (a reviewed one keeps that in its history)."""
    return [r["history"][0] if r.get("history") else r for r in receipts]


def _latest(reviews: list[dict]) -> dict[str, dict]:
    """Each item's latest decision."""
    out: dict[str, dict] = {}
    for r in reviews:
        out[r["id"]] = r
    return out


# ---- receipts as the decisions leave them --------------------------------------------------------
def _state(book: _Book, decided: dict[str, dict]) -> dict[str, dict]:
    """Each issued receipt's lines, total and flags under the decisions ``decided``."""
    carts: dict[str, Counter] = {s: Counter() for s in book.receipts}
    names: dict[str, tuple[str, float]] = {}
    for r in book.receipts.values():
        for x in r["lines"]:
            names[x["sku"]] = (x["name"], x["unit_price"])
    for d in decided.values():
        if d.get("sku") is not None and d.get("unit_price") is not None:
            names.setdefault(d["sku"], (d.get("name", d["sku"]), d["unit_price"]))
    undecided: Counter = Counter()
    for seq, a in book.adds.items():
        d = decided.get(f"i{seq}")
        holder = a["holder"]
        if d is not None and d["action"] == "assign":
            holder = str(d["shopper_id"])
        elif d is not None and d["action"] == "not_taken":
            holder = None
        if holder in carts:
            carts[holder][a["sku"]] += a["qty"]
        if seq in book.doubtful and d is None:
            undecided[a["holder"]] += 1
    out = {}
    for sid, r in book.receipts.items():
        lines = [{"sku": sku, "name": names.get(sku, (sku, 0.0))[0], "qty": q,
                  "unit_price": names.get(sku, (sku, 0.0))[1]}
                 for sku, q in sorted(carts[sid].items()) if q > 0]
        flags = list(r.get("flags", []))
        if ITEM_FLAG in flags and undecided[sid] == 0 and _touched(book, decided, sid):
            flags.remove(ITEM_FLAG)
        if decided.get(f"r{r['receipt_id']}", {}).get("action") == "confirm":
            flags = [f for f in flags if f == ITEM_FLAG]
        out[sid] = {"lines": lines,
                    "total": round(sum(x["qty"] * x["unit_price"] for x in lines), 2),
                    "flags": flags}
    return out


def _touched(book: _Book, decided: dict[str, dict], shopper: str) -> bool:
    """Whether a decision concerns an item ``shopper``'s cart held or was given."""
    for key, d in decided.items():
        if key.startswith("i"):
            a = book.adds.get(int(key[1:]))
            if a is not None and (a["holder"] == shopper or str(d.get("shopper_id")) == shopper):
                return True
    return False


def amend(receipts: list[dict], ledger: list[dict], threshold: float) -> list[dict]:
    """``receipts`` (as the run issued them) as the ledger's review lines leave them (see
    the module doc); without review lines, ``receipts`` itself."""
    book = _Book(ledger, receipts, threshold)
    if not book.reviews:
        return receipts
    plain = _state(book, {})
    # a cart's quantities come from the ledger; where the run's own receipt says otherwise
    # (a ledger cut short), that receipt stands as issued
    versions = {sid: [r] for sid, r in book.receipts.items()}
    decided: dict[str, dict] = {}
    last = {sid: (plain[sid]["lines"], plain[sid]["total"], plain[sid]["flags"])
            for sid in book.receipts}
    for rev in book.reviews:
        decided[rev["id"]] = rev
        now = _state(book, decided)
        for sid, st in now.items():
            key = (st["lines"], st["total"], st["flags"])
            if key != last[sid]:
                last[sid] = key
                base = versions[sid][0]
                versions[sid].append({**{k: v for k, v in base.items() if k != "history"},
                                      **st, "revision": len(versions[sid]),
                                      "review": rev["id"], "reviewed_at": rev.get("at")})
    out = []
    for r in receipts:
        v = versions[r["shopper_id"]]
        out.append(r if len(v) == 1 else {**v[-1], "history": v[:-1]})
    return out


# ---- the folder ---------------------------------------------------------------------------------
def _read_receipts(folder: Path) -> list[dict]:
    path = folder / RECEIPTS
    if not path.is_file():
        return []
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        raise ReviewError(f"{path}: not JSON (expected walkout's receipts)", 500) from None
    return originals_of(obj.get("receipts", [])) if isinstance(obj, dict) else []


def sync_receipts(folder: str | Path) -> list[dict]:
    """``receipts.json`` rebuilt from the ledger's decisions where it lags behind them (a
    writer killed between the two); returns the receipts as they stand."""
    folder = Path(folder)
    with ledger_lock(folder):
        return _sync(folder)


def _sync(folder: Path) -> list[dict]:
    path = folder / RECEIPTS
    originals = _read_receipts(folder)
    shown = amend(originals, read_ledger(folder / LEDGER), threshold(folder))
    try:
        on_disk = json.loads(path.read_text(encoding="utf-8")).get("receipts")
    except (OSError, ValueError, AttributeError):
        on_disk = None
    if on_disk != shown and (originals or path.is_file()):
        write_json_atomic(path, {"receipts": shown})
    return shown


def review_items(folder: str | Path) -> list[dict]:
    """The folder's review queue, each item with its latest ``decision`` (or None)."""
    folder = Path(folder)
    ledger = read_ledger(folder / LEDGER)
    book = _Book(ledger, _read_receipts(folder), threshold(folder))
    latest = _latest(book.reviews)
    return [{**it, "decision": _public(latest.get(it["id"]))} for it in book.items()]


def shoppers(folder: str | Path) -> list[str]:
    """Every shopper the run saw (who an item can be given to)."""
    return [str(op["shopper_id"]) for op in read_ledger(Path(folder) / LEDGER)
            if op.get("op") == "open"]


def _public(d: dict | None) -> dict | None:
    if d is None:
        return None
    return {k: d.get(k) for k in ("action", "shopper_id", "by", "why", "at", "review")}


def decide(folder: str | Path, item_id: str, action: str, shopper_id: str | None = None,
           by: str = "", why: str = "") -> tuple[dict, bool]:
    """Record a reviewer's decision on item ``item_id`` (see the module doc) and rebuild
    ``receipts.json``. Returns the decision and whether it was new (False: the same
    decision was already the latest, nothing written). Raises :class:`ReviewError`."""
    folder = Path(folder)
    if action not in ACTIONS:
        raise ReviewError(f"action {action!r}: expected one of {', '.join(ACTIONS)}")
    with ledger_lock(folder):
        ledger_path = folder / LEDGER
        ledger = read_ledger(ledger_path)
        book = _Book(ledger, _read_receipts(folder), threshold(folder))
        item = next((it for it in book.items() if it["id"] == item_id), None)
        if item is None:
            raise ReviewError(f"no review item {item_id!r} in {folder} (expected an id from "
                              "GET /api/review)", 404)
        if item["kind"] == "receipt" and action != "confirm":
            raise ReviewError(f"{item_id}: a receipt flagged {', '.join(item['flags'])} can "
                              "only be confirmed (its items are reviewed one by one)")
        if action == "assign":
            if shopper_id is None or str(shopper_id) not in book.shoppers:
                raise ReviewError(f"{item_id}: shopper_id {shopper_id!r}: expected one of the "
                                  f"run's shoppers ({', '.join(book.shoppers)})")
            shopper_id = str(shopper_id)
        else:
            shopper_id = None
        last = _latest(book.reviews).get(item_id)
        if last is not None and last["action"] == action and last.get("shopper_id") == shopper_id:
            _sync(folder)
            return _public(last), False
        record = {"op": "review", "review": len(book.reviews) + 1, "id": item_id,
                  "action": action, "shopper_id": shopper_id, "receipt_id": item["receipt_id"],
                  "by": str(by)[:100], "why": str(why)[:500],
                  "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        if item["kind"] == "item":
            name, price = _price(book, item["sku"], folder)
            record.update({"sku": item["sku"], "qty": item["qty"], "from": item["shopper_id"],
                           "name": name, "unit_price": price})
        append_line(ledger_path, record)
        _sync(folder)
        return _public(record), True


def _price(book: _Book, sku: str, folder: Path) -> tuple[str, float]:
    """An item's name and unit price: from a receipt that lists it, else the run's store."""
    for r in book.receipts.values():
        for x in r["lines"]:
            if x["sku"] == sku:
                return x["name"], float(x["unit_price"])
    try:
        from .config import load_store

        store = json.loads((folder / RUN_JSON).read_text(encoding="utf-8")).get("store")
        prod = load_store(store).products.get(sku) if store else None
        if prod is not None:
            return prod.name, float(prod.price)
    except (OSError, ValueError, WalkoutError):
        pass
    return sku, 0.0
