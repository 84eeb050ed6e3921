"""Throughput of the ``corrupt`` stage against its own floor, before and after, in one run.

What it measures (every figure with the 1-minute load average beside it; the
machine may be shared, so read ratios rather than absolute numbers):

* **stage**: the 15 ImageNet-C corruptions x 5 severities through ``corrupt``
  (decode, kernel, encode, Parquet write, manifests), images written per second;
* **floor**: MNIST-C's ``identity`` op x 5 severities x 15 copies (75 configs, as
  many as the stage) through the same stage: the same reading, decoding,
  encoding and writing with a no-op kernel;
* at 32 px (JPEG-decoded CIFAR-10 test images from ``shared/``) and 224 px (a
  synthetic ImageNet-layout folder: crops of scikit-image's photos saved as JPEG,
  pulled with the ImageNet-C recipe ``resize_shorter: 256, center_crop: 224``);
* schedulers: dask's process pool, a ``LocalCluster`` and an external
  ``dask scheduler`` + ``dask worker`` processes on 127.0.0.1 (started and stopped
  here), with 1 and 2 workers;
* **before/after**: the same measurements with another checkout's code
  (``--before``, default ``/work/main``) in the same run, each code in its own
  subprocess (``PYTHONPATH``) with its own pulled data;
* a per-step breakdown (decode, kernel, encode, write) of one task on this branch;
* the synthetic ImageNet set through all 95 configs (19 corruptions x 5
  severities, preset imagenet224) with JPEG-85 and lossless PNG output on a
  subsample, projected to 50,000 x 95 images on 2 workers.

    nice -n 10 python benchmarks/bench_corrupt_stage.py --shared ../shared

Results go to ``benchmarks/results/corrupt_stage.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()
REPO = HERE.parents[1]
PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "hubble_deep_field",
          "immunohistochemistry", "retina", "motorcycle_left", "colorwheel")


def loadavg() -> float:
    """Return the 1-minute load average."""
    return float(Path("/proc/loadavg").read_text().split()[0])


# ---------------------------------------------------------------- synthetic data


def make_imagenet_layout(root: Path, n: int, *, classes: int = 20) -> Path:
    """Write ``n`` JPEG crops of scikit-image's photos as ``root/val/<wnid>/<file>.JPEG``."""
    import numpy as np
    import skimage.data
    from PIL import Image

    photos = []
    for name in PHOTOS:
        img = skimage.data.stereo_motorcycle()[0] if name == "motorcycle_left" else getattr(
            skimage.data, name)()
        photos.append(np.asarray(Image.fromarray(img).convert("RGB")))
    rng = np.random.default_rng(0)
    for i in range(n):
        photo = photos[i % len(photos)]
        h, w = photo.shape[:2]
        side = int(rng.integers(min(h, w) // 3, min(h, w) + 1))
        aspect = float(rng.uniform(0.75, 1.33))
        ch, cw = min(h, side), min(w, int(side * aspect))
        top, left = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
        crop = Image.fromarray(photo[top:top + ch, left:left + cw])
        scale = float(rng.uniform(300, 500)) / min(ch, cw)
        crop = crop.resize((max(256, round(cw * scale)), max(256, round(ch * scale))),
                           Image.BILINEAR)
        out = root / "val" / f"n{i % classes:08d}" / f"ILSVRC2012_val_{i + 1:08d}.JPEG"
        out.parent.mkdir(parents=True, exist_ok=True)
        crop.save(out, quality=90)
    return root


def manifest_data(kind: str, args: argparse.Namespace, *, ops: str,
                  encoding: dict | None = None, limit: int | None = None) -> dict:
    """Manifest for ``kind`` (``cifar32`` or ``imagenet224``) and ``ops`` (stage|floor|all95)."""
    if kind == "cifar32":
        files = str(args.shared / "datasets/cifar10/cifar10-test-jpeg-official-order.parquet")
        source = {"source": "parquet", "name": "cifar10", "splits": ["test"],
                  "limit": limit or args.n32, "options": {"files": {"test": files}}}
    else:
        source = {"source": "imagefolder", "name": "imagenet", "splits": ["val"],
                  "limit": limit or args.n224, "options": {"root": str(args.work / "imagenet")},
                  "preprocess": {"resize_shorter": 256, "center_crop": 224}}
    sev = [1, 2, 3, 4, 5]
    suites: list[dict[str, Any]] = {
        "stage": [{"suite": "imagenet_c", "severities": sev}],
        # as many identity configs (and images) as the stage has: 15 copies x 5 severities
        "floor": [{"corruptions": {"identity": sev},
                   "config_name": f"{{corruption}}_{{severity}}_{k}"} for k in range(15)],
        "all95": [{"suite": "imagenet_c", "severities": sev},
                  {"suite": "imagenet_c_extra", "severities": sev}],
    }[ops]
    data = {"name": f"bench-{kind}", "seed": 0, "sources": [source],
            "corrupt": {"preset": "auto", "rounding": "truncate", "suites": suites}}
    if encoding is not None:
        data["encoding"] = encoding
    return data


# ---------------------------------------------------------------- worker side


def run_job(job: dict[str, Any]) -> dict[str, Any]:
    """Run one measurement with whatever ``pipeline`` is on ``sys.path``; return timings."""
    from pipeline.manifest import parse_manifest

    m = parse_manifest(job["manifest"], path="bench")
    load0 = loadavg()
    t0 = time.perf_counter()
    if job["action"] == "pull":
        from pipeline.pull import pull

        pull(m, Path(job["pulled"]), scheduler="processes", workers=2,
             shard_size=job["shard_size"], progress=False)
    elif job["action"] == "corrupt":
        from pipeline.corrupt import corrupt

        out = Path(job["out"])
        corrupt(m, Path(job["pulled"]), out, scheduler=job["scheduler"],
                workers=job["workers"], progress=False)
        elapsed = time.perf_counter() - t0
        written = sum(split["num_rows"] for d in out.iterdir()
                      if (d / "manifest.json").is_file()
                      for split in json.loads((d / "manifest.json").read_text())["splits"].values())
        shutil.rmtree(out, ignore_errors=True)
        return {"seconds": elapsed, "images": written, "load": [load0, loadavg()]}
    elif job["action"] == "steps":
        return _steps(m, Path(job["pulled"]), Path(job["out"]))
    return {"seconds": time.perf_counter() - t0, "load": [load0, loadavg()]}


def _steps(m: Any, pulled: Path, out: Path) -> dict[str, Any]:
    """Per-step seconds of the first clean shard through every config, one family at a time."""
    from corruptions.registry import get_registry
    from pipeline.corrupt import corrupt_shard, plan_configs
    from pipeline.encoding import DEFAULT

    shard = sorted((pulled / "clean").glob("*.parquet"))[0]
    registry = get_registry()
    groups: dict[str, list[tuple[str, str, int, str]]] = {}
    for cfg, name, sev in plan_configs(m, None):
        groups.setdefault(registry[name].family, []).append(
            (str(out / cfg / shard.name), name, sev, "bench"))
    steps: dict[str, float] = {}
    load0 = loadavg()
    t0 = time.perf_counter()
    for outputs in groups.values():
        corrupt_shard(str(shard), tuple(outputs), m.corrupt.preset, m.corrupt.rounding,
                      m.corrupt.depth, m.seed, m.sections.get("encoding", DEFAULT), None, steps)
    total = time.perf_counter() - t0
    import pyarrow.parquet as pq

    rows = pq.ParquetFile(shard).metadata.num_rows
    shutil.rmtree(out, ignore_errors=True)
    return {"seconds": total, "steps": steps, "images": rows * sum(map(len, groups.values())),
            "load": [load0, loadavg()]}


# ---------------------------------------------------------------- parent side


def call(code: Path, job: dict[str, Any], env_extra: dict[str, str] | None = None) -> dict:
    """Run ``job`` in a subprocess with ``code`` first on ``PYTHONPATH``."""
    env = {**os.environ, "PYTHONPATH": str(code), **(env_extra or {})}
    res = subprocess.run([sys.executable, str(HERE), "--job", json.dumps(job)], env=env,
                         capture_output=True, text=True, cwd=str(code))
    if res.returncode != 0:
        raise RuntimeError(f"job {job['action']} failed with {code}:\n{res.stderr[-3000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


class ExternalCluster:
    """``dask scheduler`` + ``dask worker`` processes on 127.0.0.1 running ``code``."""

    def __init__(self, code: Path, workers: int) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.address = f"tcp://127.0.0.1:{port}"
        env = {**os.environ, "PYTHONPATH": str(code)}
        log = subprocess.DEVNULL
        self.procs = [subprocess.Popen(
            ["dask", "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
            env=env, stdout=log, stderr=log, cwd=str(code))]
        time.sleep(1.0)
        self.procs.append(subprocess.Popen(
            ["dask", "worker", self.address, "--nworkers", str(workers), "--nthreads", "1",
             "--no-dashboard", "--memory-limit", "0"],
            env=env, stdout=log, stderr=log, cwd=str(code)))
        from distributed import Client

        with Client(self.address, timeout=60) as client:
            client.wait_for_workers(workers, timeout=120)

    def close(self) -> None:
        """Stop the processes this object started (worker first), by their own handles."""
        for proc in reversed(self.procs):
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def measure(code: Path, label: str, kind: str, args: argparse.Namespace,
            schedulers: list[str], encoding: dict | None) -> list[dict[str, Any]]:
    """Stage and floor images/s of ``code`` for each ``scheduler:workers``."""
    pulled = args.work / f"pulled-{label}-{kind}"
    if not pulled.is_dir():
        n = args.n32 if kind == "cifar32" else args.n224
        call(code, {"action": "pull", "pulled": str(pulled), "shard_size": max(1, n // 4),
                    "manifest": manifest_data(kind, args, ops="floor")})
    rows = []
    for item in schedulers:
        sched, workers = item.split(":")
        cluster = ExternalCluster(code, int(workers)) if sched == "external" else None
        try:
            res = {}
            for ops in ("stage", "floor"):
                job = {"action": "corrupt", "pulled": str(pulled), "scheduler":
                       cluster.address if cluster else sched, "workers": int(workers),
                       "out": str(args.work / f"out-{label}"),
                       "manifest": manifest_data(kind, args, ops=ops, encoding=encoding)}
                res[ops] = call(code, job)
        finally:
            if cluster is not None:
                cluster.close()
        row = {"code": label, "kind": kind, "scheduler": sched, "workers": int(workers),
               "stage": res["stage"]["images"] / res["stage"]["seconds"],
               "floor": res["floor"]["images"] / res["floor"]["seconds"],
               "load": max(res["stage"]["load"] + res["floor"]["load"])}
        rows.append(row)
        print(f"{label:7s} {kind:11s} {sched:9s} x{workers}: stage {row['stage']:8.0f} img/s, "
              f"floor {row['floor']:8.0f} img/s, ratio {row['stage'] / row['floor']:.2f}, "
              f"load {row['load']:.2f}", flush=True)
    return rows


def main() -> None:
    """Run every measurement and write the results file."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--job", help=argparse.SUPPRESS)
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    parser.add_argument("--before", type=Path, default=Path("/work/main"),
                        help="checkout whose code is 'before' (default /work/main)")
    parser.add_argument("--n32", type=int, default=400, help="CIFAR-10 images at 32 px")
    parser.add_argument("--n224", type=int, default=32, help="synthetic images at 224 px")
    parser.add_argument("--synthetic", type=int, default=2000, help="ImageNet-layout set size")
    parser.add_argument("--n95", type=int, default=48, help="subsample through all 95 configs")
    parser.add_argument("--schedulers", nargs="+", default=[
        "processes:1", "processes:2", "local:1", "local:2", "external:1", "external:2"])
    parser.add_argument("--before-schedulers", nargs="+", default=["processes:1", "processes:2"])
    parser.add_argument("--out", type=Path, default=HERE.parent / "results" / "corrupt_stage.md")
    parser.add_argument("--steps-only", action="store_true",
                        help="only the per-step breakdown, on one shard of --steps-n32 / "
                        "--steps-n224 images (realistic shard sizes), to corrupt_stage_steps.md")
    parser.add_argument("--steps-n32", type=int, default=1000)
    parser.add_argument("--steps-n224", type=int, default=100)
    parser.add_argument("--full95", action="store_true",
                        help="only the whole --synthetic set through all 95 configs, for each "
                        "--full95-runs entry, to corrupt_stage_95.md")
    parser.add_argument("--full95-runs", nargs="+", default=["jpeg:2", "jpeg:1", "png:2"],
                        help="encoding:workers on the process pool (encoding jpeg or png)")
    args = parser.parse_args()
    if args.job:
        print(json.dumps(run_job(json.loads(args.job))))
        return
    if args.steps_only:
        steps_only(args)
        return
    if args.full95:
        full95(args)
        return
    args.work = Path(tempfile.mkdtemp(prefix="bench-corrupt-stage-"))
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    try:
        t0 = time.perf_counter()
        make_imagenet_layout(args.work / "imagenet", args.synthetic)
        print(f"synthetic ImageNet layout: {args.synthetic} JPEGs in "
              f"{time.perf_counter() - t0:.1f} s (load {loadavg():.2f})", flush=True)
        rows: list[dict[str, Any]] = []
        for kind in ("cifar32", "imagenet224"):
            rows += measure(args.before, "before", kind, args, args.before_schedulers, None)
            rows += measure(REPO, "after", kind, args, args.schedulers, None)
        steps = {(kind, ops): call(REPO, {"action": "steps", "out": str(args.work / "steps"),
                                          "pulled": str(args.work / f"pulled-after-{kind}"),
                                          "manifest": manifest_data(kind, args, ops=ops)})
                 for kind in ("cifar32", "imagenet224") for ops in ("stage", "floor")}
        full = build95(args)
        write_report(args, started, rows, steps, full)
    finally:
        shutil.rmtree(args.work, ignore_errors=True)


def steps_only(args: argparse.Namespace) -> None:
    """Per-step breakdown on one realistic shard per size (this branch only)."""
    args.work = Path(tempfile.mkdtemp(prefix="bench-corrupt-steps-"))
    try:
        make_imagenet_layout(args.work / "imagenet", args.steps_n224)
        lines = ["# corrupt stage: per-step breakdown on one realistic shard", "",
                 f"Run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
                 f"niceness {os.nice(0)} (load average beside each row). One clean shard "
                 f"({args.steps_n32} CIFAR-10 images at 32 px, {args.steps_n224} synthetic "
                 "ImageNet-layout images at 224 px) through the 75 configs of the stage (15 "
                 "ImageNet-C corruptions x 5) or of the floor (`identity` x 5 x 15), in-process, "
                 "one task per family as the stage runs it; ms per written image (share of the "
                 "task time). Default lossless encoding (PNG, zlib RLE).", "",
                 "| px | ops | images | decode | kernel | encode | write | other ms | load |",
                 "|---|---|---|---|---|---|---|---|---|"]
        for kind, n in (("cifar32", args.steps_n32), ("imagenet224", args.steps_n224)):
            pulled = args.work / f"pulled-{kind}"
            call(REPO, {"action": "pull", "pulled": str(pulled), "shard_size": n,
                        "manifest": manifest_data(kind, args, ops="floor", limit=n)})
            for ops in ("stage", "floor"):
                s = call(REPO, {"action": "steps", "out": str(args.work / "steps"),
                                "pulled": str(pulled),
                                "manifest": manifest_data(kind, args, ops=ops, limit=n)})
                lines.append(_steps_row(kind, ops, s))
                print(lines[-1], flush=True)
        out = args.out.with_name("corrupt_stage_steps.md")
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text("\n".join(lines) + "\n")
    finally:
        shutil.rmtree(args.work, ignore_errors=True)


def _steps_row(kind: str, ops: str, s: dict[str, Any]) -> str:
    px = 32 if kind == "cifar32" else 224
    n, st = s["images"], s["steps"]
    other = s["seconds"] - sum(st.values())
    return (f"| {px} | {ops} | {n} | " + " | ".join(
        f"{1e3 * st.get(k, 0.0) / n:.3f} ({st.get(k, 0.0) / s['seconds']:.0%})"
        for k in ("decode", "kernel", "encode", "write"))
        + f" | {1e3 * other / n:.3f} | {max(s['load']):.2f} |")


ENCODINGS = {"jpeg": ("JPEG-85", {"format": "jpeg", "quality": 85, "optimize": True}),
             "png": ("PNG (lossless, rle)", {"format": "png"})}


def full95(args: argparse.Namespace) -> None:
    """The whole synthetic set through all 95 configs per ``encoding:workers`` run."""
    args.work = Path(tempfile.mkdtemp(prefix="bench-corrupt-95-"))
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    try:
        make_imagenet_layout(args.work / "imagenet", args.synthetic)
        pulled = args.work / "pulled-95"
        pull_job = call(REPO, {"action": "pull", "pulled": str(pulled), "shard_size": 500,
                               "manifest": manifest_data("imagenet224", args, ops="all95",
                                                         limit=args.synthetic)})
        print(f"pulled {args.synthetic} in {pull_job['seconds']:.1f} s", flush=True)
        runs = []
        for item in args.full95_runs:
            enc, workers = item.split(":")
            name, spec = ENCODINGS[enc]
            res = call(REPO, {"action": "corrupt", "pulled": str(pulled), "scheduler":
                              "processes", "workers": int(workers), "out": str(args.work / "out"),
                              "manifest": manifest_data("imagenet224", args, ops="all95",
                                                        encoding=spec, limit=args.synthetic)})
            rate = res["images"] / res["seconds"]
            runs.append({"encoding": name, "key": enc, "workers": int(workers), **res,
                         "rate": rate, "hours": 50_000 * 95 / rate / 3600})
            print(f"{name} x{workers}: {res['images']} images in {res['seconds']:.0f} s, "
                  f"{rate:.0f} img/s -> {runs[-1]['hours']:.2f} h for 50k x 95 on {workers} "
                  f"(load {res['load'][0]:.2f}-{res['load'][1]:.2f})", flush=True)
        lines = [
            "# corrupt stage: the whole synthetic ImageNet set through all 95 configs", "",
            f"Run {started} on {os.cpu_count()} cores (niceness {os.nice(0)}), "
            f"`benchmarks/bench_corrupt_stage.py --full95 --synthetic {args.synthetic}`. "
            f"{args.synthetic} crops of scikit-image's photos as `val/<wnid>/*.JPEG`, pulled with "
            f"resize 256 / centre crop 224 into shards of 500 ({pull_job['seconds']:.1f} s), then "
            "all 95 configs (19 corruptions x 5 severities, imagenet224) through `corrupt` on "
            "dask's process pool; projection = 50,000 x 95 images at the measured rate. Load "
            "average (1 min) at start and end of each run.", "",
            "| encoding | workers | images | seconds | img/s | projected 50k x 95 (h) | load |",
            "|---|---|---|---|---|---|---|"]
        for r in runs:
            lines.append(f"| {r['encoding']} | {r['workers']} | {r['images']:,} | "
                         f"{r['seconds']:.0f} | {r['rate']:.0f} | {r['hours']:.2f} | "
                         f"{r['load'][0]:.2f}-{r['load'][1]:.2f} |")
        lines += ["", "2-worker efficiency (2 workers / 1 worker, same encoding):", ""]
        for r in runs:
            one = next((x for x in runs if x["key"] == r["key"] and x["workers"] == 1), None)
            if r["workers"] == 2 and one:
                lines.append(f"- {r['encoding']}: {r['rate'] / one['rate']:.2f}x")
        out = args.out.with_name("corrupt_stage_95.md")
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text("\n".join(lines) + "\n")
        print("\n".join(lines))
    finally:
        shutil.rmtree(args.work, ignore_errors=True)


def build95(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Pull the whole synthetic set, then a subsample through all 95 configs per encoding."""
    pulled = args.work / "pulled-95"
    pull_job = call(REPO, {"action": "pull", "pulled": str(pulled), "shard_size": 500,
                           "manifest": manifest_data("imagenet224", args, ops="all95",
                                                     limit=args.synthetic)})
    sub = args.work / "pulled-95-sub"
    call(REPO, {"action": "pull", "pulled": str(sub), "shard_size": max(1, args.n95 // 4),
                "manifest": manifest_data("imagenet224", args, ops="all95", limit=args.n95)})
    out = []
    for name, enc in (("JPEG-85", {"format": "jpeg", "quality": 85, "optimize": True}),
                      ("PNG (lossless, rle)", {"format": "png"})):
        res = call(REPO, {"action": "corrupt", "pulled": str(sub), "scheduler": "processes",
                          "workers": 2, "out": str(args.work / "out-95"),
                          "manifest": manifest_data("imagenet224", args, ops="all95",
                                                    encoding=enc, limit=args.n95)})
        rate = res["images"] / res["seconds"]
        out.append({"encoding": name, "images": res["images"], "seconds": res["seconds"],
                    "rate": rate, "hours": 50_000 * 95 / rate / 3600, "load": max(res["load"]),
                    "pull_seconds": pull_job["seconds"]})
        print(f"95 configs {name}: {rate:.0f} img/s -> {out[-1]['hours']:.2f} h for 50k x 95 "
              f"(load {out[-1]['load']:.2f})", flush=True)
    return out


def write_report(args: argparse.Namespace, started: str, rows: list[dict[str, Any]],
                 steps: dict[str, Any], full: list[dict[str, Any]]) -> None:
    """Write the markdown results file and print it."""
    lines = [
        "# corrupt stage: throughput against its floor, before vs after",
        "",
        f"Run {started} on {os.cpu_count()} cores (niceness {os.nice(0)}), with "
        f"`benchmarks/bench_corrupt_stage.py` (n32={args.n32}, n224={args.n224}, "
        f"synthetic={args.synthetic}, n95={args.n95}). The 1-minute load average is printed "
        "beside every figure; above ~2 other work shared the cores and absolute images/s "
        "and 2-worker speed-ups are lower than on a quiet machine.",
        "",
        "stage = the 15 ImageNet-C corruptions x 5 severities; floor = `identity` x 5 "
        "severities x 15 copies (75 configs) through the same stage (same read, decode, "
        "encode, write). images/s = "
        "corrupted images written per second, manifests included. before = "
        f"`{args.before}`, after = this checkout (default lossless encoding: PNG, zlib RLE).",
        "",
        "| px | code | scheduler | workers | stage img/s | floor img/s | stage/floor | load |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        px = 32 if r["kind"] == "cifar32" else 224
        lines.append(f"| {px} | {r['code']} | {r['scheduler']} | {r['workers']} | "
                     f"{r['stage']:,.0f} | {r['floor']:,.0f} | {r['stage'] / r['floor']:.2f} | "
                     f"{r['load']:.2f} |")
    lines += ["", "## after / before (same scheduler and workers)", "",
              "| px | scheduler | workers | stage x | floor x |", "|---|---|---|---|---|"]
    for r in rows:
        if r["code"] != "after":
            continue
        b = next((x for x in rows if x["code"] == "before" and x["kind"] == r["kind"]
                  and x["scheduler"] == r["scheduler"] and x["workers"] == r["workers"]), None)
        if b:
            px = 32 if r["kind"] == "cifar32" else 224
            lines.append(f"| {px} | {r['scheduler']} | {r['workers']} | "
                         f"{r['stage'] / b['stage']:.2f} | {r['floor'] / b['floor']:.2f} |")
    lines += ["", "## 2-worker efficiency (2 workers / 1 worker, stage)", "",
              "| px | code | scheduler | speed-up |", "|---|---|---|---|"]
    for r in rows:
        if r["workers"] == 2:
            one = next((x for x in rows if x["code"] == r["code"] and x["kind"] == r["kind"]
                        and x["scheduler"] == r["scheduler"] and x["workers"] == 1), None)
            if one:
                px = 32 if r["kind"] == "cifar32" else 224
                lines.append(f"| {px} | {r['code']} | {r['scheduler']} | "
                             f"{r['stage'] / one['stage']:.2f}x (load {r['load']:.2f}) |")
    lines += ["", "## per-step breakdown (after: one clean shard through the 75 configs of the "
              "stage or the floor, in-process, one task per family)", "",
              "ms per written image (share of the task time); decode is once per task.", "",
              "| px | ops | images | decode | kernel | encode | write | other ms | load |",
              "|---|---|---|---|---|---|---|---|---|"]
    for (kind, ops), s in steps.items():
        lines.append(_steps_row(kind, ops, s))
    lines += ["", "## synthetic ImageNet layout through all 95 configs (19 x 5, imagenet224)",
              "", f"{args.synthetic} crops of scikit-image's photos as `val/<wnid>/*.JPEG`, pulled "
              f"with resize 256 / centre crop 224 (whole set: {full[0]['pull_seconds']:.1f} s); "
              f"a {args.n95}-image subsample through all 95 configs on the 2-worker process pool; "
              "projection = 50,000 x 95 images at the measured rate.", "",
              "| encoding | images | seconds | img/s | projected 50k x 95 (h, 2 workers) | load |",
              "|---|---|---|---|---|---|"]
    for f in full:
        lines.append(f"| {f['encoding']} | {f['images']:,} | {f['seconds']:.1f} | "
                     f"{f['rate']:.0f} | {f['hours']:.2f} | {f['load']:.2f} |")
    text = "\n".join(lines) + "\n"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
