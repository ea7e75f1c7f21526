"""``walkout serve OUT_DIR`` (the ``web`` extra): a run's folder in a browser, and the
``--serve`` option of ``run`` and ``live`` that starts it beside the run."""

from __future__ import annotations

import argparse
import contextlib
import time
from pathlib import Path

from ..errors import WalkoutError


def _address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    try:
        number = int(port)
    except ValueError:
        number = -1
    if not host or not 0 < number < 65536:
        raise argparse.ArgumentTypeError(f"{text!r}: expected HOST:PORT, e.g. 127.0.0.1:8000")
    return host, number


def serve_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--serve", nargs="?", const="127.0.0.1:8000", default=None, type=_address,
                   metavar="HOST:PORT",
                   help="also serve the output folder in a browser while it runs, and after "
                        "(walkout serve; default 127.0.0.1:8000; needs the web extra)")
    p.add_argument("--token", default=None,
                   help="with --serve on a host other than loopback: the token requests "
                        "must carry (default: one is generated and printed)")


def start_beside(out: str | Path, address: tuple[str, int] | None, token: str | None):
    """Start ``walkout serve`` on ``out`` in a background thread (None: not asked for)."""
    if address is None:
        return None
    from ..web import serve

    Path(out).mkdir(parents=True, exist_ok=True)
    return serve(out, address[0], address[1], token, background=True)


def keep_serving(server) -> None:
    """After the run: the server goes on until Ctrl-C."""
    if server is None:
        return
    print("walkout: the run has ended; still serving its folder (Ctrl-C stops)", flush=True)
    try:
        while True:
            time.sleep(1.0)
    except KeyboardInterrupt:
        server.should_exit = True


def cmd_serve(args: argparse.Namespace) -> int:
    from ..web import serve

    out = Path(args.out_dir)
    if not out.is_dir():
        raise WalkoutError(f"{out}: not a folder (expected a walkout run's output folder, "
                           "e.g. walkout-out/pair)")
    with contextlib.suppress(KeyboardInterrupt):
        serve(out, args.host, args.port, args.token)
    return 0


def add_parsers(sub) -> None:
    s = sub.add_parser("serve", help="a run's output folder in a browser: the store, the "
                                     "review queue, a store editor (needs the web extra)")
    s.add_argument("out_dir", metavar="OUT_DIR", help="the output folder of walkout run/live")
    s.add_argument("--host", default="127.0.0.1",
                   help="address to bind (default 127.0.0.1; any other needs a token)")
    s.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    s.add_argument("--token", default=None,
                   help="the token every request must carry (default: none on loopback; "
                        "generated and printed on any other host)")
    s.set_defaults(func=cmd_serve)
