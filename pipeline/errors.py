"""Errors the CLI turns into a clear message and a non-zero exit."""

from __future__ import annotations

__all__ = [
    "BenchsmithError",
    "ManifestError",
    "SourceError",
    "ChecksumError",
    "DecodeError",
    "OptionError",
]


class BenchsmithError(Exception):
    """A user-facing error: the message names the file/row/key and the fix."""


class ManifestError(BenchsmithError):
    """A manifest is invalid (unknown key, wrong type, bad value)."""


class SourceError(BenchsmithError):
    """A source cannot be read (missing file, bad format, missing column)."""


class ChecksumError(SourceError):
    """A downloaded or local file does not match its published checksum."""


class DecodeError(SourceError):
    """An image cannot be decoded: over the pixel limit, unsupported mode, broken bytes.

    Sources quarantine the row with this message as the reason.
    """


class OptionError(ManifestError):
    """A manifest or source option has the wrong type or value (names key, value, allowed, fix)."""
