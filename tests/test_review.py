"""Review of doubtful receipts (walkout.review): the queue a run leaves, decisions as ledger
lines, amended receipts, and a run that shares its ledger with a reviewer."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from walkout.carts import Carts
from walkout.cli import main
from walkout.config import load_store
from walkout.review import ReviewError, decide, review_items, sync_receipts
from walkout.types import CartEvent

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def run_dir(doubtful_run, tmp_path) -> Path:
    out = tmp_path / "run"
    shutil.copytree(doubtful_run, out, ignore=shutil.ignore_patterns(".walkout.lock"))
    return out


def receipts(out: Path) -> dict[str, dict]:
    return {r["receipt_id"]: r for r in json.loads((out / "receipts.json").read_text())["receipts"]}


def lines(r: dict) -> dict[str, int]:
    return {x["sku"]: x["qty"] for x in r["lines"]}


def test_the_queue_lists_each_doubtful_item_with_its_candidates(run_dir):
    items = review_items(run_dir)
    assert [(i["id"], i["receipt_id"], i["shopper_id"], i["sku"]) for i in items] == [
        ("i4", "R0001", "1", "P06"), ("i6", "R0002", "2", "P05")]
    first = items[0]
    assert first["confidence"] < 0.9 and first["decision"] is None
    assert [c[0] for c in first["candidates"]] == ["1", "2"]
    assert first["candidates"][0][1] > first["candidates"][1][1]


def test_giving_an_item_to_another_shopper_amends_both_receipts(run_dir):
    before = receipts(run_dir)
    decision, new = decide(run_dir, "i4", "assign", "2", by="ana", why="her hand")
    assert new and decision["action"] == "assign" and decision["shopper_id"] == "2"
    after = receipts(run_dir)
    assert "P06" in lines(before["R0001"]) and "P06" not in lines(after["R0001"])
    assert lines(after["R0002"])["P06"] == 1
    paprika = next(x for x in before["R0001"]["lines"] if x["sku"] == "P06")
    assert after["R0001"]["total"] == pytest.approx(before["R0001"]["total"]
                                                    - paprika["unit_price"], abs=0.005)
    # R0001's one doubtful item is decided: no longer ambiguous; R0002 still holds one
    assert after["R0001"]["flags"] == [] and after["R0002"]["flags"] == ["ambiguous"]
    for rid in ("R0001", "R0002"):   # the run's receipt stays in the history
        assert after[rid]["revision"] == 1
        assert after[rid]["history"] == [before[rid]]
    ledger = (run_dir / "cart_ledger.jsonl").read_text().splitlines()
    last = json.loads(ledger[-1])
    assert last["op"] == "review" and last["id"] == "i4" and last["by"] == "ana"
    assert last["from"] == "1" and last["sku"] == "P06" and last["why"] == "her hand"


def test_the_same_decision_twice_counts_once(run_dir):
    decide(run_dir, "i6", "not_taken")
    ledger = (run_dir / "cart_ledger.jsonl").read_bytes()
    shown = (run_dir / "receipts.json").read_bytes()
    decision, new = decide(run_dir, "i6", "not_taken")
    assert not new and decision["action"] == "not_taken"
    assert (run_dir / "cart_ledger.jsonl").read_bytes() == ledger
    assert (run_dir / "receipts.json").read_bytes() == shown
    assert "P05" not in lines(receipts(run_dir)["R0002"])


def test_a_changed_mind_is_a_new_line_and_the_latest_counts(run_dir):
    decide(run_dir, "i6", "not_taken")
    decide(run_dir, "i6", "confirm")
    r = receipts(run_dir)["R0002"]
    assert lines(r)["P05"] == 1 and r["flags"] == [] and r["revision"] == 2
    assert [lines(h).get("P05") for h in r["history"]] == [1, None]
    assert [i["decision"]["action"] for i in review_items(run_dir) if i["id"] == "i6"] == \
        ["confirm"]


@pytest.mark.parametrize("args, status", [
    (("i99", "confirm"), 404),
    (("i4", "assign", "7"), 400),       # nobody of that id was in the store
    (("i4", "assign"), 400),            # to whom?
    (("i4", "eat"), 400),
])
def test_a_bad_decision_is_refused_and_writes_nothing(run_dir, args, status):
    ledger = (run_dir / "cart_ledger.jsonl").read_bytes()
    shown = (run_dir / "receipts.json").read_bytes()
    with pytest.raises(ReviewError) as err:
        decide(run_dir, *args)
    assert err.value.status == status and "\n" not in str(err.value)
    assert (run_dir / "cart_ledger.jsonl").read_bytes() == ledger
    assert (run_dir / "receipts.json").read_bytes() == shown


def test_a_decision_written_but_not_yet_shown_is_shown_on_the_next_read(run_dir):
    """A server killed between the ledger line and receipts.json loses nothing."""
    shown = (run_dir / "receipts.json").read_bytes()
    decide(run_dir, "i4", "not_taken")
    amended = (run_dir / "receipts.json").read_bytes()
    (run_dir / "receipts.json").write_bytes(shown)     # as if killed before the rewrite
    with (run_dir / "cart_ledger.jsonl").open("ab") as fh:
        fh.write(b'{"op": "review", "id": "i6", "act')   # and a torn line after it
    sync_receipts(run_dir)
    assert (run_dir / "receipts.json").read_bytes() == amended
    decide(run_dir, "i6", "confirm")   # the torn line is cut off before the next one
    text = (run_dir / "cart_ledger.jsonl").read_text()
    assert all(json.loads(x) for x in text.splitlines()) and '"act\n' not in text


def test_a_rerun_after_decisions_replays_and_keeps_them(run_dir):
    decide(run_dir, "i4", "assign", "2")
    shown = (run_dir / "receipts.json").read_bytes()
    ledger = (run_dir / "cart_ledger.jsonl").read_bytes()
    assert main(["-q", "run", str(ROOT / "sample_videos" / "pair"), "--out", str(run_dir),
                 "--ambiguous-below", "0.9"]) == 0
    assert (run_dir / "receipts.json").read_bytes() == shown
    assert (run_dir / "cart_ledger.jsonl").read_bytes() == ledger


def test_a_doubt_fusion_settled_before_the_receipt_is_not_queued(tmp_path):
    """Fusion withdraws a cart's ``ambiguous`` flag once it settles its doubtful pick (the
    shopper put that item back, clearly theirs): the receipt comes out unflagged, and the
    queue must not ask a person about it. A doubtful item on a receipt still flagged is."""
    store = load_store(ROOT / "sample_videos" / "pair" / "store.yaml")
    carts = Carts(store, tmp_path / "cart_ledger.jsonl", tmp_path / "receipts.json")
    for sid in ("1", "2"):
        carts.open(sid, 1.0)
        carts.add(CartEvent(3.0, sid, "P06", 1, 0.1, ((sid, 0.5), ("3", 0.45)), "G2S1"))
        carts.flag(sid, "ambiguous")
    carts.add(CartEvent(4.0, "1", "P06", -1, 1.0, (("1", 1.0),), "G2S1"))
    carts.unflag("1", "ambiguous")                  # the put-back settled shopper 1's pick
    carts.close("1", 5.0)
    carts.close("2", 6.0)
    carts.close_ledger()
    assert [(i["shopper_id"], i["sku"]) for i in review_items(tmp_path)] == [("2", "P06")]


def test_a_run_still_writing_keeps_a_decision_made_meanwhile(tmp_path):
    """The reviewer decides on the first receipt while the run is still open; the run's
    next receipt rewrites receipts.json with that decision in it."""
    store = load_store(ROOT / "sample_videos" / "pair" / "store.yaml")
    (tmp_path / "run.json").write_text(json.dumps({"ambiguous_below": 0.5}))
    carts = Carts(store, tmp_path / "cart_ledger.jsonl", tmp_path / "receipts.json")
    carts.open("1", 1.0)
    carts.open("2", 2.0)
    carts.add(CartEvent(3.0, "1", "P06", 1, 0.2, (("1", 0.5), ("2", 0.45)), "G2S1"))
    carts.flag("1", "ambiguous")
    carts.close("1", 5.0)
    assert review_items(tmp_path)[0]["id"] == "i3"
    decide(tmp_path, "i3", "assign", "2")          # shopper 2 is still inside
    carts.add(CartEvent(6.0, "2", "P05", 1, 1.0, (("2", 1.0),), "G2S1"))
    carts.close("2", 8.0)
    carts.close_ledger()
    shown = receipts(tmp_path)
    assert lines(shown["R0001"]) == {} and shown["R0001"]["flags"] == []
    assert lines(shown["R0002"]) == {"P05": 1, "P06": 1}
    assert shown["R0001"]["history"][0]["lines"][0]["sku"] == "P06"


def test_serve_without_the_web_extra_says_which_extra(run_dir, monkeypatch, capsys):
    monkeypatch.setitem(__import__("sys").modules, "starlette", None)
    assert main(["serve", str(run_dir)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "web extra" in err and "[web]" in err


def test_serve_of_a_folder_that_is_not_there_is_one_line(tmp_path, capsys):
    assert main(["serve", str(tmp_path / "nothing")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "nothing" in err


def test_import_walkout_loads_no_web_server():
    import subprocess
    import sys

    code = ("import sys, walkout, walkout.review; "
            "print(any(m.split('.')[0] in ('starlette', 'uvicorn') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "False"
