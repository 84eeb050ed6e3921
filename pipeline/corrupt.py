"""The ``corrupt`` stage: map the manifest's corruption suites over the clean shards.

Every (corruption, severity) of the manifest's ``corrupt`` section becomes its
own config folder ``<out>/<config>`` (config name from the suite's template,
default ``<corruption>_<severity>``; prefixed ``<source name>-`` when a manifest
has several sources). Each clean shard maps to the corrupted shard of the same
name in every config. One dask task per (clean shard, registry family) reads and
decodes the clean shard once and writes all of that family's output shards in
turn (the decoded shard is held in memory: about ``shard_size x H x W x 3`` bytes,
300 MB for 2,000 images at 224 px). Per image, the generator is
``derive_rng(seed, sample_id, corruption, severity)``, so the bytes do not
depend on the scheduler, the worker count, the grouping or the order of work.

Images are stored with the manifest's ``encoding`` (:mod:`pipeline.encoding`:
lossless PNG by default, or the ImageNet-C release JPEG save), applied as the
last step; its settings and encoder library versions are in every output
shard's task fingerprint, the config ``manifest.json`` (``encoding``), each
row's ``params`` (``_encoding``) and the config description on the card.

Provenance: the rows carry ``corruption``, ``severity``, ``preset``, ``params``
(JSON of the physical parameters actually used, including where depth came
from and the encoding), ``seed`` and ``code_version``.

``--family`` restricts the stage to one registry family, so DVC can cache each
family on its own and editing one kernel module reruns only its family.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import datasets
import numpy as np
import pyarrow as pa

from corruptions.image import from_layout, quantize, to_layout
from corruptions.registry import get_registry, resolve_params, resolve_preset
from corruptions.rng import derive_rng
from pipeline.alloc import keep_freed_memory
from pipeline.download import file_digest
from pipeline.encoding import DEFAULT, EncodingSpec, describe, encode_image
from pipeline.errors import BenchsmithError
from pipeline.manifest import Manifest
from pipeline.parallel import run_tasks
from pipeline.schema import arrow_schema, build_features
from pipeline.seeding import derive_rngs
from pipeline.shards import (
    atomic_write_json,
    fingerprint,
    list_shards,
    read_config_manifest,
    read_shard,
    record_shard,
    shard_done,
    write_config_manifest,
    write_shard,
)
from pipeline.sources.hf import decode_image, read_depth_png
from pipeline.stage import contained, prepare_output, refuse_overlap, task_files
from pipeline.version import code_version

__all__ = ["plan_configs", "corrupt_shard", "corrupt", "main"]

#: Rough ms to encode and write one 224 px output (``benchmarks/results/corrupt_stage.md``),
#: added to each kernel's ``cost`` when ordering tasks.
_WRITE_MS = 3.0


def _depth_for(
    image: np.ndarray, row: dict[str, Any], mode: str, model: dict[str, Any] | None
) -> tuple[np.ndarray, str]:
    """Depth map for one image and where it came from (recorded in the row's params).

    ``mode`` is the manifest's ``corrupt.depth``: ``column`` (the dataset's depth
    maps, 0 = unknown), ``model`` (the user's ONNX/TorchScript network named by
    ``corrupt.depth_model``), ``pseudo`` (the built-in classical pseudo-depth) or
    ``auto`` (column if the dataset has one, else the model if given, else pseudo).
    """
    depth = row.get("depth")
    if depth is not None and mode in ("auto", "column"):
        arr = read_depth_png(None, depth["bytes"])
        arr[arr <= 0] = np.nan  # 0 = unknown; the kernels fill it with the farthest depth
        return arr, "column"
    if mode == "column":
        raise BenchsmithError(
            f"{row['sample_id']}: corrupt.depth is 'column' but the dataset has no depth column; "
            "give the source depth maps (imagefolder depth_root, parquet depth_column), set "
            "corrupt.depth: model with corrupt.depth_model, or corrupt.depth: pseudo"
        )
    if model is not None and mode in ("auto", "model"):
        net = _load_model(json.dumps(model, sort_keys=True))
        return net(image), f"model:{net.method}"
    if mode == "model":
        raise BenchsmithError("corrupt.depth is 'model' but corrupt.depth_model is not set")
    from corruptions import pseudo_depth

    return pseudo_depth.pseudo_depth(image), f"pseudo:v{pseudo_depth.PSEUDO_DEPTH_VERSION}"


@lru_cache(maxsize=2)
def _load_model(spec_json: str) -> Any:
    """Load (once per worker process) the depth network described by the manifest."""
    from corruptions.depth_model import load_depth_model

    spec = json.loads(spec_json)
    kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in spec.items() if k != "path"}
    return load_depth_model(spec["path"], **kwargs)


class _Prepared:
    """One (corruption, severity) resolved for one image shape: kernel kwargs and provenance.

    Mirrors :func:`corruptions.registry.apply` (same parameters, layout, rounding
    and shape check), with the table lookup, pixel scaling and ``param_hook`` done
    once per task instead of once per image; ``tests/pipeline/test_corrupt_stage.py``
    checks the stage's pixels against ``apply`` for every config it builds.
    """

    def __init__(self, spec: Any, severity: int, preset: str, shape: tuple[int, ...],
                 rounding: str) -> None:
        params = resolve_params(spec.name, severity=severity, preset=preset, shape=shape)
        used_preset, scale = resolve_preset(spec, preset, shape)
        self.spec = spec
        self.rounding = rounding
        self.kwargs = {k: v for k, v in params.items() if not k.startswith("_")}
        self.preset = used_preset
        self.provenance = {**params, "_preset": used_preset, "_pixel_scale": scale}

    def kwargs_for(self, rng: np.random.Generator | None, aux: dict[str, Any]) -> dict[str, Any]:
        """Return the kernel's keyword arguments for one image."""
        kwargs = dict(self.kwargs)
        if self.spec.stochastic:
            kwargs["rng"] = rng
        kwargs.update(aux)
        return kwargs

    def finish(self, raw: np.ndarray, work: np.ndarray, image: np.ndarray,
               alpha: np.ndarray | None) -> np.ndarray:
        """Round a kernel result, check its shape and restore the image's layout."""
        out = quantize(np.asarray(raw), self.rounding)  # type: ignore[arg-type]
        if out.shape[:2] != work.shape[:2]:
            raise RuntimeError(
                f"kernel {self.spec.name!r} returned shape {out.shape} for input {work.shape} "
                "(a bug)"
            )
        return from_layout(out, image, alpha)

    def __call__(self, work: np.ndarray, image: np.ndarray, alpha: np.ndarray | None,
                 rng: np.random.Generator | None, aux: dict[str, Any]) -> np.ndarray:
        return self.finish(self.spec.kernel(work, **self.kwargs_for(rng, aux)), work, image,
                           alpha)


class _CleanShard:
    """A clean shard read and decoded once; layouts and depth maps computed on first use."""

    def __init__(self, clean_path: str, depth_mode: str, depth_model: dict[str, Any] | None,
                 steps: dict[str, float]) -> None:
        t0 = time.perf_counter()
        table, features = read_shard(Path(clean_path))
        self.path = clean_path
        self.table = table
        self.names = features["label"].names
        self.has_depth = "depth" in features
        self.sample_ids: list[str] = table.column("sample_id").to_pylist()
        blobs = table.column("image").combine_chunks().field("bytes").to_pylist()
        self.images = []
        for sid, blob in zip(self.sample_ids, blobs, strict=True):
            img = decode_image(blob, what=f"{clean_path} {sid}")
            img.setflags(write=False)  # shared by every config of the task: kernels must not write
            self.images.append(img)
        self.depth_blobs = (
            table.column("depth").to_pylist() if self.has_depth else [None] * len(self.images)
        )
        self.features = build_features(self.names, corruption=True, depth=self.has_depth)
        self.image_type = arrow_schema(self.features).field("image").type
        self.depth_mode = depth_mode
        self.depth_model = depth_model
        self._layouts: dict[str, list[tuple[np.ndarray, np.ndarray | None]]] = {}
        self._depth: list[tuple[np.ndarray, str] | None] = [None] * len(self.images)
        steps["decode"] = steps.get("decode", 0.0) + time.perf_counter() - t0

    def layout(self, layout: str) -> list[tuple[np.ndarray, np.ndarray | None]]:
        """``(work, alpha)`` per image for a kernel layout, converted once per task."""
        if layout not in self._layouts:
            converted = []
            for img in self.images:
                work, alpha = to_layout(img, layout)  # type: ignore[arg-type]
                work.setflags(write=False)
                converted.append((work, alpha))
            self._layouts[layout] = converted
        return self._layouts[layout]

    def aux(self, i: int, spec: Any, seed: int) -> dict[str, Any]:
        """Auxiliary kernel inputs of image ``i`` for ``spec`` (its ``needs``)."""
        aux: dict[str, Any] = {}
        if "depth" in spec.needs:
            aux["depth"] = self.depth(i)[0]
        if "source_rng" in spec.needs:  # one generator per image for the whole family
            aux["source_rng"] = derive_rng(seed, self.sample_ids[i], spec.family, 0)
        return aux

    def depth(self, i: int) -> tuple[np.ndarray, str]:
        """Depth map of image ``i`` and where it came from (computed once per task)."""
        if self._depth[i] is None:
            row = {"sample_id": self.sample_ids[i], "depth": self.depth_blobs[i]}
            arr, source = _depth_for(self.images[i], row, self.depth_mode, self.depth_model)
            arr.setflags(write=False)
            self._depth[i] = (arr, source)
        return self._depth[i]  # type: ignore[return-value]


def corrupt_shard(
    clean_path: str,
    outputs: Sequence[tuple[str, str, int, str]],
    preset: str,
    rounding: str,
    depth_mode: str,
    seed: int,
    encoding: EncodingSpec = DEFAULT,
    depth_model: dict[str, Any] | None = None,
    steps: dict[str, float] | None = None,
) -> list[dict[str, Any]]:
    """Corrupt one clean shard into several output shards (one dask task).

    The clean shard is read and decoded once; every ``(out_path, corruption,
    severity, task_fp)`` of ``outputs`` is then written in turn, each output shard
    recorded as soon as it is written, so a killed task resumes at the first
    output it had not finished. Outputs whose fingerprint and checksum still
    match are skipped (and the clean shard is not read when all are).

    Args:
        clean_path: The clean shard.
        outputs: ``(out_path, corruption, severity, task_fp)`` per output shard.
        preset: The manifest's ``corrupt.preset``.
        rounding: ``truncate`` or ``nearest``.
        depth_mode: The manifest's ``corrupt.depth``.
        seed: Root seed.
        encoding: How corrupted images are stored.
        depth_model: The manifest's ``corrupt.depth_model``.
        steps: If given, seconds spent per step (``decode``, ``kernel``, ``encode``,
            ``write``) are added to it (benchmarks).

    Returns:
        The shard record of every output, in ``outputs`` order.
    """
    keep_freed_memory()  # the kernels' per-image temporaries reuse heap pages (pipeline.alloc)
    timings: dict[str, float] = {}
    records: list[dict[str, Any] | None] = []
    for out_path, _, _, task_fp in outputs:
        out = Path(out_path)
        records.append(shard_done(out.parent, out.name, task_fp))
    clean: _CleanShard | None = None
    for k, (out_path, corruption, severity, task_fp) in enumerate(outputs):
        if records[k] is not None:
            continue
        if clean is None:
            clean = _CleanShard(clean_path, depth_mode, depth_model, timings)
        records[k] = _write_output(clean, Path(out_path), corruption, severity, task_fp,
                                   preset=preset, rounding=rounding, seed=seed,
                                   encoding=encoding, steps=timings)
    if steps is not None:
        for key, value in timings.items():
            steps[key] = steps.get(key, 0.0) + value
    return records  # type: ignore[return-value]


def _write_output(clean: _CleanShard, out: Path, corruption: str, severity: int, task_fp: str,
                  *, preset: str, rounding: str, seed: int, encoding: EncodingSpec,
                  steps: dict[str, float]) -> dict[str, Any]:
    """Corrupt, encode and write one output shard of a task; return its record."""
    spec = get_registry()[corruption]
    n = len(clean.images)
    works = clean.layout(spec.layout)
    prepared: dict[tuple[int, ...], _Prepared] = {}
    params_json: dict[tuple[tuple[int, ...], str | None], str] = {}
    enc = describe(encoding)
    blobs: list[bytes] = []
    presets: list[str] = []
    params: list[str] = []
    kernel_s = encode_s = 0.0
    for image in clean.images:  # parameters resolved once per image shape
        if image.shape not in prepared:
            prepared[image.shape] = _Prepared(spec, severity, preset, image.shape, rounding)
    results: list[np.ndarray] | None = None
    rngs = None
    if spec.batch is not None:  # all images at once (generators must coexist: one each)
        t0 = time.perf_counter()
        kwargs = [prepared[image.shape].kwargs_for(
                      derive_rng(seed, sid, corruption, severity) if spec.stochastic else None,
                      clean.aux(i, spec, seed))
                  for i, (sid, image) in enumerate(zip(clean.sample_ids, clean.images,
                                                       strict=True))]
        raw = spec.batch([w for w, _ in works], kwargs)
        results = [prepared[image.shape].finish(r, works[i][0], image, works[i][1])
                   for i, (r, image) in enumerate(zip(raw, clean.images, strict=True))]
        kernel_s += time.perf_counter() - t0
    elif spec.stochastic:
        rngs = derive_rngs(seed, clean.sample_ids, corruption, severity)
    for i, image in enumerate(clean.images):
        t0 = time.perf_counter()
        fn = prepared[image.shape]
        depth_source = clean.depth(i)[1] if "depth" in spec.needs else None
        if results is not None:
            result = results[i]
        else:
            work, alpha = works[i]
            result = fn(work, image, alpha, next(rngs) if rngs is not None else None,
                        clean.aux(i, spec, seed))
        t1 = time.perf_counter()
        blobs.append(encode_image(result, encoding))
        encode_s += time.perf_counter() - t1
        kernel_s += t1 - t0
        key = (image.shape, depth_source)
        if key not in params_json:
            used = dict(fn.provenance)
            if depth_source:
                used["_depth_source"] = depth_source
            used["_encoding"] = enc
            params_json[key] = json.dumps(used, sort_keys=True, default=_jsonable)
        presets.append(fn.preset)
        params.append(params_json[key])
    t0 = time.perf_counter()
    cols: dict[str, Any] = {
        c: clean.table.column(c).combine_chunks() for c in ("sample_id", "label", "source",
                                                            "split", "key")
    }
    if clean.has_depth:
        cols["depth"] = clean.table.column("depth").combine_chunks()
    cols["image"] = pa.StructArray.from_arrays(
        [pa.array(blobs, pa.binary()), pa.nulls(n, pa.string())],
        fields=list(clean.image_type),
    )
    cols["corruption"] = pa.array([corruption] * n, pa.string())
    cols["severity"] = pa.array([severity] * n, pa.int32())
    cols["preset"] = pa.array(presets, pa.string())
    cols["params"] = pa.array(params, pa.string())
    cols["seed"] = pa.array([seed] * n, pa.int64())
    cols["code_version"] = pa.array([code_version()] * n, pa.string())
    sha = write_shard(out, cols, clean.features)
    split = clean.table.column("split")[0].as_py() if n else _split_of(out.name)
    record: dict[str, Any] = {"split": split, "file": out.name, "num_rows": n, "sha256": sha,
                              "rejects": [], "fingerprint": task_fp}
    record_shard(out.parent, out.name, record)
    for step, value in (("kernel", kernel_s), ("encode", encode_s),
                        ("write", time.perf_counter() - t0)):
        steps[step] = steps.get(step, 0.0) + value
    return record


def _split_of(name: str) -> str:
    return name.split("-")[0]


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


def plan_configs(manifest: Manifest, family: str | None) -> list[tuple[str, str, int]]:
    """``(config, corruption, severity)`` the stage writes, filtered to ``family``."""
    if manifest.corrupt is None:
        return []
    registry = get_registry()
    families = sorted({s.family for s in registry.values()})
    if family is not None and family not in families:
        raise BenchsmithError(f"unknown corruption family {family!r}; valid: {families}")
    return [
        (cfg, name, sev)
        for cfg, name, sev in manifest.corrupt.configs()
        if family is None or registry[name].family == family
    ]


def corrupt(
    manifest: Manifest,
    clean_root: Path,
    out: Path,
    *,
    family: str | None = None,
    scheduler: str = "threads",
    workers: int = 2,
    progress: bool = True,
) -> dict[str, dict[str, Any]]:
    """Run the corruption suites of ``manifest`` over the clean configs in ``clean_root``.

    Returns:
        Config name -> written ``manifest.json`` content.
    """
    out = Path(out)
    refuse_overlap(out, [clean_root], inputs_flag="--clean")
    out.mkdir(parents=True, exist_ok=True)
    configs = plan_configs(manifest, family)
    registry = get_registry()
    if manifest.corrupt is None or not configs:
        prepare_output(out, [out / "stage.json"], what="corrupt output folder")
        atomic_write_json(out / "stage.json", {"family": family, "configs": []})
        return {}
    depth_model = dict(manifest.corrupt.depth_model) if manifest.corrupt.depth_model else None
    model_id = None
    if depth_model is not None and any("depth" in registry[c[1]].needs for c in configs):
        model_path = Path(depth_model["path"])
        if not model_path.is_file():
            raise BenchsmithError(
                f"corrupt.depth_model.path {model_path} not found (benchsmith never downloads "
                "models); fix the path or use corrupt.depth: pseudo"
            )
        model_id = [depth_model, file_digest(model_path, "sha256")]
    encoding: EncodingSpec = manifest.sections.get("encoding", DEFAULT)
    enc = describe(encoding)
    groups: dict[tuple[str, str], list[tuple[str, str, int, str]]] = {}
    meta: dict[str, dict[str, Any]] = {}
    rows: dict[str, int] = {}
    for spec_src in manifest.sources:
        clean_dir = Path(clean_root) / manifest.clean_config(spec_src)
        clean_meta = read_config_manifest(clean_dir)
        names = datasets.Features.from_dict(clean_meta["features"])["label"].names
        has_depth = "depth" in clean_meta["features"]
        shards = [s for split_shards in list_shards(clean_dir).values() for s in split_shards]
        rows.update({str(clean_dir / s["file"]): int(s["num_rows"])
                     for split in clean_meta["splits"].values() for s in split["shards"]})
        for cfg, name, sev in configs:
            spec = registry[name]
            config = cfg if len(manifest.sources) == 1 else f"{spec_src.name}-{cfg}"
            cdir = contained(out, config, key=f"{manifest.path}: corrupt config_name")
            for shard in shards:
                clean_sha = _sha_of(clean_meta, shard.name)
                task_fp = fingerprint([clean_sha, name, sev, manifest.corrupt.preset,
                                       manifest.corrupt.rounding, manifest.corrupt.depth,
                                       model_id, manifest.seed, code_version(), enc])
                groups.setdefault((str(shard), spec.family), []).append(
                    (str(cdir / shard.name), name, sev, task_fp))
            meta[config] = _config_extra(manifest, spec, cdir, clean_dir.name, names, has_depth,
                                         sev, encoding)
    # Claim the folder: stale shards/configs of earlier runs that benchsmith wrote go, files
    # it did not write are refused (pipeline.stage.prepare_output).
    planned = [out / "stage.json", *(m["dir"] / "manifest.json" for m in meta.values())]
    planned += [f for outputs in groups.values() for o in outputs
                for f in task_files(Path(o[0]).parent, Path(o[0]).name)]
    prepare_output(out, planned, what="corrupt output folder")
    atomic_write_json(out / "stage.json", {"family": family, "configs": sorted(meta)})
    tasks = [
        (clean, tuple(outputs), manifest.corrupt.preset, manifest.corrupt.rounding,
         manifest.corrupt.depth, manifest.seed, encoding, depth_model)
        for (clean, _), outputs in groups.items()
    ]
    # Longest first, so the few heavy (shard, family) tasks do not finish alone at the end.
    cost = [rows.get(clean, 1) * sum(registry[o[1]].cost + _WRITE_MS for o in outputs)
            for (clean, _), outputs in groups.items()]
    results_per_task = run_tasks(corrupt_shard, tasks, scheduler=scheduler, workers=workers,
                                 desc=f"corrupt {family or 'all'}", progress=progress, cost=cost)
    by_config: dict[str, list[dict[str, Any]]] = {}
    for task, recs in zip(tasks, results_per_task, strict=True):
        for (out_path, *_), rec in zip(task[1], recs, strict=True):
            by_config.setdefault(Path(out_path).parent.name, []).append(rec)
    results = {}
    for config, info in meta.items():
        results[config] = write_config_manifest(
            info["dir"], config=config, features=info["features"],
            shards=by_config.get(config, []), extra=info["extra"],
        )
    return results


def _config_extra(manifest: Manifest, spec: Any, cdir: Path, clean_config: str,
                  names: list[str], has_depth: bool, sev: int,
                  encoding: EncodingSpec) -> dict[str, Any]:
    """Folder, features and ``manifest.json`` extras of one corruption config."""
    assert manifest.corrupt is not None
    table = next(iter(spec.tables.values()))
    stored = ", ".join(f"{k} {v}" for k, v in encoding.settings().items() if k != "format")
    return {
        "dir": cdir,
        "features": build_features(names, corruption=True, depth=has_depth),
        "extra": {
            "kind": "corruption",
            "benchmark": manifest.name,
            "corruption": spec.name,
            "family": spec.family,
            "severity": sev,
            "preset": manifest.corrupt.preset,
            "rounding": manifest.corrupt.rounding,
            "stochastic": spec.stochastic,
            "suites": sorted(spec.suites),
            "reference": spec.reference,
            "clean_config": clean_config,
            "seed": manifest.seed,
            "code_version": code_version(),
            "encoding": describe(encoding),
            "description": (
                f"`{spec.name}` at severity {sev} applied to `{clean_config}` "
                f"(preset {manifest.corrupt.preset}; parameters from {table.source}; "
                f"reproduces {spec.reference or 'benchsmith original'}); "
                f"stored as {encoding.format.upper()} ({stored})."
            ),
        },
    }


def _sha_of(clean_meta: dict[str, Any], shard: str) -> str:
    for split in clean_meta["splits"].values():
        for s in split["shards"]:
            if s["file"] == shard:
                return str(s["sha256"])
    raise BenchsmithError(f"clean manifest does not list shard {shard}; rerun `benchsmith pull`")


def main(argv: list[str] | None = None) -> int:
    """``benchsmith corrupt``: apply the manifest's corruption suites to the clean shards."""
    from pipeline.manifest import load_manifest
    from pipeline.stage import add_common_args

    parser = argparse.ArgumentParser(prog="benchsmith corrupt", description=main.__doc__)
    add_common_args(parser)
    parser.add_argument("--clean", required=True, help="folder written by `benchsmith pull`")
    parser.add_argument("--out", required=True, help="output folder (one sub-folder per config)")
    parser.add_argument("--family", default=None, help="only this registry family")
    args = parser.parse_args(argv)
    manifest = load_manifest(args.manifest, args.overrides, seed=args.seed)
    res = corrupt(manifest, Path(args.clean), Path(args.out), family=args.family,
                  scheduler=args.scheduler, workers=args.workers, progress=not args.no_progress)
    print(f"corrupt {args.family or 'all'}: wrote {len(res)} configs to {args.out}")
    return 0
