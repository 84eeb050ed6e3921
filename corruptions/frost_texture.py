"""Frost textures for the ``frost`` corruption: the published photographs, pinned and cached.

ImageNet-C's frost overlays a random crop of one of six photographs of frost on
a window (``frost1.png`` ... ``frost6.jpg``; the scripts draw ``randint(5)``, so
only the first five are ever used). They are not copied into this repository:
``python -m corruptions.frost_texture --fetch`` (run by ``make install``) takes
them from the ``imagecorruptions==1.1.2`` wheel on PyPI (``pip download
--no-deps``; an installed copy of that package is used instead when present,
located without importing it), checks every file against the sha256 pinned
below and writes them to the cache folder (``$BENCHSMITH_CACHE/frost``, default
``~/.cache/benchsmith/frost``). At run time the kernel reads only that folder
and checks the hashes again; missing or different files raise a
:class:`~pipeline.errors.BenchsmithError` that says how to fetch them. So every
machine uses the same bytes, whatever is installed.

:data:`TEXTURE_SET` names the set and its hash (it goes into every frost row's
params, hence into the provenance). The procedural stand-in
(:func:`procedural_texture`) is used only by the separate ``frost_procedural``
corruption, i.e. when a manifest asks for it by name.

Reference:
    Hendrycks & Dietterich (2019); bethgelab/imagecorruptions ``frost/``.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import os
import subprocess
import sys
import tempfile
import zipfile
from functools import cache, lru_cache
from pathlib import Path

import cv2
import numpy as np

from corruptions._fractal import plasma_fractal
from corruptions._motion import motion_filter

__all__ = [
    "N_TEXTURES",
    "PINNED_SHA256",
    "TEXTURE_SET",
    "PROCEDURAL_SET",
    "cache_dir",
    "fetch",
    "texture",
    "procedural_texture",
    "main",
]

#: How many textures the frost kernel chooses from (upstream ``randint(5)``).
N_TEXTURES = 5
#: The published photographs (as shipped in hendrycks/robustness and imagecorruptions 1.1.2).
PINNED_SHA256: dict[str, str] = {
    "frost1.png": "ff9f907860bd7a835d459e32f9d588062b7f61ee267343cc7222b56753a14755",
    "frost2.png": "fe211a89b336999c207a852ce05818d4545d0b57c5beadd824b4cc9d9a9b6137",
    "frost3.png": "2d0d50b4a9bb213f38b024ef7768731bb83cc08d2f26b5766bbc167cdfa0e504",
    "frost4.jpg": "3f8b91ca1a9fa7167b09e773da53f5ae60d0a1fd88f02a783f6e328a72887f6e",
    "frost5.jpg": "5fc6a19df4a429ba68abdcc8f8a4278d4c9f81c9ccafd2c92ab0c8cf8992ebd2",
    "frost6.jpg": "1f92b2f48408748085b68dd81d816ef239f42cef3029c25d041fcb6760fb4f25",
}
_FILES = tuple(PINNED_SHA256)
_SET_HASH = hashlib.sha256(
    "".join(f"{name} {sha}\n" for name, sha in PINNED_SHA256.items()).encode()
).hexdigest()
#: Provenance name of the published set: ``published-sha256:<hash of the six pins>``.
TEXTURE_SET = f"published-sha256:{_SET_HASH[:16]}"
#: Provenance name of the procedural stand-in (changes when its recipe does).
PROCEDURAL_SET = "procedural-v2"
_WHEEL = "imagecorruptions==1.1.2"
#: Size (H, W) of the procedural textures, like the smaller upstream photographs.
_PROCEDURAL_SHAPE = (480, 720)
_PROCEDURAL_SEED = 20190328  # fixed: the stand-in textures are data, not per-sample noise


def _error(message: str) -> Exception:
    from pipeline.errors import BenchsmithError  # the CLI turns it into exit code 2

    return BenchsmithError(message)


def cache_dir() -> Path:
    """Return the cache folder: ``$BENCHSMITH_CACHE/frost`` or ``~/.cache/benchsmith/frost``."""
    root = os.environ.get("BENCHSMITH_CACHE")
    base = Path(root) if root else Path.home() / ".cache" / "benchsmith"
    return base / "frost"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _verified(folder: Path) -> list[str]:
    """Names of the pinned files missing or different in ``folder``."""
    bad = []
    for name, sha in PINNED_SHA256.items():
        path = folder / name
        if not path.is_file() or _sha256(path.read_bytes()) != sha:
            bad.append(name)
    return bad


def _from_installed() -> dict[str, bytes]:
    """Read the six files of an installed imagecorruptions (found without importing it)."""
    spec = importlib.util.find_spec("imagecorruptions")
    if spec is None or not spec.submodule_search_locations:
        return {}
    folder = Path(next(iter(spec.submodule_search_locations))) / "frost"
    return {n: (folder / n).read_bytes() for n in _FILES if (folder / n).is_file()}


def _from_wheel(workdir: Path) -> dict[str, bytes]:
    """Read the six files from the imagecorruptions wheel, downloaded by pip (no deps)."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
           "--disable-pip-version-check", "-q", "-d", str(workdir), _WHEEL]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    wheels = sorted(workdir.glob("imagecorruptions-*.whl"))
    if done.returncode != 0 or not wheels:
        raise _error(
            f"could not download {_WHEEL} for the frost photographs "
            f"({done.stderr.strip()[-300:] or 'no wheel'}); check the network or a pip index"
        )
    with zipfile.ZipFile(wheels[0]) as whl:
        names = set(whl.namelist())
        return {n: whl.read(f"imagecorruptions/frost/{n}") for n in _FILES
                if f"imagecorruptions/frost/{n}" in names}


def fetch(folder: Path | None = None) -> Path:
    """Fill the cache with the six pinned photographs (no-op when already there and intact).

    Args:
        folder: Target folder (default :func:`cache_dir`).

    Returns:
        The folder.

    Raises:
        BenchsmithError: When the files cannot be obtained or do not match their pins.

    """
    folder = Path(folder) if folder is not None else cache_dir()
    missing = _verified(folder)
    if not missing:
        return folder
    found = {n: b for n, b in _from_installed().items() if _sha256(b) == PINNED_SHA256[n]}
    if any(n not in found for n in missing):
        with tempfile.TemporaryDirectory(prefix="benchsmith-frost-") as tmp:
            found.update(_from_wheel(Path(tmp)))
    folder.mkdir(parents=True, exist_ok=True)
    for name in missing:
        data = found.get(name)
        if data is None or _sha256(data) != PINNED_SHA256[name]:
            raise _error(
                f"frost photograph {name} from {_WHEEL} is missing or does not match its "
                f"pinned sha256 {PINNED_SHA256[name][:16]}...; nothing was written for it"
            )
        tmp_path = folder / f".{name}.{os.getpid()}.tmp"
        tmp_path.write_bytes(data)
        os.replace(tmp_path, folder / name)
    _published_folder.cache_clear()
    return folder


@cache
def _published_folder() -> Path:
    folder = cache_dir()
    bad = _verified(folder)
    if bad:
        raise _error(
            f"frost needs the published frost photographs in {folder}, but {', '.join(bad)} "
            "are missing or differ from their pinned sha256. Fix: run "
            "`python -m corruptions.frost_texture --fetch` (part of `make install`; set "
            "BENCHSMITH_CACHE to choose the folder), or ask for the stand-in by name with "
            "the corruption `frost_procedural`"
        )
    return folder


def procedural_texture(index: int) -> np.ndarray:
    """Draw the stand-in frost texture number ``index`` (deterministic).

    The texture is a sum of (a) a smooth plasma-fractal haze and (b) ice
    needles: sparse bright seeds smeared by motion blur along a few random
    directions, combined by maximum, tinted blue-white. It is calibrated to the
    mean (about 165) and standard deviation (about 30) of the upstream
    photographs, so per-severity statistics are close, but it is not the
    ImageNet-C texture and results made with it are not comparable pixel-wise.

    Args:
        index: Texture number in ``0..N_TEXTURES-1``.

    Returns:
        A read-only uint8 RGB array of shape (480, 720, 3).

    """
    return _procedural(int(index))


@cache
def _procedural(index: int) -> np.ndarray:
    if not 0 <= index < N_TEXTURES:
        raise ValueError(f"texture index must be in 0..{N_TEXTURES - 1}, got {index}")
    rng = np.random.default_rng(np.random.SeedSequence([_PROCEDURAL_SEED, index]))
    h, w = _PROCEDURAL_SHAPE
    haze = plasma_fractal(1024, 1.8, rng)[:h, :w].astype(np.float32)
    needles = np.zeros((h, w), dtype=np.float32)
    for angle in rng.uniform(0.0, 180.0, size=4):
        seeds = (rng.random((h, w), dtype=np.float32) > 0.985).astype(np.float32)
        streak = motion_filter(seeds, float(rng.uniform(6, 14)), 6.0, float(angle))
        needles = np.maximum(needles, streak)
    needles = cv2.GaussianBlur(needles, (3, 3), 0.7)
    needles /= max(float(needles.max()), 1e-6)
    value = 70.0 + 120.0 * haze + 150.0 * np.sqrt(needles)
    tint = np.array([0.93, 0.97, 1.0], dtype=np.float32)  # R, G, B: cold blue-white
    out = np.clip(value[..., None] * tint, 0, 255).astype(np.uint8)
    out.setflags(write=False)
    return out


@cache
def _photo(index: int, gray: bool) -> np.ndarray:
    path = str(_published_folder() / _FILES[index])
    if gray:
        img = cv2.imread(path, cv2.IMREAD_GRAYSCALE)
    else:
        img = cv2.imread(path, cv2.IMREAD_COLOR)
        img = None if img is None else np.ascontiguousarray(img[..., ::-1])  # BGR -> RGB
    if img is None:
        raise _error(f"could not decode frost photograph {path}; delete it and run --fetch")
    img.setflags(write=False)
    return img


@lru_cache(maxsize=64)
def texture(texture_set: str, index: int, gray: bool, scale: float) -> np.ndarray:
    """Return frost texture ``index`` of a set, resized by ``scale``.

    Args:
        texture_set: :data:`TEXTURE_SET` (the published photographs) or
            :data:`PROCEDURAL_SET`.
        index: Texture number in ``0..N_TEXTURES-1``.
        gray: Return a single-channel (H, W) texture (MNIST-C reads it with
            ``cv2.IMREAD_GRAYSCALE``) instead of RGB (H, W, 3).
        scale: Resize factor (> 0); 1 keeps the photograph's pixels. Other values
            use ``cv2.resize(fx=fy=scale)`` with bilinear interpolation, as the
            CIFAR-10-C (0.2) and Tiny-ImageNet-C (0.3) scripts do.

    Returns:
        A read-only uint8 array.

    """
    if texture_set not in (TEXTURE_SET, PROCEDURAL_SET):
        raise ValueError(
            f"texture_set must be {TEXTURE_SET!r} or {PROCEDURAL_SET!r}, got {texture_set!r}"
        )
    if not 0 <= index < N_TEXTURES:
        raise ValueError(f"texture index must be in 0..{N_TEXTURES - 1}, got {index}")
    if scale <= 0:
        raise ValueError(f"texture_scale must be > 0, got {scale}")
    if texture_set == TEXTURE_SET:
        img = _photo(index, gray)
    else:
        img = _procedural(index)
        if gray:
            img = cv2.cvtColor(np.ascontiguousarray(img), cv2.COLOR_RGB2GRAY)
    if scale != 1.0:
        img = cv2.resize(img, (0, 0), fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)
    img = np.ascontiguousarray(img)
    img.setflags(write=False)
    return img


def main(argv: list[str] | None = None) -> int:
    """``python -m corruptions.frost_texture --fetch [--dir DIR]``: fill the texture cache."""
    parser = argparse.ArgumentParser(prog="python -m corruptions.frost_texture")
    parser.add_argument("--fetch", action="store_true", help="download/verify the photographs")
    parser.add_argument("--dir", type=Path, default=None, help="cache folder")
    args = parser.parse_args(argv)
    if not args.fetch:
        parser.print_help()
        return 0
    from pipeline.errors import BenchsmithError

    try:
        folder = fetch(args.dir)
    except BenchsmithError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"frost photographs verified in {folder} ({TEXTURE_SET})")
    return 0


if __name__ == "__main__":  # pragma: no cover - command-line entry
    raise SystemExit(main())
