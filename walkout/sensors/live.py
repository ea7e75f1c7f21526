"""Live load cells: a line protocol over UDP or a serial port (an HX711 / load-cell board).

Each line carries one reading, in either form::

    <plate_id> <grams> [<t>]                 e.g.  G1S1P2 251.4
    {"plate": "G1S1P2", "g": 251.4, "t": 12.31}   ("t" optional; "grams" also accepted)

A line may also carry a whole row: ``{"t": 12.31, "plates": {"G1S1P1": 290.1, ...}}``.
Without ``t`` a reading is stamped with the receive time (``time.monotonic``). Readings
arrive plate by plate at their own pace, so :class:`LineAssembler` turns them into regular
rows at the configured rate, each plate holding its newest reading (a load cell holds its
weight).

Bad lines never stop the stream: unparseable lines, unknown plates, NaN readings and
readings older than the plate's last one are skipped and counted in :class:`ReadStats`.
Plates never heard from are NaN until their first reading; the event detector ignores the
windows they spoil.

Lines come from the network, so every one is parsed with bounds: at most
:data:`MAX_LINE_CHARS` characters, JSON of one level of objects, grams within
:data:`MAX_GRAMS`, and a reading's own time within :data:`MAX_SKEW_S` of the receiving
clock. Whatever breaks a bound is skipped and counted, never raised. With a shared secret
(``udp://HOST:PORT?key=SECRET``) a datagram counts only when its last line is
``#hmac=<hex>``, the HMAC-SHA256 of everything before that line under the secret.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
import math
import socket
import time
from collections.abc import Callable, Iterator
from urllib.parse import parse_qs, urlparse

import numpy as np

from ..errors import InputError
from .readers import MAX_GRAMS, ReadStats, SampleBlock

log = logging.getLogger(__name__)

# A whole row of a large store (300 plates at about 25 characters each) fits; anything
# longer is not a reading.
MAX_LINE_CHARS = 8192
# A reading stamped by the board more than this far from the receiving clock cannot be a
# reading of now: a reach is matched within a second or two, and network and board buffers
# hold a reading for far less than this. Boards that stamp readings must share the clock.
MAX_SKEW_S = 10.0
MAC_PREFIX = b"#hmac="


def _number(v) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float, str)):
        raise ValueError("expected a number")
    return float(v)


def parse_line(line: str) -> list[tuple[str, float, float | None]]:
    """``(plate_id, grams, t or None)`` readings of one line; raises ValueError if bad
    (including a line over :data:`MAX_LINE_CHARS` or JSON nested deeper than a row)."""
    line = line.strip()
    if not line:
        return []
    if len(line) > MAX_LINE_CHARS:
        raise ValueError(f"a line over {MAX_LINE_CHARS} characters")
    if line.startswith("{"):
        if line.count("{") > 2 or "[" in line:  # a row is one object inside another at most
            raise ValueError("JSON nested deeper than a row")
        obj = json.loads(line)
        if not isinstance(obj, dict):
            raise ValueError("expected a JSON object")
        t = obj.get("t")
        t = None if t is None else _number(t)
        if "plates" in obj:
            if not isinstance(obj["plates"], dict):
                raise ValueError("expected plates to be an object")
            return [(str(k), _number(v), t) for k, v in obj["plates"].items()]
        grams = obj.get("g", obj.get("grams"))
        if "plate" not in obj or grams is None:
            raise ValueError("expected keys plate and g")
        return [(str(obj["plate"]), _number(grams), t)]
    parts = line.split()
    if len(parts) not in (2, 3):
        raise ValueError("expected '<plate_id> <grams> [<t>]'")
    return [(parts[0], float(parts[1]), float(parts[2]) if len(parts) == 3 else None)]


def signed_payload(datagram: bytes, key: bytes) -> bytes | None:
    """The payload of a datagram whose last line is ``#hmac=<hex>`` of the rest under
    ``key``, or None when the signature is missing or wrong."""
    body, sep, mac = datagram.rstrip(b"\r\n").rpartition(b"\n" + MAC_PREFIX)
    if not sep:
        if not datagram.startswith(MAC_PREFIX):
            return None
        body, mac = b"", datagram[len(MAC_PREFIX):].strip()
    want = hmac.new(key, body, hashlib.sha256).hexdigest().encode()
    return body if hmac.compare_digest(want, mac.strip().lower()) else None


def sign(payload: bytes, key: bytes) -> bytes:
    """A datagram for ``udp://...?key=``: the payload and its ``#hmac=`` line."""
    payload = payload.rstrip(b"\n")
    return payload + b"\n" + MAC_PREFIX + \
        hmac.new(key, payload, hashlib.sha256).hexdigest().encode() + b"\n"


class LineAssembler:
    """Readings in, regular rows out (sample and hold).

    Args:
        plate_ids: the plates of the store, in column order.
        rate_hz: rows per second.
        stats: where skipped lines are counted.
    """

    def __init__(self, plate_ids: list[str], rate_hz: float = 60.0,
                 stats: ReadStats | None = None) -> None:
        self.plate_ids = tuple(plate_ids)
        self.col = {p: i for i, p in enumerate(plate_ids)}
        self.dt = 1.0 / rate_hz
        self.stats = stats if stats is not None else ReadStats("live")
        self.value = np.full(len(plate_ids), np.nan)
        self.last_t = np.full(len(plate_ids), -math.inf)
        self.next_t: float | None = None
        self.now = -math.inf  # the newest reading's time

    def feed(self, line: str, t_recv: float) -> None:
        """Take one line received at ``t_recv`` seconds."""
        try:
            readings = parse_line(line)
        except (ValueError, TypeError, AttributeError, RecursionError):
            self.stats.bad_lines += 1
            return
        for pid, grams, t in readings:
            c = self.col.get(pid)
            if c is None:
                self.stats.unknown_plates += 1
                continue
            t = t_recv if t is None else t
            if not math.isfinite(grams) or not math.isfinite(t):
                self.stats.filled += 1
                continue
            if abs(grams) > MAX_GRAMS or abs(t - t_recv) > MAX_SKEW_S:
                self.stats.out_of_range += 1
                continue
            if t < self.last_t[c]:
                self.stats.out_of_order += 1
                continue
            if t == self.last_t[c]:
                self.stats.duplicate += 1
                continue
            self.value[c], self.last_t[c] = grams, t
            self.now = max(self.now, t)
            if self.next_t is None:
                self.next_t = t

    def rows_until(self, t_now: float) -> SampleBlock | None:
        """The rows due up to ``t_now``, holding each plate's newest reading."""
        if self.next_t is None or t_now < self.next_t:
            return None
        n = int((t_now - self.next_t) / self.dt) + 1
        t = self.next_t + np.arange(n) * self.dt
        self.next_t = float(t[-1]) + self.dt
        self.stats.rows += n
        return SampleBlock(t, np.repeat(self.value[None, :], n, axis=0), self.plate_ids)


class UdpLines:
    """Lines from UDP datagrams on ``host:port`` (one or more lines a datagram); with
    ``key``, only datagrams signed with it (see the module doc). Datagrams that fail the
    signature are counted in ``unauthenticated``."""

    def __init__(self, host: str, port: int, timeout: float = 0.05,
                 key: bytes | None = None) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            self.sock.bind((host, port))
        except (OSError, OverflowError) as exc:
            self.sock.close()
            why = getattr(exc, "strerror", None) or str(exc)
            raise InputError(f"udp://{host}:{port}: cannot listen ({why})") from None
        self.sock.settimeout(timeout)
        self.address = self.sock.getsockname()
        self.key, self.unauthenticated = key, 0
        if not ipaddress.ip_address(self.address[0]).is_loopback:
            log.warning("udp://%s:%d listens beyond this machine: anyone who can reach it "
                        "can send readings%s", host, port, "" if key else
                        " (add ?key=SECRET to accept only signed datagrams)")

    def read(self) -> list[str]:
        try:
            data = self.sock.recv(65536)
        except TimeoutError:
            return []
        if self.key is not None:
            data = signed_payload(data, self.key)
            if data is None:
                self.unauthenticated += 1
                return []
        return data.decode("utf-8", errors="replace").splitlines()

    def close(self) -> None:
        self.sock.close()


class SerialLines:
    """Lines from a serial port (needs pyserial: ``pip install walkout[serial]``)."""

    def __init__(self, port: str, baud: int = 115200, timeout: float = 0.05) -> None:
        try:
            import serial  # optional extra
        except ImportError:
            raise InputError(f"serial://{port}: pyserial is not installed "
                             "(pip install 'walkout[serial]')") from None
        try:
            self.port = serial.Serial(port, baud, timeout=timeout)
        except (serial.SerialException, OSError) as exc:
            raise InputError(f"serial://{port}: cannot open ({exc})") from None

    def read(self) -> list[str]:
        line = self.port.readline()
        return [line.decode("utf-8", errors="replace")] if line else []

    def close(self) -> None:
        self.port.close()


def open_lines(url: str):
    """``udp://HOST:PORT[?key=SECRET]`` or ``serial:///dev/ttyUSB0[?baud=115200]``."""
    u = urlparse(url)
    try:
        port = u.port
    except ValueError:
        port = None
    query = parse_qs(u.query)
    if u.scheme == "udp" and u.hostname and port:
        key = query.get("key", [None])[0]
        return UdpLines(u.hostname, port, key=None if key is None else key.encode())
    if u.scheme == "serial" and u.path:
        try:
            baud = int(query.get("baud", ["115200"])[0])
        except ValueError:
            baud = 0
        if not 50 <= baud <= 4_000_000:
            raise InputError(f"{url}: expected ?baud= a rate from 50 to 4000000")
        return SerialLines(u.path, baud)
    raise InputError(f"{url}: expected udp://HOST:PORT (a port from 1 to 65535) or "
                     "serial:///dev/PORT")


def iter_live(source, plate_ids: list[str], rate_hz: float = 60.0,
              stats: ReadStats | None = None, clock: Callable[[], float] = time.monotonic,
              block_s: float = 0.1, max_s: float | None = None) -> Iterator[SampleBlock]:
    """Blocks of about ``block_s`` from a line source (``read() -> list[str]``), until
    ``max_s`` seconds have passed (forever by default)."""
    asm = LineAssembler(plate_ids, rate_hz, stats)
    start = clock()
    due = start + block_s
    while max_s is None or clock() - start < max_s:
        for line in source.read():
            asm.feed(line, clock())
        asm.stats.unauthenticated = getattr(source, "unauthenticated", 0)
        now = clock()
        if now >= due:
            due = now + block_s
            block = asm.rows_until(asm.now)
            if block is not None:
                yield block
