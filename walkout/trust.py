"""Which model files walkout will load.

A ``.pt`` checkpoint is a pickle: loading one (ultralytics does, with ``torch.load``) can run
any code it names. So a ``.pt`` is loaded only when it is

- one of the models shipped with walkout, known by its sha256 (:data:`SHIPPED`, the same
  figures as ``models/README.md``), wherever it lies; or
- trusted by the user (``--trust-model``, or ``detector.trust: true`` in the store), and even
  then only after :func:`pickle_globals` has read its pickle without running it and found
  nothing but model classes and tensor rebuilders (:func:`refused_globals`).

ONNX files are data, not code, and need neither; ``--backend auto`` takes the ``.onnx``
beside a ``.pt`` whenever there is one.
"""

from __future__ import annotations

import hashlib
import io
import pickletools
import re
import zipfile
from pathlib import Path

from .errors import InputError

# sha256 of the shipped .pt files (models/README.md gives their provenance)
SHIPPED = {
    "5f6f620d0fa574ed80d8348bb8d46060148eb0ba24e3eea00d31a30cdadba41d": "person-yolov8s.pt",
    "c72c8f537637d164167d8522eb37a3f3010273bf85010939a9efa40c6fae0e5f": "walkout-sim.pt",
}

_CLASS = re.compile(r"[A-Z]\w*")  # a class name: building one of these runs no code of ours
# (module, allowed names) a detection checkpoint is made of: model classes, tensors and the
# plain containers around them. A module ending in "." stands for its sub-modules too.
_ALLOWED: tuple[tuple[str, re.Pattern], ...] = (
    ("torch", re.compile(r"\w*Storage|Size|device|dtype|u?int\d+|float\d+|bfloat16|bool")),
    ("torch._utils", re.compile(r"_rebuild_\w+")),
    ("torch.nn.", _CLASS),
    ("torch.nn.parameter", _CLASS),
    ("ultralytics.nn.", _CLASS),
    ("ultralytics.utils", re.compile(r"IterableSimpleNamespace")),
    ("collections", re.compile(r"OrderedDict|defaultdict|deque")),
    ("builtins", re.compile(r"set|frozenset|slice|range|complex|bytearray|dict|list|tuple|"
                            r"int|float|str|bytes|bool")),
    ("__builtin__", re.compile(r"set|frozenset|slice|range|complex|bytearray|dict|list|"
                               r"tuple|int|float|str|bytes|bool")),
    ("numpy", re.compile(r"dtype|ndarray")),
    ("numpy.core.multiarray", re.compile(r"_reconstruct|scalar")),
    ("numpy._core.multiarray", re.compile(r"_reconstruct|scalar")),
    ("numpy.dtypes", _CLASS),
    ("_codecs", re.compile(r"encode")),
    ("pathlib", re.compile(r"(Pure)?(Posix|Windows)?Path")),
    ("argparse", re.compile(r"Namespace")),
    ("types", re.compile(r"SimpleNamespace")),
    ("copyreg", re.compile(r"_reconstructor")),
)
_TEXT_OPS = {"SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE", "SHORT_BINSTRING",
             "BINSTRING", "STRING"}


def sha256_of(path: str | Path) -> str:
    h = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def pickle_globals(data: bytes) -> set[tuple[str, str]]:
    """Every (module, name) a pickle looks up, read without running it. The stack and memo
    are followed so that names built from memoised strings are found too; a name that is
    not plain text comes out as ("?", "?")."""
    stack: list = []
    marks: list[int] = []
    memo: dict = {}
    found: set[tuple[str, str]] = set()
    for op, arg, _ in pickletools.genops(io.BytesIO(data)):
        name = op.name
        if name in _TEXT_OPS:
            stack.append(arg if isinstance(arg, str) else None)
        elif name == "MARK":
            marks.append(len(stack))
        elif name == "MEMOIZE":
            memo[len(memo)] = stack[-1] if stack else None
        elif name in ("PUT", "BINPUT", "LONG_BINPUT"):
            memo[arg] = stack[-1] if stack else None
        elif name in ("GET", "BINGET", "LONG_BINGET"):
            stack.append(memo.get(arg))
        elif name in ("GLOBAL", "INST"):
            module, _, attr = str(arg).partition(" ")
            found.add((module, attr))
            if name == "INST" and marks:
                del stack[marks.pop():]
            stack.append(None)
        elif name == "STACK_GLOBAL":
            attr = stack.pop() if stack else None
            module = stack.pop() if stack else None
            ok = isinstance(module, str) and isinstance(attr, str)
            found.add((module, attr) if ok else ("?", "?"))
            stack.append(None)
        else:  # any other opcode: only its effect on the stack's depth matters here
            before = list(op.stack_before)
            if pickletools.markobject in before:
                del stack[marks.pop() if marks else 0:]
                before = before[:before.index(pickletools.markobject)]
            del stack[max(len(stack) - len(before), 0):]
            stack.extend([None] * len(op.stack_after))
    return found


def refused_globals(path: str | Path) -> list[str]:
    """``module.name`` of every lookup in a torch checkpoint's pickles that no detection
    model needs (empty when it holds only model classes and tensors). A file that is not a
    torch zip checkpoint, or a pickle that cannot be read, is an :class:`InputError`."""
    what = f"{path}: not a torch checkpoint (expected the zip file torch.save writes)"
    try:
        with zipfile.ZipFile(path) as z:
            pickles = [z.read(n) for n in z.namelist() if n.endswith(".pkl")]
    except (zipfile.BadZipFile, OSError, ValueError):
        raise InputError(what) from None
    if not pickles:
        raise InputError(what)
    bad = set()
    for data in pickles:
        try:
            looked_up = pickle_globals(data)
        except Exception:  # a damaged pickle is no model
            raise InputError(f"{path}: a pickle in it cannot be read (the file is damaged)"
                             ) from None
        for module, attr in looked_up:
            if not any(_allowed(module, attr, m, p) for m, p in _ALLOWED):
                bad.add(f"{module}.{attr}")
    return sorted(bad)


def _allowed(module: str, attr: str, allowed: str, names: re.Pattern) -> bool:
    inside = module.startswith(allowed) if allowed.endswith(".") else module == allowed
    return inside and names.fullmatch(attr) is not None


def check_checkpoint(path: str | Path, trusted: bool) -> str | None:
    """Raise :class:`InputError` unless the ``.pt`` at ``path`` may be loaded (see the module
    doc). Returns None for a shipped model, else the one line a run says about it."""
    digest = sha256_of(path)
    if digest in SHIPPED:
        return None
    if not trusted:
        raise InputError(f"{path}: not a model shipped with walkout (sha256 {digest[:12]}...), "
                         "and loading a .pt can run any code it holds: use its .onnx export, "
                         "or pass --trust-model (detector.trust: true in the store) if you "
                         "trust where it came from")
    bad = refused_globals(path)
    if bad:
        more = f" and {len(bad) - 1} more" if len(bad) > 1 else ""
        raise InputError(f"{path}: refused even with --trust-model: its pickle calls "
                         f"{bad[0][:80]}{more}, which no detection model needs")
    return (f"{path}: not a shipped model; loading it as trusted (--trust-model), its pickle "
            "checked to hold only model classes and tensors")
