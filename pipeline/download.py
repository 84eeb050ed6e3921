"""Checksum-verified file acquisition: a local directory first, then the official URLs.

Downloads go to a temporary name beside the target and are renamed only after
the checksum matches, so a crash never leaves a half file that looks complete.
Tests never call the network; they point sources at local directories.
"""

from __future__ import annotations

import hashlib
import os
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from pipeline.errors import ChecksumError, SourceError

__all__ = ["file_digest", "verify", "cache_dir", "fetch"]


def file_digest(path: Path, algorithm: str = "md5", *, chunk: int = 1 << 20) -> str:
    """Hex digest of a file, read in chunks.

    Args:
        path: File to hash.
        algorithm: Any :mod:`hashlib` name (``md5``, ``sha256``).
        chunk: Read size in bytes.
    """
    h = hashlib.new(algorithm)
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def verify(path: Path, md5: str | None) -> None:
    """Raise :class:`ChecksumError` unless ``path`` has the published md5.

    Args:
        path: The file.
        md5: The published checksum, or ``None`` to skip (only for sources that publish none).
    """
    if md5 is None:
        return
    got = file_digest(path, "md5")
    if got != md5:
        raise ChecksumError(
            f"{path}: md5 {got} does not match the published {md5}; the file is corrupt or a "
            "different version: delete it and download again (or pass the right file)"
        )


def cache_dir() -> Path:
    """Where downloads are kept: ``$BENCHSMITH_CACHE`` or ``~/.cache/benchsmith``."""
    # empty counts as unset (Path("") would put the cache in the working folder)
    return Path(os.environ.get("BENCHSMITH_CACHE") or Path.home() / ".cache" / "benchsmith")


def fetch(
    filename: str,
    *,
    md5: str | None,
    urls: Sequence[str],
    local_dir: Path | None,
    download: bool,
    subdir: str,
) -> Path:
    """Return a verified local copy of ``filename``.

    Args:
        filename: The file's official name.
        md5: Its published md5.
        urls: Base URLs to try in order (``url + filename``).
        local_dir: A directory the user already has the file in (checked first).
        download: Whether to download when it is not local.
        subdir: Cache sub-directory for downloads.

    Raises:
        SourceError: The file is neither local nor downloadable.
        ChecksumError: The file's md5 is wrong.
    """
    if local_dir is not None:
        path = Path(local_dir) / filename
        if path.is_file():
            verify(path, md5)
            return path
        if not download:
            raise SourceError(
                f"{path} not found; put the official file there or set `download: true` "
                "in the source options"
            )
    target = cache_dir() / subdir / filename
    if target.is_file():
        verify(target, md5)
        return target
    if not download:
        raise SourceError(
            f"{filename} is not in {local_dir or target.parent}; set `path:` to a directory "
            "holding it, or `download: true`"
        )
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # $BENCHSMITH_CACHE is a file, under a file, or read-only
        raise SourceError(f"cannot create the download folder {target.parent} ({exc}); point "
                          "$BENCHSMITH_CACHE at a writable directory") from exc
    errors = []
    for base in urls:
        tmp = target.with_name(f".{filename}.{os.getpid()}.part")
        try:
            with (
                urllib.request.urlopen(base + filename, timeout=60) as resp,
                open(tmp, "wb") as out,
            ):
                while block := resp.read(1 << 20):
                    out.write(block)
            verify(tmp, md5)
            os.replace(tmp, target)
            return target
        except (OSError, ChecksumError) as exc:
            errors.append(f"{base}{filename}: {exc}")
            tmp.unlink(missing_ok=True)
    raise SourceError("could not download " + filename + ":\n  " + "\n  ".join(errors))
