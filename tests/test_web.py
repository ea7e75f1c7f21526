"""walkout serve (the web extra): the JSON API, its security, a server killed at random
moments, and the review flow in a real browser (Debian's chromium, skipped without it)."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

pytest.importorskip("starlette")
pytest.importorskip("httpx2")

from starlette.testclient import TestClient

from walkout.web import MAX_BODY, make_app

CSRF = "test-csrf"


@pytest.fixture
def run_dir(doubtful_run, tmp_path) -> Path:
    out = tmp_path / "run"
    shutil.copytree(doubtful_run, out, ignore=shutil.ignore_patterns(".walkout.lock"))
    return out


@pytest.fixture
def client(run_dir):
    return TestClient(make_app(run_dir, csrf=CSRF))


def post(client, item, body, **headers):
    h = {"Content-Type": "application/json", "X-CSRF-Token": CSRF, **headers}
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return client.post(f"/api/review/{item}", content=data, headers=h)


def snapshot(out: Path) -> tuple[bytes, bytes]:
    return (out / "cart_ledger.jsonl").read_bytes(), (out / "receipts.json").read_bytes()


def test_pages_and_api(client):
    page = client.get("/review")
    assert page.status_code == 200 and f'content="{CSRF}"' in page.text
    assert client.get("/").status_code == 200
    items = client.get("/api/review").json()["items"]
    assert [i["id"] for i in items] == ["i4", "i6"]
    one = client.get("/api/review/i4").json()
    assert one["evidence"]["weights"] == "/api/review/i4/weights.svg"
    assert len(one["evidence"]["frames"]) == 4
    svg = client.get("/api/review/i4/weights.svg")
    assert svg.headers["content-type"].startswith("image/svg+xml") and "<polyline" in svg.text
    jpg = client.get("/api/review/i4/frame.jpg?k=2")
    assert jpg.status_code == 200 and jpg.content[:2] == b"\xff\xd8"
    state = client.get("/api/state").json()
    assert [r["receipt_id"] for r in state["receipts"]] == ["R0001", "R0002"]
    assert state["inside"] == [] and state["running"] is False
    assert state["shoppers"][0]["timeline"][0]["what"] == "entered"


def test_a_decision_through_the_api_is_one_ledger_line(client, run_dir):
    r = post(client, "i4", {"action": "assign", "shopper_id": "2", "by": "ana"})
    assert r.status_code == 201 and r.json()["new"] is True
    again = post(client, "i4", {"action": "assign", "shopper_id": 2})
    assert again.status_code == 200 and again.json()["new"] is False
    ledger = [json.loads(x) for x in (run_dir / "cart_ledger.jsonl").read_text().splitlines()]
    assert sum(op["op"] == "review" for op in ledger) == 1
    receipts = {r["receipt_id"]: r for r in client.get("/api/receipts").json()["receipts"]}
    assert receipts["R0002"]["revision"] == 1
    assert "P06" in {x["sku"] for x in receipts["R0002"]["lines"]}
    assert client.get("/api/review").json()["items"][0]["decision"]["shopper_id"] == "2"


@pytest.mark.parametrize("item, body, headers, status", [
    ("R0009", {"action": "confirm"}, {}, 404),                   # unknown item
    ("i4", "{not json", {}, 400),                                # malformed JSON
    ("i4", {"shopper_id": "2"}, {}, 400),                        # no action
    ("i4", {"action": "assign", "shopper_id": "99"}, {}, 400),   # nobody of that id
    ("i4", {"action": "confirm"}, {"X-CSRF-Token": "forged"}, 403),
    ("i4", {"action": "confirm"}, {"Origin": "http://evil.example"}, 403),
    ("i4", {"action": "confirm"}, {"Content-Type": "text/plain"}, 415),
    ("i4", "x" * (MAX_BODY + 1), {}, 413),
])
def test_bad_requests_get_a_4xx_with_one_line_and_write_nothing(client, run_dir, item, body,
                                                                headers, status):
    before = snapshot(run_dir)
    r = post(client, item, body, **headers)
    assert r.status_code == status
    assert "\n" not in r.json()["error"] and r.json()["error"]
    assert snapshot(run_dir) == before


def test_files_are_served_from_inside_the_folder_only(client, run_dir):
    assert client.get("/files/receipts.json").json()["receipts"]
    (run_dir.parent / "secret.txt").write_text("no")
    for path in ("/files/../secret.txt", "/files/%2e%2e/secret.txt", "/files/..%2fsecret.txt",
                 "/files//etc/passwd"):
        r = client.get(path)
        assert r.status_code == 404 and r.text != "no"


def test_a_token_guards_every_api_request(run_dir):
    client = TestClient(make_app(run_dir, token="s3cret", csrf=CSRF))
    assert client.get("/api/review").status_code == 401
    assert client.get("/api/review", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/api/review?token=s3cret").status_code == 200
    assert client.get("/api/review", headers={"Authorization": "Bearer s3cret"}).status_code == 200
    before = snapshot(run_dir)
    assert post(client, "i4", {"action": "confirm"}).status_code == 401
    assert snapshot(run_dir) == before
    ok = post(client, "i4", {"action": "confirm"}, Authorization="Bearer s3cret")
    assert ok.status_code == 201


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(folder: Path, port: int) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "walkout", "serve", str(folder), "--port",
                             str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=0.5).read()
            return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise AssertionError("walkout serve did not start")


def send(port: int, item: str, body: dict) -> bool:
    page = urllib.request.urlopen(f"http://127.0.0.1:{port}/review", timeout=2).read().decode()
    csrf = page.split('name="csrf" content="')[1].split('"')[0]
    req = urllib.request.Request(f"http://127.0.0.1:{port}/api/review/{item}",
                                 data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json",
                                          "X-CSRF-Token": csrf})
    try:
        return urllib.request.urlopen(req, timeout=2).status in (200, 201)
    except (OSError, urllib.error.HTTPError):
        return False


def test_no_decision_lost_or_doubled_across_20_kills_of_the_server(run_dir):
    """Twenty decisions, each different from the one before on its item. Each is sent while
    the server is killed (SIGKILL) a random moment later: before, while or after it writes.
    The reviewer, with no answer or not sure of it, sends it again to a new server. The
    ledger ends with each decision once, in order, and receipts.json as they leave it."""
    import threading

    rng = random.Random(20261206)
    cycle = [("i4", {"action": "assign", "shopper_id": "2"}), ("i6", {"action": "not_taken"}),
             ("i4", {"action": "confirm"}), ("i6", {"action": "confirm"}),
             ("i4", {"action": "not_taken"}), ("i6", {"action": "assign", "shopper_id": "1"})]
    decisions = [cycle[k % len(cycle)] for k in range(20)]
    port = free_port()
    proc = start_server(run_dir, port)
    for item, body in decisions:
        sender = threading.Thread(target=send, args=(port, item, body))
        sender.start()
        time.sleep(rng.uniform(0.0, 0.06))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        sender.join()
        proc = start_server(run_dir, port)
        assert send(port, item, body)          # again: written once whatever happened
    proc.terminate()
    proc.wait()
    ledger = [json.loads(x) for x in (run_dir / "cart_ledger.jsonl").read_text().splitlines()]
    reviews = [(op["id"], op["action"], op["shopper_id"]) for op in ledger
               if op["op"] == "review"]
    assert reviews == [(i, b["action"], b.get("shopper_id")) for i, b in decisions]
    assert [op["review"] for op in ledger if op["op"] == "review"] == list(range(1, 21))
    from walkout.review import sync_receipts

    shown = (run_dir / "receipts.json").read_bytes()
    sync_receipts(run_dir)
    assert (run_dir / "receipts.json").read_bytes() == shown


def chrome():
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    for binary, driver in (("/usr/bin/chromium", "/usr/bin/chromedriver"),):
        if Path(binary).is_file() and Path(driver).is_file():
            opts = webdriver.ChromeOptions()
            opts.binary_location = binary
            for a in ("--headless=new", "--no-sandbox", "--disable-gpu",
                      "--window-size=1200,900"):
                opts.add_argument(a)
            return webdriver.Chrome(service=Service(driver), options=opts)
    pytest.skip("no chromium and chromedriver (apt install chromium chromium-driver)")


def test_a_reviewer_reassigns_an_item_in_the_browser(run_dir):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    browser = chrome()
    port = free_port()
    proc = start_server(run_dir, port)
    try:
        base = f"http://127.0.0.1:{port}"
        wait = WebDriverWait(browser, 10)
        browser.get(base + "/review")
        item = wait.until(ec.element_to_be_clickable((By.ID, "item-i4")))
        assert "R0001" in item.text and "P06" in item.text
        item.click()                                                          # click 1
        give = wait.until(ec.element_to_be_clickable(
            (By.CSS_SELECTOR, 'button[data-action="assign"][data-shopper="2"]')))
        frames = browser.find_elements(By.CSS_SELECTOR, ".frames img")
        assert len(frames) == 4
        wait.until(lambda b: all(b.execute_script("return arguments[0].naturalWidth", img) > 0
                                 for img in frames))   # the four frames loaded
        give.click()                                                          # click 2
        wait.until(ec.text_to_be_present_in_element((By.ID, "status"), "Saved"))
        wait.until(ec.text_to_be_present_in_element((By.ID, "item-i4"), "given to #2"))
        browser.get(base + "/")
        row = wait.until(ec.presence_of_element_located((By.ID, "receipt-R0002")))
        wait.until(ec.text_to_be_present_in_element((By.ID, "receipt-R0002"), "amended"))
        assert "Paprika crisps" in row.find_element(By.CLASS_NAME, "lines").text
    finally:
        browser.quit()
        proc.terminate()
        proc.wait()
    shown = json.loads((run_dir / "receipts.json").read_text())["receipts"]
    assert shown[1]["revision"] == 1 and shown[0]["history"][0]["receipt_id"] == "R0001"


# ---- the store editor ----------------------------------------------------------------------
PAIR = Path(__file__).resolve().parents[1] / "sample_videos" / "pair"
# the sample store's shelf G2S1 (its plates P05, P06, P16), its reach zone and the doors, in
# whole pixels; and four floor points of its floor calibration (80 pixels a metre)
G2S1 = [192, 200, 448, 244]
REACH = [192, 136, 448, 200]
PLATES = [([192, 200, 277, 244], "P05", 6), ([277, 200, 363, 244], "P06", 7),
          ([363, 200, 448, 244], "P16", 9)]
DOORS = {"entrance": [80, 416, 192, 479], "exit": [448, 416, 560, 479]}
FLOOR = [(100, 100, 1.25, 1.25), (500, 100, 6.25, 1.25), (500, 400, 6.25, 5.0),
         (100, 400, 1.25, 5.0)]


def box(x0, y0, x1, y1):
    return [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]


def drawn_store() -> dict:
    return {"shelves": [{"id": "G2S1", "polygon": box(*G2S1), "reach_zone": box(*REACH),
                         "plates": [{"id": f"G2S1P{k + 1}", "sku": sku, "units": n,
                                     "polygon": box(*b)} for k, (b, sku, n) in
                                    enumerate(PLATES)]}],
            "zones": {d: box(*b) for d, b in DOORS.items()}, "ignore": [],
            "floor_points": [list(p) for p in FLOOR]}


def test_the_editor_saves_a_store_walkout_validate_accepts(client, run_dir):
    base = client.get("/api/editor/base").json()
    assert base["path"].endswith("store.yaml") and {"sku": "P06", "name":
                                                    "Paprika crisps 150 g"} in base["catalogue"]
    frame = client.get("/api/editor/frame.jpg")
    assert frame.status_code == 200 and frame.content[:2] == b"\xff\xd8"
    r = client.post("/api/editor/store", content=json.dumps(
        {"name": "mine.yaml", "width": 640, "height": 480, "store": drawn_store()}),
        headers={"Content-Type": "application/json", "X-CSRF-Token": CSRF})
    assert r.status_code == 201, r.text
    saved = run_dir / "editor" / "mine.yaml"
    assert r.json()["file"] == "editor/mine.yaml" and saved.is_file()
    from walkout.cli import main
    from walkout.config import load_store

    assert main(["validate", str(saved)]) == 0
    store = load_store(saved)
    assert [s.id for s in store.shelves] == ["G2S1"]
    assert [q.sku for q in store.shelves[0].plates] == ["P05", "P06", "P16"]
    assert store.camera.homography is not None
    import numpy as np

    assert np.allclose(store.camera.homography, [[0.0125, 0, 0], [0, 0.0125, 0], [0, 0, 1]],
                       atol=1e-6)


def test_the_editor_adds_the_users_own_products(client, run_dir):
    draft = drawn_store()
    draft["products"] = [{"sku": "MY1", "name": "House granola 400 g", "weight_g": 412.5,
                          "price": 4.5}]
    draft["shelves"][0]["plates"][2]["sku"] = "MY1"
    r = client.post("/api/editor/store", content=json.dumps(
        {"name": "own.yaml", "width": 640, "height": 480, "store": draft}),
        headers={"Content-Type": "application/json", "X-CSRF-Token": CSRF})
    assert r.status_code == 201, r.text
    from walkout.config import load_store

    store = load_store(run_dir / "editor" / "own.yaml")
    mine = store.products["MY1"]
    assert (mine.name, mine.weight_g, mine.price) == ("House granola 400 g", 412.5, 4.5)
    assert mine.weight_sd_g == pytest.approx(4.12, abs=0.01)
    assert store.shelves[0].plates[2].sku == "MY1"


def test_the_event_stream_carries_the_ledgers_new_lines(run_dir):
    """The first event holds the ledger's lines so far; a decision's line follows."""
    port = free_port()
    proc = start_server(run_dir, port)
    try:
        stream = urllib.request.urlopen(f"http://127.0.0.1:{port}/api/stream", timeout=10)

        def next_event():
            while True:
                line = stream.readline()
                if line.startswith(b"data: "):
                    return json.loads(line[6:])

        first = next_event()
        ledger = (run_dir / "cart_ledger.jsonl").read_text().splitlines()
        assert first["lines"] == ledger
        assert send(port, "i4", {"action": "confirm"})
        line = json.loads(next_event()["lines"][0])
        assert line["op"] == "review" and line["id"] == "i4"
        stream.close()
    finally:
        proc.terminate()
        proc.wait()


@pytest.mark.parametrize("change, status, words", [
    (lambda b: b.update(name="../../evil.yaml"), 400, "name"),
    (lambda b: b["store"]["shelves"][0].update(reach_zone=None), 400, "reach zone"),
    (lambda b: b["store"]["shelves"][0]["plates"][0].update(sku="NOPE"), 400, "NOPE"),
    (lambda b: b["store"].update(floor_points=[[0, 0, 0, 0]] * 4), 400, "floor"),
    (lambda b: b["store"]["zones"].update(exit=[[1, 2]]), 400, "zones.exit"),
    (lambda b: b["store"].update(products=[{"sku": "P05", "name": "again", "weight_g": 1,
                                            "price": 1}]), 400, "P05"),
    (lambda b: b["store"].update(products=[{"sku": "X1", "name": "x", "weight_g": "heavy",
                                            "price": 1}]), 400, "weight_g"),
])
def test_a_bad_drawing_is_refused_with_one_line_and_nothing_saved(client, run_dir, change,
                                                                 status, words):
    body = {"name": "mine.yaml", "width": 640, "height": 480, "store": drawn_store()}
    change(body)
    r = client.post("/api/editor/store", content=json.dumps(body),
                    headers={"Content-Type": "application/json", "X-CSRF-Token": CSRF})
    assert r.status_code == status and words in r.json()["error"]
    assert "\n" not in r.json()["error"]
    assert not any((run_dir / "editor").glob("*.yaml")) if (run_dir / "editor").is_dir() \
        else True
    assert not (run_dir.parent / "evil.yaml").exists()


def test_uploads_are_typed_and_size_limited(client, run_dir, monkeypatch):
    import cv2
    import numpy as np

    from walkout.web import editor

    png = cv2.imencode(".png", np.full((48, 64, 3), 90, np.uint8))[1].tobytes()
    h = {"X-CSRF-Token": CSRF}
    assert client.post("/api/editor/upload", content=png,
                       headers={**h, "Content-Type": "text/html"}).status_code == 415
    assert client.post("/api/editor/upload", content=png,
                       headers={"Content-Type": "image/png"}).status_code == 403
    r = client.post("/api/editor/upload", content=png, headers={**h, "Content-Type": "image/png"})
    assert r.status_code == 201
    frame = cv2.imdecode(np.frombuffer(client.get("/api/editor/frame.jpg?source=upload").content,
                                       np.uint8), cv2.IMREAD_COLOR)
    assert frame.shape == (48, 64, 3)
    monkeypatch.setattr(editor, "MAX_UPLOAD", 100)
    big = client.post("/api/editor/upload", content=png, headers={**h, "Content-Type": "image/png"})
    assert big.status_code == 413
    assert client.get("/api/editor/frame.jpg?source=../x").status_code == 400


def test_a_store_drawn_in_the_browser_runs(run_dir, tmp_path):
    """Draw the sample's shelf G2S1, its plates, reach zone and doors and four floor points
    on the run's frame, save, and run the sample clip with that store: the two items taken
    from G2S1 are on the two receipts, and nothing else (the other shelves were not drawn)."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import Select, WebDriverWait

    browser = chrome()
    port = free_port()
    proc = start_server(run_dir, port)
    try:
        wait = WebDriverWait(browser, 10)
        browser.get(f"http://127.0.0.1:{port}/editor")
        wait.until(ec.text_to_be_present_in_element((By.ID, "status"), "frame 640x480"))
        canvas = browser.find_element(By.ID, "canvas")

        def click(x, y):
            ActionChains(browser).move_to_element_with_offset(
                canvas, x - 320, y - 240).click().perform()

        def rect(mode, b):
            browser.find_element(By.ID, f"mode-{mode}").click()
            click(b[0], b[1])
            click(b[2], b[3])

        browser.find_element(By.ID, "shelf-id").send_keys("G2S1")
        rect("shelf", G2S1)
        rect("reach", REACH)
        for b, sku, n in PLATES:
            browser.find_element(By.ID, "mode-plate").click()
            Select(browser.find_element(By.ID, "plate-sku")).select_by_value(sku)
            units = browser.find_element(By.ID, "plate-units")
            units.clear()
            units.send_keys(str(n))
            rect("plate", b)
        for door, b in DOORS.items():
            rect(door, b)
        browser.find_element(By.ID, "mode-floor").click()
        for u, v, x, y in FLOOR:
            for field, value in (("floor-x", x), ("floor-y", y)):
                el = browser.find_element(By.ID, field)
                el.clear()
                el.send_keys(str(value))
            click(u, v)
        browser.find_element(By.ID, "save").click()
        wait.until(ec.text_to_be_present_in_element((By.ID, "status"), "Saved"))
        shot = tmp_path / "editor.png"
        browser.save_screenshot(str(shot))
    finally:
        browser.quit()
        proc.terminate()
        proc.wait()
    saved = run_dir / "editor" / "store.yaml"
    from walkout.cli import main
    from walkout.config import load_store

    store = load_store(saved)
    shelf = store.shelves[0]
    assert shelf.id == "G2S1" and [q.sku for q in shelf.plates] == ["P05", "P06", "P16"]
    assert abs(shelf.polygon[:, 0].min() - 192) <= 2 and abs(shelf.polygon[:, 1].max() - 244) <= 2
    out = tmp_path / "drawn-run"
    assert main(["-q", "run", str(PAIR / "video.mp4"), "--store", str(saved), "--weights",
                 str(PAIR / "weights.csv"), "--out", str(out)]) == 0
    got = json.loads((out / "receipts.json").read_text())["receipts"]
    assert sorted(tuple(x["sku"] for x in r["lines"]) for r in got) == [("P05",), ("P06",)]


def test_walkout_live_serve_follows_the_run_and_serves_on(tmp_path):
    """`walkout live --serve`: the store page's state shows the shopper inside while the
    run goes, then the receipt; the server stays up after the run."""
    import yaml

    single = Path(__file__).resolve().parents[1] / "sample_videos" / "single"
    raw = yaml.safe_load((single / "store.yaml").read_text())
    raw["shelves"].sort(key=lambda s: s["id"] != "G2S2")   # key 3: G2S2's third plate
    store = tmp_path / "store.yaml"
    store.write_text(yaml.safe_dump(raw))
    keys = tmp_path / "keys.txt"
    keys.write_text("10.4 3\n")
    out, port = tmp_path / "out", free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "walkout", "live", "--source", str(single / "video.mp4"),
         "--store", str(store), "--scale", "keyboard", "--keys", str(keys), "--headless",
         "--out", str(out), "--max-frames", "400", "--no-realtime", "--model",
         "models/walkout-sim.pt", "--classes", "0", "--serve", f"127.0.0.1:{port}"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        cwd=Path(__file__).resolve().parents[1])
    said: list[str] = []   # its output, read as it comes (the pipe must not fill up)

    def read() -> None:
        for line in proc.stdout:
            said.append(line)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    seen_inside, running = False, False
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                state = json.loads(urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/api/state", timeout=2).read())
            except OSError:
                time.sleep(0.1)
                continue
            running = running or state["running"]
            seen_inside = seen_inside or any(s["cart"] == {"P23": 1} for s in state["inside"])
            if state["receipts"] and not state["running"]:
                break
            time.sleep(0.1)
        # the run let its folder go; the command then says it serves on, and does
        for _ in range(300):
            if any("still serving" in line for line in said):
                break
            time.sleep(0.1)
        assert proc.poll() is None      # still serving after the run
        final = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/api/receipts",
                                                  timeout=2).read())["receipts"]
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        reader.join(timeout=20)
    text = "".join(said)
    assert running and seen_inside, text
    assert [[(x["sku"], x["qty"]) for x in r["lines"]] for r in final] == [[("P23", 1)]]
    assert "still serving" in text


def test_a_host_other_than_loopback_gets_a_generated_token(run_dir):
    from walkout.web import serve

    lines, port = [], free_port()
    server = serve(run_dir, "0.0.0.0", port, announce=lines.append, background=True)
    try:
        token = lines[0].split("token ")[1].split()[0]
        assert len(token) >= 24 and f"#token={token}" in lines[0]
        base = f"http://127.0.0.1:{port}/api/review"
        for _ in range(100):
            try:
                urllib.request.urlopen(base, timeout=1)
            except urllib.error.HTTPError as exc:
                assert exc.code == 401
                break
            except OSError:
                time.sleep(0.05)
        else:
            raise AssertionError("no answer without a token")
        ok = urllib.request.urlopen(urllib.request.Request(
            base, headers={"Authorization": f"Bearer {token}"}), timeout=2)
        assert json.loads(ok.read())["items"]
    finally:
        server.should_exit = True
