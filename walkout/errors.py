"""Errors a person can act on.

Every error that reaches the CLI is a :class:`WalkoutError`. Its message is one line that
names the file, the key or line, and what was expected; the CLI prints it and exits with
code 2, without a traceback.
"""

from __future__ import annotations


class WalkoutError(Exception):
    """Base class for errors caused by bad input, shown to the user as one line."""


class ConfigError(WalkoutError):
    """A store.yaml (or other config file) is missing, malformed or inconsistent."""


class InputError(WalkoutError):
    """An input file (video, CSV, JSON lines, clip folder) is missing or malformed."""


class MissingExtraError(WalkoutError):
    """An optional part of walkout is asked for but its extra is not installed; the message
    names the extra to install."""
