"""Builders of bad inputs for the corpus (``bad_input_cases``) and the fuzz suite.

Real bytes to start from (CIFAR-10 JPEGs and lossless pixels, the official CIFAR
meta file and MNIST IDX files from ``shared/datasets``), crafted bombs and
malformed headers, and writers of manifests, Parquet files, imagefolder trees and
CIFAR folders. Imports nothing from ``pipeline`` at module level, so the corpus
also runs against another checkout.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import pickle
import re
import socket
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

CIFAR_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
               "truck"]


def raw_http(port: int, request: bytes) -> tuple[int, bytes]:
    """Send raw HTTP bytes to 127.0.0.1:``port``; return (status, body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def run(argv: list[object]) -> tuple[int, str]:
    """Run the CLI in-process; return (exit status, stderr + stdout)."""
    from pipeline.cli import main as cli

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = cli([str(a) for a in argv])
        except SystemExit as exc:  # argparse
            rc = exc.code
    return int(rc or 0), err.getvalue() + out.getvalue()


def refused(argv: list[object], match: str) -> str:
    """Assert the command exits 2 with a message matching ``match``; return the message."""
    rc, text = run(argv)
    assert rc == 2, f"exit {rc}, expected 2:\n{text[-2000:]}"
    assert "Traceback" not in text, text
    assert re.search(match, text), f"{match!r} not in:\n{text[-2000:]}"
    return text


def shared() -> Path:
    """The shared/ data folder (``$BENCHSMITH_SHARED`` or ``../shared`` beside the repo)."""
    repo = Path(__file__).resolve().parents[2]
    return Path(os.environ.get("BENCHSMITH_SHARED", repo.parent / "shared"))


@dataclass(frozen=True)
class Case:
    """One bad input: ``build(tmp)`` returns CLI argv or a zero-argument callable."""

    id: str
    group: str
    expect: str
    build: Callable[[Path], Any]
    rejects: int = 1
    match: str | None = None
    check: Callable[[Path], bool] | None = None
    owner: str | None = None  # set when another module than the front door fixes it


# ---------------------------------------------------------------- real bytes to start from
@lru_cache(maxsize=1)
def real_jpegs() -> list[bytes]:
    """The first 4 CIFAR-10 test images as the JPEG bytes shared/ ships."""
    t = pq.read_table(shared() / "datasets/cifar10/cifar10-test-jpeg-official-order.parquet")
    return [d["bytes"] for d in t["image"].slice(0, 4).to_pylist()]


@lru_cache(maxsize=1)
def real_pixels() -> tuple[np.ndarray, np.ndarray]:
    """The first 4 lossless CIFAR-10 test images and labels."""
    z = np.load(shared() / "datasets/cifar10/cifar10_test_lossless_prefix.npz")
    return z["images"][:4], z["labels"][:4]


def png(arr: np.ndarray) -> bytes:
    """PNG bytes of an array (any mode Pillow infers)."""
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def encode(img: Image.Image, fmt: str) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt)
    return buf.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


@lru_cache(maxsize=1)
def png_bomb() -> bytes:
    """An ~875 KB PNG declaring 30000x30000 8-bit gray (900 MB of zeros when decoded)."""
    w = h = 30000
    comp = zlib.compressobj(9)
    row = b"\x00" * (w + 1)
    idat = b"".join(comp.compress(row) for _ in range(h)) + comp.flush()
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)
    chunks = _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + chunks


def jpeg_bomb() -> bytes:
    """A real CIFAR JPEG whose SOF0 marker is patched to declare 60000x60000."""
    data = bytearray(real_jpegs()[0])
    i = data.index(b"\xff\xc0")
    data[i + 5 : i + 9] = struct.pack(">HH", 60000, 60000)
    return bytes(data)


def gif_bomb() -> bytes:
    """A tiny GIF whose screen and frame descriptors declare 65535x65535."""
    data = bytearray(encode(Image.fromarray(real_pixels()[0][0]).convert("P"), "GIF"))
    data[6:10] = struct.pack("<HH", 65535, 65535)
    i = data.index(b"\x2c")  # image descriptor
    data[i + 5 : i + 9] = struct.pack("<HH", 65535, 65535)
    return bytes(data)


def bmp_bomb() -> bytes:
    """A small BMP whose header declares 50000x50000 pixels."""
    data = bytearray(encode(Image.fromarray(real_pixels()[0][0]), "BMP"))
    data[18:26] = struct.pack("<ii", 50000, 50000)
    return bytes(data)


def png16(value: int) -> bytes:
    return encode(Image.fromarray(np.full((4, 4), value, np.uint16)), "PNG")


def tiff(arr: np.ndarray) -> bytes:
    return encode(Image.fromarray(arr), "TIFF")


def bad_crc_png() -> bytes:
    data = bytearray(png(real_pixels()[0][0]))
    data[29] ^= 0xFF  # inside the IHDR CRC
    return bytes(data)


def zero_width_png() -> bytes:
    data = bytearray(png(real_pixels()[0][0]))
    data[16:20] = b"\x00\x00\x00\x00"
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


SVG = b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"></svg>'
HEIC = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 64


# ---------------------------------------------------------------- writers
def argv_for(tmp: Path, manifest: dict | str | bytes, *extra: str) -> list[str]:
    """Write the manifest and return ``pull`` argv into ``tmp/out``."""
    path = tmp / "m.yaml"
    if isinstance(manifest, dict):
        manifest = json.dumps(manifest)  # JSON is YAML
    path.write_bytes(manifest if isinstance(manifest, bytes) else manifest.encode())
    return ["pull", "--manifest", str(path), "--out", str(tmp / "out"), "--no-progress",
            "--scheduler", "sync", *extra]


def manifest(source: str, options: dict | None = None, splits: list | None = None,
             **top: Any) -> dict:
    src: dict[str, Any] = {"source": source, "splits": splits or ["test"]}
    if options is not None:
        src["options"] = options
    src.update(top.pop("src", {}))
    return {"name": "bad", "seed": 0, "sources": [src], **top}


def hf_meta(names: list[str] | None = None) -> dict[bytes, bytes]:
    feats = {"image": {"_type": "Image"},
             "label": {"names": names or CIFAR_NAMES, "_type": "ClassLabel"}}
    return {b"huggingface": json.dumps({"info": {"features": feats}}).encode()}


def write_parquet(path: Path, images: list[Any] | None = None, labels: list[Any] | None = None, *,
                  label_type: pa.DataType | None = None, image_type: pa.DataType | None = None,
                  meta: dict | None = None, extra: dict | None = None) -> Path:
    images = images if images is not None else [{"bytes": b, "path": None} for b in real_jpegs()]
    labels = labels if labels is not None else [3, 8, 8, 0][: len(images)]
    image_type = image_type or pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    cols = {"image": pa.array(images, image_type),
            "label": pa.array(labels, label_type or pa.int64())}
    cols.update(extra or {})
    table = pa.table(cols).replace_schema_metadata(hf_meta() if meta is None else meta)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)
    return path


def parquet_case(images: list[Any] | None = None, labels: list[Any] | None = None,
                 options: dict | None = None, **kw: Any) -> Callable[[Path], list[str]]:
    def build(tmp: Path) -> list[str]:
        p = write_parquet(tmp / "pq" / "test.parquet", images, labels, **kw)
        return argv_for(tmp, manifest("parquet", {"files": {"test": str(p)}, **(options or {})}))
    return build


def with_image(data: bytes) -> Callable[[Path], list[str]]:
    """A Parquet file of three real images plus one bad one."""
    imgs = [{"bytes": b, "path": None} for b in real_jpegs()[:3]] + [{"bytes": data, "path": None}]
    return lambda tmp: parquet_case(imgs)(tmp)


def raw_parquet(data: Callable[[Path], bytes], options: dict | None = None):
    def build(tmp: Path) -> list[str]:
        p = tmp / "pq" / "test.parquet"
        p.parent.mkdir(parents=True)
        p.write_bytes(data(tmp))
        return argv_for(tmp, manifest("parquet", {"files": {"test": str(p)}, **(options or {})}))
    return build


def good_parquet_bytes(tmp: Path) -> bytes:
    return write_parquet(tmp / "good.parquet").read_bytes()


def tree(files: dict[Any, Any], options: dict | None = None, setup=None,
         splits: list[str] | None = None) -> Callable[[Path], list[str]]:
    """An imagefolder tree: relative path (str or bytes) -> bytes; plus two good images."""
    def build(tmp: Path) -> list[str]:
        root = tmp / "tree"
        good = {"cat/a.png": png(real_pixels()[0][0]), "dog/b.png": png(real_pixels()[0][1])}
        if splits:
            good = {f"{splits[0]}/{k}": v for k, v in good.items()}
        for rel, data in {**good, **files}.items():
            p = os.path.join(os.fsencode(root), os.fsencode(rel))
            os.makedirs(os.path.dirname(p), exist_ok=True)
            with open(p, "wb") as fh:
                fh.write(data)
        if setup is not None:
            setup(tmp, root)
        return argv_for(tmp, manifest("imagefolder", {"root": str(root), **(options or {})},
                                      splits or ["train"]))
    return build


def folder_opts(options: dict) -> Callable[[Path], list[str]]:
    return tree({}, options)


def cifar_batch(images: np.ndarray | None = None, labels: Any = None, **override: Any) -> bytes:
    imgs, labs = real_pixels()
    images = imgs if images is None else images
    data = np.ascontiguousarray(images.transpose(0, 3, 1, 2).reshape(len(images), 3072))
    batch = {b"batch_label": b"testing batch 1 of 1",
             b"labels": [int(x) for x in labs] if labels is None else labels,
             b"data": data, b"filenames": [b"x.png"] * len(images)}
    batch.update({k.encode(): v for k, v in override.items()})
    for k in [k for k, v in batch.items() if v is _DROP]:
        del batch[k]
    return pickle.dumps(batch, protocol=2)


_DROP = object()


def real_meta() -> bytes:
    return (shared() / "datasets/cifar10/batches.meta").read_bytes()


def cifar(batch: Callable[[], bytes] | None = None, meta: Callable[[], bytes] | None = None,
          options: dict | None = None) -> Callable[[Path], list[str]]:
    def build(tmp: Path) -> list[str]:
        root = tmp / "cifar" / "cifar-10-batches-py"
        root.mkdir(parents=True)
        (root / "test_batch").write_bytes(batch() if batch else cifar_batch())
        (root / "batches.meta").write_bytes(meta() if meta else real_meta())
        opts = {"path": str(root.parent)} if options is None else options
        return argv_for(tmp, manifest("cifar10", opts))
    return build


def meta_pickle(**fields: Any) -> Callable[[], bytes]:
    return lambda: pickle.dumps({k.encode(): v for k, v in fields.items()}, protocol=2)


class _Reduce:
    """A pickle payload made from an explicit ``__reduce__`` tuple."""

    def __init__(self, value: tuple) -> None:
        self.value = value

    def __reduce__(self) -> tuple:
        return self.value


def huge_array_batch() -> bytes:
    from numpy._core.multiarray import _reconstruct

    fake = _Reduce((_reconstruct, (np.ndarray, (0,), b"b"),
                    (1, (10**12, 3072), np.dtype(np.uint8), False, b"\x00" * 16)))
    return pickle.dumps({b"data": fake, b"labels": [0]}, protocol=2)


def huge_bytes_batch() -> bytes:
    return b"\x80\x04\x8e" + struct.pack("<Q", 2**62) + b"abc"


def mnist_gz(name: str) -> bytes:
    return (shared() / "datasets/mnist" / name).read_bytes()


def idx_call(data: Callable[[], bytes], name: str = "x-idx1-ubyte") -> Callable[[Path], Callable]:
    def build(tmp: Path) -> Callable[[], Any]:
        from pipeline.sources.idx import read_idx

        p = tmp / name
        p.write_bytes(data())
        return lambda: read_idx(p)
    return build


def raw_idx_labels() -> bytes:
    import gzip

    return gzip.decompress(mnist_gz("t10k-labels-idx1-ubyte.gz"))


def mnist_dir(mutate: Callable[[bytes], bytes] | None = None, options: dict | None = None):
    def build(tmp: Path) -> list[str]:
        d = tmp / "mnist"
        d.mkdir()
        for n in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
            data = mnist_gz(n)
            (d / n).write_bytes(mutate(data) if mutate and "labels" in n else data)
        opts = {"path": str(d)} if options is None else options
        return argv_for(tmp, manifest("mnist", opts), "--set", "sources.0.limit=3")
    return build


def yaml_text(text: str | bytes) -> Callable[[Path], list[str]]:
    return lambda tmp: argv_for(tmp, text)


def m5k(**top: Any) -> Callable[[Path], list[str]]:
    """The bundled mnist5k source (3 rows) with top-level keys or source keys changed."""
    def build(tmp: Path) -> list[str]:
        src = {"limit": 3, **top.pop("src", {})}
        return argv_for(tmp, manifest("mnist5k", splits=src.pop("splits", ["train"]), src=src,
                                      **top))
    return build


def corrupt_name(template: str) -> Callable[[Path], list[str]]:
    return m5k(corrupt={"suites": [{"corruptions": {"fog": [1]}, "config_name": template}]})


def cli(*args: str, text: dict | None = None) -> Callable[[Path], list[str]]:
    def build(tmp: Path) -> list[str]:
        argv = argv_for(tmp, text or manifest("mnist5k", splits=["train"], src={"limit": 3}))
        return [*argv, *args]
    return build


def laughs(levels: int) -> str:
    """A "billion laughs" manifest: ``levels`` nested anchors inside the description."""
    items = ["&a0 lol"] + [f"&a{i} [{', '.join([f'*a{i - 1}'] * 10)}]"
                           for i in range(1, levels + 1)]
    return (f"name: bad\ndescription: [{', '.join(items)}]\n"
            "sources: [{source: mnist5k, splits: [train], limit: 3}]\n")


def symlink_out(tmp: Path, root: Path) -> None:
    (tmp / "secret.png").write_bytes(png(real_pixels()[0][2]))
    os.symlink(tmp / "secret.png", root / "cat" / "link.png")


def symlink_dir_out(tmp: Path, root: Path) -> None:
    (tmp / "elsewhere").mkdir()
    (tmp / "elsewhere" / "x.png").write_bytes(png(real_pixels()[0][2]))
    os.symlink(tmp / "elsewhere", root / "cat" / "more")


def broken_link(tmp: Path, root: Path) -> None:
    os.symlink(tmp / "missing.png", root / "cat" / "gone.png")


def path_cell(ref: Callable[[Path], str]) -> Callable[[Path], list[str]]:
    def build(tmp: Path) -> list[str]:
        (tmp / "outside.png").write_bytes(png(real_pixels()[0][2]))
        imgs = [{"bytes": b, "path": None} for b in real_jpegs()[:3]]
        imgs.append({"bytes": None, "path": ref(tmp)})
        return parquet_case(imgs)(tmp)
    return build


# ---------------------------------------------------------------- output checks
def output_pixels(out: Path) -> list[np.ndarray]:
    rows = []
    for f in sorted(out.glob("*/*.parquet")):
        for d in pq.read_table(f)["image"].to_pylist():
            rows.append(np.asarray(Image.open(io.BytesIO(d["bytes"]))))
    return rows


def sixteen_bit_rule(out: Path) -> bool:
    """200 and 300 (16-bit) both map by round(v * 255 / 65535): 1 and 1."""
    px = output_pixels(out)
    values = sorted({int(p.max()) for p in px if p.ndim == 2 and p.shape == (4, 4)})
    return values == [1] or values == [1, 1]


def alpha_dropped(out: Path) -> bool:
    want = real_pixels()[0][0]
    return any(p.shape == want.shape and np.array_equal(p, want) for p in output_pixels(out))


def palette_rgb(out: Path) -> bool:
    img = Image.fromarray(real_pixels()[0][0]).convert("P")
    want = np.asarray(img.convert("RGB"))
    return any(p.shape == want.shape and np.array_equal(p, want) for p in output_pixels(out))


def rgba_png() -> bytes:
    rgb = real_pixels()[0][0]
    alpha = np.full(rgb.shape[:2] + (1,), 7, np.uint8)
    return png(np.concatenate([rgb, alpha], axis=2))


@contextlib.contextmanager
def offline(tmp: Path):
    """Any download attempt fails fast (dead proxy) and lands in ``tmp``'s cache."""
    saved = {k: os.environ.get(k) for k in ("http_proxy", "https_proxy", "BENCHSMITH_CACHE")}
    os.environ.update(http_proxy="http://127.0.0.1:9", https_proxy="http://127.0.0.1:9",
                      BENCHSMITH_CACHE=str(tmp / "cache"))
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
