"""Errors the CLI turns into a clear message and a non-zero exit."""

from __future__ import annotations

__all__ = ["BenchsmithError", "ManifestError", "SourceError", "ChecksumError"]


class BenchsmithError(Exception):
    """A user-facing error: the message names the file/row/key and the fix."""


class ManifestError(BenchsmithError):
    """A manifest is invalid (unknown key, wrong type, bad value)."""


class SourceError(BenchsmithError):
    """A source cannot be read (missing file, bad format, missing column)."""


class ChecksumError(SourceError):
    """A downloaded or local file does not match its published checksum."""
