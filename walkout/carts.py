"""Carts and receipts, durable and issued exactly once.

:class:`Carts` holds one virtual cart per shopper. Every change is first appended to the
**ledger** (``cart_ledger.jsonl``: one JSON object a line with a sequence number, flushed and
fsynced before the change counts), then applied. Operations: ``open`` (a shopper entered, or
appeared inside the store), ``add`` (a cart event; negative qty is a put-back), ``move`` (an
item given to the wrong shopper before their identities were repaired), ``flag``,
``unflag`` (the reason for a flag went away: the doubtful item moved to another cart) and
``close`` (the shopper left, or was lost for good: the receipt is issued) and, last of all,
``end`` (the run finished and wrote its other outputs: the ledger is sealed, and
``walkout batch`` does not run it again).

A receipt lists the cart's positive quantities priced from the catalogue, with its total
rounded to cents, and the flags raised on the way (``ambiguous``, ``lost_track``,
``unexplained_weight_change``). Receipt ids are issue numbers (``R0001``, ...). Each time one is
issued, ``receipts.json`` is rewritten whole, atomically (temp file + rename), so it always
holds every receipt issued so far, once.

**Re-running after a crash.** The pipeline is deterministic, so a rerun with the same output
folder replays the same operations. The ledger already on disk is read first (a torn last
line, from a kill mid-write, is cut off); replayed operations that are already in it are
checked against it and not written again, and the rest are appended. ``receipts.json`` is
left as it is while the rerun replays, rebuilt once it passes the ledger's end, and ends
byte-identical to an uninterrupted run's: nothing lost, nothing twice. A ledger that
disagrees with the replay (another clip, other settings), or goes on past the rerun's end,
is an error, never silently mixed. Two runs never write one ledger at once: the first holds
a lock on the folder.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from .config import StoreConfig
from .errors import InputError
from .io import write_json_atomic
from .review import amend, append_line, is_review_line, ledger_lock, read_ledger, repair_tail
from .review import threshold as review_threshold
from .types import CartEvent, Receipt, ReceiptLine


class Ledger:
    """Append-only JSON lines with sequence numbers; resumable (see the module doc).

    One run per folder: the ledger holds an exclusive lock (``.walkout.lock`` beside it)
    from opening to :meth:`close`, and a second run that tries to open it fails with one
    line instead of writing every operation twice."""

    LOCK = ".walkout.lock"

    def __init__(self, path: str | Path | None) -> None:
        self.path = None if path is None else Path(path)
        self.seq = 0
        self._old: list[str] = []
        self._reviewed = False   # the ledger on disk holds a reviewer's decisions
        self._fh = self._lock = None
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = _lock_folder(self.path.parent / self.LOCK)
        if self.path.exists():
            data = self.path.read_bytes()
            keep = data[: data.rfind(b"\n") + 1]  # drop a torn last line
            try:
                lines = keep.decode("utf-8").splitlines()
            except UnicodeDecodeError as exc:
                self.close_quietly()
                line = keep.count(b"\n", 0, exc.start) + 1
                raise InputError(f"{self.path}: line {line}: not UTF-8 text (expected the "
                                 "JSON lines of a walkout cart ledger; it is damaged: move it "
                                 "away or use another --out)") from None
            # a reviewer's decisions (walkout.review) are not the run's to replay
            self._old = [x for x in lines if not is_review_line(x)]
            self._reviewed = len(self._old) != len(lines)
            if len(keep) != len(data):
                with ledger_lock(self.path.parent):
                    repair_tail(self.path)
        self._fh = self.path.open("a", encoding="utf-8")
        self._size = self.path.stat().st_size   # the bytes this run knows of

    @property
    def replaying(self) -> bool:
        """The last operation was already in the ledger on disk (a rerun catching up)."""
        return 0 < self.seq <= len(self._old)

    def append(self, record: dict) -> None:
        self.seq += 1
        line = json.dumps({"seq": self.seq, **record}, sort_keys=True)
        if self.seq <= len(self._old):
            if self._old[self.seq - 1] != line:
                raise InputError(f"{self.path}: line {self.seq}: the ledger already there "
                                 "records another run (expected the same operations; "
                                 "use a new --out folder)")
            return
        if self._fh is not None:
            # a reviewer may append to the same ledger (walkout.review): whole lines, each
            # under the ledger's lock
            with ledger_lock(self.path.parent):
                append_line(self.path, {"seq": self.seq, **record})
            self._size += len(line.encode("utf-8")) + 1

    def foreign(self) -> bool:
        """Whether the ledger holds lines that are not this run's (a reviewer's)."""
        return self.path is not None and self.path.is_file() \
            and (self._reviewed or self.path.stat().st_size != self._size)

    def check_end(self) -> None:
        """The run has made its last change: every line already on disk must have been
        replayed but the ``end`` line (a ledger that goes on past this run records another,
        longer run). Call before writing the run's other outputs."""
        left = len(self._old) - self.seq
        if left > 1 or (left == 1 and not is_end_line(self._old[-1])):
            self.close_quietly()
            raise InputError(f"{self.path}: line {self.seq + 1}: the ledger already there "
                             f"records {left} more operation(s) than this run made (expected "
                             "the same operations; use a new --out folder)")

    def close(self, end: dict | None = None) -> None:
        """The end of the run, after its other outputs are written: the ``end`` line (its
        ``end`` fields: what the run saw) seals the ledger, then the lock goes."""
        self.check_end()
        if end is not None:
            self.append({"op": "end", **end})
        self.close_quietly()

    def close_quietly(self) -> None:
        """Close the file and let the folder go, checking nothing (a failed run)."""
        for fh in (self._fh, self._lock):
            if fh is not None:
                fh.close()
        self._fh = self._lock = None


def is_end_line(line: str) -> bool:
    return '"op": "end"' in line and json.loads(line).get("op") == "end"


def sealed(folder: str | Path) -> bool:
    """Whether the run in ``folder`` finished: its ledger's last line of the run (a
    reviewer's lines may follow it) is ``end``, written after every other output."""
    path = Path(folder) / "cart_ledger.jsonl"
    try:
        data = path.read_bytes()
    except OSError:
        return False
    for raw in reversed(data[: data.rfind(b"\n") + 1].splitlines()):
        try:
            line = raw.decode("utf-8")
            if not is_review_line(line):
                return is_end_line(line)
        except ValueError:  # not UTF-8, not JSON: a damaged ledger is not a finished run
            return False
    return False


def _lock_folder(path: Path):
    """An exclusive lock on ``path``, held while the returned file is open; InputError when
    another process holds it."""
    import fcntl

    fh = path.open("a")
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.close()
        raise InputError(f"{path.parent}: another walkout run is writing into this folder "
                         "(expected one run per folder: wait for it to end, or use another "
                         "--out)") from None
    return fh


class Carts:
    def __init__(self, store: StoreConfig, ledger: str | Path | None = None,
                 receipts: str | Path | None = None) -> None:
        self.products = store.products
        self.ledger = Ledger(ledger)
        self.receipts_path = None if receipts is None else Path(receipts)
        self._carts: dict[str, Counter] = {}
        self._entered: dict[str, float] = {}
        self._flags: dict[str, list[str]] = {}
        self.receipts: list[Receipt] = []

    # ---- queries ---------------------------------------------------------------------------
    def is_open(self, shopper: str) -> bool:
        return shopper in self._carts

    def items(self, shopper: str) -> Counter:
        return self._carts.get(shopper, Counter())

    def open_carts(self) -> dict[str, dict[str, int]]:
        return {s: {k: q for k, q in c.items() if q > 0} for s, c in self._carts.items()}

    def flags(self, shopper: str) -> list[str]:
        return list(self._flags.get(shopper, ()))

    # ---- operations ------------------------------------------------------------------------
    def open(self, shopper: str, t: float, flags: tuple[str, ...] = ()) -> None:
        if shopper in self._carts:
            return
        self.ledger.append({"op": "open", "t": round(t, 4), "shopper_id": shopper,
                            "flags": list(flags)})
        self._carts[shopper] = Counter()
        self._entered[shopper] = t
        self._flags[shopper] = list(flags)

    def add(self, ev: CartEvent) -> None:
        if ev.shopper_id not in self._carts:
            raise KeyError(f"no open cart for shopper {ev.shopper_id}")
        self.ledger.append({"op": "add", "t": round(ev.t, 4), "shopper_id": ev.shopper_id,
                            "sku": ev.sku, "qty": ev.qty, "shelf_id": ev.shelf_id,
                            "confidence": ev.confidence,
                            "candidates": [[s, v] for s, v in ev.candidates]})
        self._carts[ev.shopper_id][ev.sku] += ev.qty

    def move(self, was: CartEvent, now: CartEvent) -> None:
        """An item decided for ``was.shopper_id`` belongs to ``now.shopper_id`` after all."""
        self.ledger.append({"op": "move", "t": round(was.t, 4), "from": was.shopper_id,
                            "to": now.shopper_id, "sku": was.sku, "qty": was.qty})
        self._carts[was.shopper_id][was.sku] -= was.qty
        self._carts[now.shopper_id][now.sku] += now.qty

    def flag(self, shopper: str, flag: str) -> None:
        if shopper not in self._carts or flag in self._flags[shopper]:
            return
        self.ledger.append({"op": "flag", "shopper_id": shopper, "flag": flag})
        self._flags[shopper].append(flag)

    def unflag(self, shopper: str, flag: str) -> None:
        if shopper not in self._carts or flag not in self._flags[shopper]:
            return
        self.ledger.append({"op": "unflag", "shopper_id": shopper, "flag": flag})
        self._flags[shopper].remove(flag)

    def close(self, shopper: str, t: float, flag: str | None = None) -> Receipt | None:
        """Issue the shopper's receipt (None when they have no open cart)."""
        if shopper not in self._carts:
            return None
        if flag:
            self.flag(shopper, flag)
        cart = self._carts.pop(shopper)
        lines = []
        for sku in sorted(cart):
            q = cart[sku]
            if q <= 0:
                continue
            prod = self.products.get(sku)
            lines.append(ReceiptLine(sku, prod.name if prod else sku, q,
                                     prod.price if prod else 0.0))
        total = round(sum(x.qty * x.unit_price for x in lines), 2)
        r = Receipt(f"R{len(self.receipts) + 1:04d}", shopper, round(self._entered.pop(shopper), 2),
                    round(t, 2), tuple(lines), total, tuple(self._flags.pop(shopper)))
        self.ledger.append({"op": "close", "t": round(t, 4), "shopper_id": shopper,
                            "receipt_id": r.receipt_id, "total": total})
        self.receipts.append(r)
        if not self.ledger.replaying:  # a rerun leaves the file as it is until it catches up
            self.write_receipts()
        return r

    def write_receipts(self) -> None:
        """Rewrite receipts.json: every receipt issued so far, as a reviewer's decisions in
        the ledger leave it (walkout.review; without any, as issued)."""
        if self.receipts_path is None:
            return
        issued = [r.to_dict() for r in self.receipts]
        if not self.ledger.foreign():
            write_json_atomic(self.receipts_path, {"receipts": issued})
            return
        folder = self.receipts_path.parent
        with ledger_lock(folder):
            shown = amend(issued, read_ledger(self.ledger.path), review_threshold(folder))
            write_json_atomic(self.receipts_path, {"receipts": shown})

    def close_ledger(self, end: dict | None = None) -> None:
        """Seal the ledger with an ``end`` line holding ``end`` (see :meth:`Ledger.close`)."""
        self.ledger.close(end)
