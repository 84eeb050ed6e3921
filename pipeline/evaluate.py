"""``benchsmith evaluate``: run an ONNX classifier over every image config of a benchmark.

``benchsmith evaluate <benchmark> --model model.onnx --out predictions.parquet`` reads each
``clean`` and ``corruption`` config of a published benchmark (or of stage output folders),
runs the model with onnxruntime on CPU in batches (progress bar), and writes the predictions
file ``benchsmith score`` reads: ``sample_id``, ``config``, ``model``, ``prediction`` (argmax)
and, with ``--probs``, ``probs`` (softmax of the outputs, float32). So "build, evaluate,
score" is three commands.

Preprocessing (all optional, in this order): decode (grey images are repeated to 3 channels
when the model wants 3), ``--resize`` the shorter side (PIL bilinear, the long side truncated
as torchvision's ``Resize(int)``), ``--crop`` the centre (offset rounded as ``CenterCrop``),
scale to [0, 1] (``--scale``), subtract ``--mean`` and divide by ``--std`` per channel, then
lay out as NCHW (default) or NHWC. The model must take one float32 image batch and return
(batch, classes) scores in the benchmark's class order.
"""

from __future__ import annotations

import argparse
import io
import math
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

from pipeline.errors import BenchsmithError
from pipeline.reannotate.tables import class_names, find_configs, pick_config
from pipeline.shards import list_shards, read_shard

__all__ = ["Preprocess", "check_preprocess", "preprocess_batch", "evaluate", "main"]

IMAGE_KINDS = ("clean", "corruption")


@dataclass(frozen=True)
class Preprocess:
    """How images become the model's input tensor.

    Attributes:
        resize: Shorter side in pixels after a PIL bilinear resize, or ``None``.
        crop: Centre crop side in pixels, or ``None``.
        scale: Divide uint8 values by this (255 gives [0, 1]).
        mean: Per-channel mean subtracted after scaling.
        std: Per-channel std divided by after the mean.
        layout: ``nchw`` or ``nhwc``.
        channels: Channels the model takes (1 or 3); grey images are repeated to 3.
    """

    resize: int | None = None
    crop: int | None = None
    scale: float = 255.0
    mean: tuple[float, ...] = (0.0,)
    std: tuple[float, ...] = (1.0,)
    layout: str = "nchw"
    channels: int = 3


def _decode(data: bytes, pre: Preprocess, what: str) -> np.ndarray:
    try:
        with Image.open(io.BytesIO(data)) as img:
            img = img.convert("RGB" if pre.channels == 3 else "L")
            if pre.resize:
                w, h = img.size  # torchvision Resize(int): short side = size, long truncated
                size = ((pre.resize, int(pre.resize * h / w)) if w <= h
                        else (int(pre.resize * w / h), pre.resize))
                img = img.resize(size, Image.BILINEAR)
            if pre.crop:
                w, h = img.size
                if pre.crop > min(w, h):
                    raise BenchsmithError(f"{what}: --crop {pre.crop} exceeds the image {w}x{h}")
                left, top = int(round((w - pre.crop) / 2.0)), int(round((h - pre.crop) / 2.0))
                img = img.crop((left, top, left + pre.crop, top + pre.crop))
            arr = np.asarray(img)
    except (OSError, ValueError) as exc:
        raise BenchsmithError(f"{what}: image does not decode ({exc})") from exc
    return arr if arr.ndim == 3 else arr[:, :, None]


def check_preprocess(pre: Preprocess) -> None:
    """Refuse preprocessing that would feed the model NaN/inf or silently do nothing.

    Raises:
        BenchsmithError: ``--resize``/``--crop`` < 1, ``--scale``/``--std`` not finite and
            > 0, ``--mean`` not finite, or a mean/std with neither 1 nor ``--channels`` values.
    """
    for flag, v in (("--resize", pre.resize), ("--crop", pre.crop)):
        if v is not None and v < 1:
            raise BenchsmithError(f"{flag} {v}: expected a side >= 1 pixel (omit it to keep "
                                  "the image size)")
    if not (math.isfinite(pre.scale) and pre.scale > 0):
        raise BenchsmithError(f"--scale {pre.scale}: expected a finite number > 0 (255 gives "
                              "[0, 1])")
    for flag, vals in (("--mean", pre.mean), ("--std", pre.std)):
        if len(vals) not in (1, pre.channels):
            raise BenchsmithError(f"{flag} has {len(vals)} values; give 1 or --channels "
                                  f"({pre.channels})")
        if not all(math.isfinite(v) for v in vals) or flag == "--std" and min(vals) <= 0:
            raise BenchsmithError(f"{flag} {','.join(map(str, vals))}: expected finite numbers"
                                  + (" > 0" if flag == "--std" else ""))


def preprocess_batch(images: Sequence[np.ndarray], pre: Preprocess) -> np.ndarray:
    """Stack uint8 (H, W, C) images into the model's float32 input.

    Example:
        >>> pre = Preprocess(mean=(0.5,), std=(0.5,), channels=1)
        >>> preprocess_batch([np.full((2, 2, 1), 255, np.uint8)], pre).tolist()
        [[[[1.0, 1.0], [1.0, 1.0]]]]

    """
    shapes = {im.shape for im in images}
    if len(shapes) != 1:
        raise BenchsmithError(f"images of different sizes {sorted(shapes)} in one batch; pass "
                              "--resize and --crop")
    x = np.stack(images).astype(np.float32) / np.float32(pre.scale)
    x = (x - np.asarray(pre.mean, np.float32)) / np.asarray(pre.std, np.float32)
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2) if pre.layout == "nchw" else x)


def _batches(config_dir: Path, batch_size: int) -> Iterator[tuple[list[str], list[bytes]]]:
    for paths in list_shards(config_dir).values():
        for p in paths:
            try:
                t, _ = read_shard(p, ["sample_id", "image"])
                sids, cells = t["sample_id"].to_pylist(), t["image"].to_pylist()
            except (pa.ArrowException, OSError, KeyError) as exc:
                raise BenchsmithError(f"{p}: unreadable shard or no image column ({exc}); "
                                      "`benchsmith validate` the benchmark") from exc
            imgs = [d.get("bytes") if isinstance(d, dict) else None for d in cells]
            missing = [s for s, b in zip(sids, imgs, strict=True) if not b]
            if missing:
                raise BenchsmithError(f"{p}: {len(missing)} rows have no image bytes (e.g. "
                                      f"{missing[0]}); `benchsmith validate` the benchmark")
            for i in range(0, len(sids), batch_size):
                yield sids[i:i + batch_size], imgs[i:i + batch_size]


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z.astype(np.float64) - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


def evaluate(
    roots: Sequence[str | Path],
    model: str | Path,
    out: str | Path,
    *,
    pre: Preprocess,
    batch_size: int,
    model_name: str | None = None,
    probs: bool = False,
    configs: Sequence[str] | None = None,
    progress: bool = True,
    threads: int = 2,
) -> dict[str, Any]:
    """Run ``model`` over every clean and corruption config and write the predictions Parquet.

    Args:
        roots: Benchmark folder(s) (published folder or stage outputs).
        model: ONNX file.
        out: Predictions Parquet to write (temporary name, then renamed).
        pre: Preprocessing.
        batch_size: Images per model call (>= 1).
        model_name: The ``model`` column (default: the ONNX file stem).
        probs: Also write ``probs`` (softmax of the outputs).
        configs: Only these configs (default: every clean and corruption config).
        progress: Show a progress bar.
        threads: onnxruntime intra-op threads.

    Returns:
        ``{"rows": n, "configs": {config: rows}, "model": name}``.

    Raises:
        BenchsmithError: Missing model, bad input shape, output not (batch, classes).

    """
    import onnxruntime as ort
    from tqdm.auto import tqdm

    if batch_size < 1:
        raise BenchsmithError(f"--batch-size must be >= 1, got {batch_size}")
    check_preprocess(pre)
    if threads < 0:
        raise BenchsmithError(f"--threads must be >= 0 (0 = onnxruntime's default), got {threads}")
    if model_name is not None and not model_name.strip():
        raise BenchsmithError("--name must not be empty")
    if Path(out).is_dir():
        raise BenchsmithError(f"--out {out} is a folder; give the predictions Parquet file path")
    mpath = Path(model)
    if not mpath.is_file():
        raise BenchsmithError(f"model {mpath} not found")
    found = find_configs(roots)
    _, _, cmeta = pick_config(found, "clean")
    n_classes = len(class_names(cmeta))
    chosen = {n: d for n, (d, m) in sorted(found.items()) if m.get("kind") in IMAGE_KINDS}
    if configs:
        unknown = sorted(set(configs) - set(chosen))
        if unknown:
            raise BenchsmithError(f"no image config(s) {unknown}; configs: {sorted(chosen)}")
        chosen = {n: chosen[n] for n in configs}
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    try:
        sess = ort.InferenceSession(str(mpath), opts, providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own exception types
        raise BenchsmithError(f"{mpath}: onnxruntime cannot load the model ({exc})") from exc
    inp = sess.get_inputs()[0]
    total = sum(int(s.get("num_rows", 0)) for n, (_, m) in found.items() if n in chosen
                for s in m.get("splits", {}).values())
    cols: dict[str, list[Any]] = {"sample_id": [], "config": [], "prediction": [], "probs": []}
    counts: dict[str, int] = {}
    bar = tqdm(total=total or None, desc="evaluate", unit="img", disable=not progress)
    for cname, cdir in chosen.items():
        for sids, blobs in _batches(cdir, batch_size):
            x = preprocess_batch([_decode(b, pre, f"{cname}/{s}")
                                  for s, b in zip(sids, blobs, strict=True)], pre)
            try:
                y = sess.run(None, {inp.name: x})[0]
            except Exception as exc:  # noqa: BLE001
                raise BenchsmithError(
                    f"{mpath}: the model rejects input {x.shape} (it expects {inp.shape}); set "
                    f"--resize/--crop/--layout ({exc})") from exc
            if y.ndim != 2 or y.shape != (len(sids), n_classes):
                raise BenchsmithError(f"{mpath}: output {y.shape}, expected ({len(sids)}, "
                                      f"{n_classes}) scores in the benchmark's class order")
            bad = np.flatnonzero(~np.isfinite(y).all(axis=1))
            if bad.size:
                raise BenchsmithError(
                    f"{mpath}: non-finite scores (NaN/inf) for {bad.size} images of {cname}, "
                    f"e.g. {sids[int(bad[0])]}: {y[int(bad[0])][:5].tolist()}; no prediction "
                    "is taken from them (check the model and --scale/--mean/--std)")
            cols["sample_id"] += sids
            cols["config"] += [cname] * len(sids)
            cols["prediction"] += np.argmax(y, axis=1).tolist()
            if probs:
                cols["probs"] += list(_softmax(y))
            counts[cname] = counts.get(cname, 0) + len(sids)
            bar.update(len(sids))
    bar.close()
    name = model_name or mpath.stem
    table = {"sample_id": pa.array(cols["sample_id"], pa.string()),
             "config": pa.array(cols["config"], pa.string()),
             "model": pa.array([name] * len(cols["sample_id"]), pa.string()),
             "prediction": pa.array(cols["prediction"], pa.int64())}
    if probs:
        table["probs"] = pa.array(cols["probs"], pa.list_(pa.float32()))
    dest = Path(out)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    pq.write_table(pa.table(table), tmp)
    os.replace(tmp, dest)
    return {"rows": len(cols["sample_id"]), "configs": counts, "model": name}


def _floats(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(v) for v in text.split(","))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from exc


def main(argv: list[str] | None = None) -> int:
    """``benchsmith evaluate``: ONNX classifier -> predictions file for ``benchsmith score``."""
    parser = argparse.ArgumentParser(prog="benchsmith evaluate", description=main.__doc__)
    parser.add_argument("benchmark", nargs="+", type=Path, help="benchmark / build folder(s)")
    parser.add_argument("--model", required=True, type=Path, help="ONNX classifier")
    parser.add_argument("--out", type=Path, default=Path("predictions.parquet"),
                        help="predictions Parquet (default predictions.parquet)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--resize", type=int, default=None, help="shorter side (PIL bilinear)")
    parser.add_argument("--crop", type=int, default=None, help="centre crop side")
    parser.add_argument("--scale", type=float, default=255.0, help="divide pixels by this")
    parser.add_argument("--mean", type=_floats, default=(0.0,),
                        help="per-channel mean after scaling, e.g. 0.485,0.456,0.406")
    parser.add_argument("--std", type=_floats, default=(1.0,),
                        help="per-channel std, e.g. 0.229,0.224,0.225")
    parser.add_argument("--layout", choices=("nchw", "nhwc"), default="nchw")
    parser.add_argument("--channels", type=int, choices=(1, 3), default=3)
    parser.add_argument("--probs", action="store_true", help="also write softmax probabilities")
    parser.add_argument("--name", default=None, help="model name (default: the file stem)")
    parser.add_argument("--config", action="append", default=None,
                        help="only this config (repeatable)")
    parser.add_argument("--threads", type=int, default=2, help="onnxruntime threads")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    pre = Preprocess(resize=args.resize, crop=args.crop, scale=args.scale, mean=args.mean,
                     std=args.std, layout=args.layout, channels=args.channels)
    res = evaluate(args.benchmark, args.model, args.out, pre=pre, batch_size=args.batch_size,
                   model_name=args.name, probs=args.probs, configs=args.config,
                   progress=not args.no_progress, threads=args.threads)
    print(f"evaluate {res['model']}: {res['rows']} predictions over {len(res['configs'])} "
          f"configs -> {args.out}")
    return 0
