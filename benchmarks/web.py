"""`walkout serve`: how fast a review item's page loads, and what serving costs a run.

    python benchmarks/web.py [--work DIR] [--repeats 3] [--loads 30]

(needs the web extra.) Two measurements on the shipped sample clip `sample_videos/pair`, run
with ``--ambiguous-below 0.9`` so that both its receipts are flagged and the review queue
has two items:

(a) **a review item's page**: everything the review page fetches to show one item (the
    page, its script and style, the queue, the store state, the item, its weight trace and
    its four frames), one after another as a slow browser would, from a server on
    127.0.0.1, with the frames already cached (the first view of an item decodes them).
    Median and 95th percentile over --loads page loads. Target: under 300 ms.
(b) **a run that is watched**: `walkout run` of the clip alone, and `walkout run --serve`
    with a client following the store page (the event stream, and the store state fetched
    after each event, as the page does), alternately --repeats times each, in one go. The
    run's own time (the `in X s` it prints) is compared. Target: the watched run at most 5%
    slower.
(c) **a live run that is watched**: `walkout live` on the sample clip `single` played as a
    10 fps camera (headless, one scripted key press), alone and with `--serve` and the same
    client: frames processed a second, p95 latency from capture to overlay, and frames
    dropped.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLIP = ROOT / "sample_videos" / "pair"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as r:
        return r.read()


def wait_up(base: str) -> None:
    for _ in range(400):
        try:
            fetch(base + "/")
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"{base}: the server did not start")


def run_once(out: Path, serve: bool) -> tuple[float, int]:
    """One `walkout run` of the clip into a fresh ``out``; with ``serve``, watched by a
    client as the store page does. Returns the run's own seconds and how many times the
    client fetched the store's state."""
    shutil.rmtree(out, ignore_errors=True)
    cmd = [sys.executable, "-m", "walkout", "-q", "run", str(CLIP), "--out", str(out),
           "--ambiguous-below", "0.9"]
    port = free_port()
    if serve:
        cmd += ["--serve", f"127.0.0.1:{port}"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    stop = threading.Event()
    watcher, fetched = None, []
    if serve:
        base = f"http://127.0.0.1:{port}"
        watcher = threading.Thread(target=watch, args=(base, stop, fetched), daemon=True)
        watcher.start()
    wall = None
    for line in proc.stdout:
        m = re.search(r"of video\) in ([0-9.]+) s", line)
        if m:
            wall = float(m.group(1))
        if "still serving" in line or (not serve and wall is not None):
            break
    stop.set()
    proc.terminate()
    proc.wait()
    if watcher is not None:
        watcher.join(timeout=5)
    if wall is None:
        raise SystemExit("walkout run printed no time")
    return wall, len(fetched)


def live_once(out: Path, serve: bool, work: Path) -> tuple[float, float, int, int]:
    """`walkout live` on the sample clip `single` played as a 10 fps camera (headless, a
    scripted key press for its one pick); with ``serve``, watched as the store page does.
    Returns processed frames/s, p95 latency (ms), dropped frames and state fetches."""
    import yaml

    single = ROOT / "sample_videos" / "single"
    store, keys = work / "live-store.yaml", work / "live-keys.txt"
    raw = yaml.safe_load((single / "store.yaml").read_text())
    raw["shelves"].sort(key=lambda s: s["id"] != "G2S2")   # key 3: G2S2's third plate
    store.write_text(yaml.safe_dump(raw))
    keys.write_text("10.4 3\n")
    shutil.rmtree(out, ignore_errors=True)
    port = free_port()
    cmd = [sys.executable, "-m", "walkout", "live", "--source", str(single / "video.mp4"),
           "--store", str(store), "--scale", "keyboard", "--keys", str(keys), "--headless",
           "--out", str(out), "--model", "models/walkout-sim.pt", "--classes", "0"]
    if serve:
        cmd += ["--serve", f"127.0.0.1:{port}"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            cwd=ROOT)
    stop, fetched = threading.Event(), []
    watcher = None
    if serve:
        watcher = threading.Thread(target=watch, args=(f"http://127.0.0.1:{port}", stop,
                                                       fetched), daemon=True)
        watcher.start()
    result = None
    for line in proc.stdout:
        m = re.search(r"\(([0-9.]+) fps\); dropped (\d+) of \d+ captured .* p95 ([0-9.]+) ms",
                      line)
        if m:
            result = float(m.group(1)), float(m.group(3)), int(m.group(2))
            if not serve:
                break
        if "still serving" in line:
            break
    stop.set()
    proc.terminate()
    proc.wait()
    if watcher is not None:
        watcher.join(timeout=5)
    if result is None:
        raise SystemExit("walkout live printed no summary")
    return (*result, len(fetched))


def watch(base: str, stop: threading.Event, fetched: list) -> None:
    """The store page: follow the event stream, fetch the state after each event."""
    wait_up(base)
    with urllib.request.urlopen(base + "/api/stream", timeout=30) as stream:
        while not stop.is_set():
            line = stream.readline()
            if not line:
                return
            if line.startswith(b"event: ledger"):
                fetched.append(len(fetch(base + "/api/state")))


def page_loads(out: Path, loads: int) -> list[float]:
    from walkout.web import serve

    port = free_port()
    server = serve(out, "127.0.0.1", port, announce=lambda _: None, background=True)
    base = f"http://127.0.0.1:{port}"
    wait_up(base)
    item = json.loads(fetch(base + "/api/review"))["items"][0]["id"]
    urls = ["/review", "/static/app.js", "/static/app.css", "/api/review", "/api/state",
            f"/api/review/{item}", f"/api/review/{item}/weights.svg",
            *(f"/api/review/{item}/frame.jpg?k={k}" for k in range(4))]
    for u in urls:   # the first view decodes the frames
        fetch(base + u)
    times = []
    for _ in range(loads):
        t0 = time.perf_counter()
        for u in urls:
            fetch(base + u)
        times.append(time.perf_counter() - t0)
    server.should_exit = True
    return times


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", default=str(Path(tempfile.gettempdir()) / "walkout-web-bench"))
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--loads", type=int, default=30)
    args = ap.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)

    alone, watched = [], []
    for k in range(args.repeats):   # alternately, so drift of the machine hits both
        alone.append(run_once(work / "alone", serve=False)[0])
        wall, states = run_once(work / "watched", serve=True)
        watched.append(wall)
        print(f"run {k + 1}: alone {alone[-1]:.2f} s, watched {wall:.2f} s (the client "
              f"fetched the store's state {states} times)", flush=True)
    ratio = statistics.median(watched) / statistics.median(alone)

    live = {False: live_once(work / "live-alone", False, work),
            True: live_once(work / "live-watched", True, work)}
    print(f"live at 10 fps: alone {live[False][:3]}, watched {live[True]} (fps, p95 ms, "
          "dropped, state fetches)", flush=True)

    times = page_loads(work / "alone", args.loads)
    p50 = statistics.median(times) * 1000
    p95 = sorted(times)[max(0, round(0.95 * len(times)) - 1)] * 1000
    print("\n| measurement | figure | target |\n|---|---|---|")
    print(f"| (a) a review item's page, 11 requests one after another, frames cached | "
          f"p50 {p50:.0f} ms, p95 {p95:.0f} ms | < 300 ms |")
    print(f"| (b) `walkout run` of the sample clip watched through `--serve` / alone "
          f"(median of {args.repeats}) | {statistics.median(watched):.2f} s / "
          f"{statistics.median(alone):.2f} s = {ratio:.3f} | <= 1.05 |")
    (fa, la, da, _), (fw, lw, dw, nw) = live[False], live[True]
    print(f"| (c) `walkout live` of the sample clip `single` as a 10 fps camera, watched / "
          f"alone: frames/s, p95 latency, dropped | {fw:.1f} / {fa:.1f} frames/s "
          f"({fw / fa:.3f}), {lw:.0f} / {la:.0f} ms, {dw} / {da} dropped ({nw} state "
          "fetches) | <= 5% slower |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
