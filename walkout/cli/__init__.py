"""The `walkout` command.

Every sub-command is a small function that parses nothing itself: argparse hands it typed
values. Errors caused by input (a bad store.yaml, a missing file) are WalkoutErrors: they
print one line on stderr and exit with code 2, never a traceback.

One module per group of commands: :mod:`.run` (run, live), :mod:`.batch` (batch),
:mod:`.web` (serve), :mod:`.evaluate` (eval, validate), :mod:`.clips` (simulate,
check-clip, train-detector), :mod:`.stages` (detect, track, floor, weight-events) and
:mod:`.stores` (aifi-store); :mod:`.common` holds what they share.
"""

from __future__ import annotations

import argparse
import logging
import sys

from .. import __version__
from ..errors import WalkoutError
from . import batch, clips, evaluate, run, stages, stores, web
from .common import display_show, make_detector

__all__ = ["build_parser", "display_show", "main", "make_detector"]

log = logging.getLogger("walkout")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="walkout",
        description="Just Walk Out checkout: store video + shelf weights -> receipts.",
    )
    p.add_argument("--version", action="version", version=f"walkout {__version__}")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    for group in (run, batch, evaluate, clips, stages, stores, web):
        group.add_parsers(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except WalkoutError as exc:
        print(one_line(f"walkout: error: {exc}"), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("walkout: interrupted", file=sys.stderr)
        return 130


MAX_ERROR_CHARS = 400  # an error is read by a person: a line, never a file's worth


def one_line(text: str) -> str:
    """An error message as one line of at most :data:`MAX_ERROR_CHARS` characters, whatever
    input went into it."""
    text = " ".join(text.split())
    return text if len(text) <= MAX_ERROR_CHARS else text[:MAX_ERROR_CHARS - 4] + " ..."


if __name__ == "__main__":
    sys.exit(main())
