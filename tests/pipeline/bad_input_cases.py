"""The bad-input corpus of issue #14, as data: each case builds files and a command.

A case is run through the real CLI entry point (:func:`pipeline.cli.main`) or, for
parsers no manifest can reach with bad bytes (``read_idx`` sits behind an md5
check), through the parser itself. :func:`run_case` classifies what happened:

* ``error``: exit status 2 with a message (a :class:`BenchsmithError`);
* ``quarantine``: exit 0 and at least ``case.rejects`` rows in the rejects tables;
* ``converted``: exit 0 and ``case.check`` confirms the one documented conversion rule;
* ``traceback``: any other exception or exit status;
* ``silent``: exit 0 without the expected rejects or conversion, or a download was
  attempted for an option that never asked for one.

This module imports only the CLI and ``read_idx`` so that it also runs against
another checkout (``python tests/pipeline/bad_input_cases.py`` with ``PYTHONPATH``
pointing at it) to count the outcomes before and after a change.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import pickle
import sys
import traceback
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
from bad_inputs import (
    _DROP,
    HEIC,
    SVG,
    Case,
    _Reduce,
    alpha_dropped,
    argv_for,
    bad_crc_png,
    bmp_bomb,
    broken_link,
    cifar,
    cifar_batch,
    cli,
    corrupt_name,
    encode,
    folder_opts,
    gif_bomb,
    good_parquet_bytes,
    hf_meta,
    huge_array_batch,
    huge_bytes_batch,
    idx_call,
    jpeg_bomb,
    laughs,
    m5k,
    manifest,
    meta_pickle,
    mnist_dir,
    mnist_gz,
    offline,
    output_pixels,
    palette_rgb,
    parquet_case,
    path_cell,
    png,
    png16,
    png_bomb,
    raw_idx_labels,
    raw_parquet,
    real_jpegs,
    real_pixels,
    rgba_png,
    shared,
    sixteen_bit_rule,
    symlink_dir_out,
    symlink_out,
    tiff,
    tree,
    with_image,
    write_parquet,
    yaml_text,
    zero_width_png,
)
from PIL import Image

GOOD = ("error", "quarantine", "converted")


def _cases() -> list[Case]:  # noqa: PLR0915 - one table
    c: list[Case] = []

    def add(id_: str, group: str, expect: str, build: Callable, **kw: Any) -> None:
        c.append(Case(id_, group, expect, build, **kw))

    q, e = "quarantine", "error"
    # decoding (through Parquet and imagefolder pulls)
    add("png-bomb-parquet", "decode", q, with_image(png_bomb()), match="30000x30000")
    add("png-bomb-folder", "decode", q, tree({"cat/bomb.png": png_bomb()}), match="30000x30000")
    add("jpeg-bomb-parquet", "decode", q, lambda t: with_image(jpeg_bomb())(t), match="60000")
    add("jpeg-bomb-folder", "decode", q, lambda t: tree({"cat/bomb.jpg": jpeg_bomb()})(t))
    add("gif-bomb-parquet", "decode", q, lambda t: with_image(gif_bomb())(t))
    add("gif-bomb-folder", "decode", q, lambda t: tree({"cat/bomb.gif": gif_bomb()})(t))
    add("bmp-bomb-parquet", "decode", q, lambda t: with_image(bmp_bomb())(t))
    add("bmp-bomb-folder", "decode", q, lambda t: tree({"dog/bomb.bmp": bmp_bomb()})(t))
    add("truncated-png", "decode", q,
        lambda t: with_image(png(real_pixels()[0][0])[:200])(t))
    add("truncated-jpeg", "decode", q, lambda t: with_image(real_jpegs()[0][:300])(t))
    add("random-bytes-image", "decode", q, with_image(bytes(range(256)) * 4))
    add("empty-image-bytes", "decode", q, with_image(b""))
    add("bad-crc-png", "decode", q, lambda t: with_image(bad_crc_png())(t))
    add("zero-width-png", "decode", q, lambda t: with_image(zero_width_png())(t))
    add("svg-bytes-in-parquet", "decode", q, with_image(SVG))
    add("heic-bytes-in-parquet", "decode", q, with_image(HEIC))
    add("float32-tiff", "decode", q,
        lambda t: with_image(tiff(np.full((4, 4), 0.5, np.float32)))(t))
    add("int32-tiff-over-16bit", "decode", q,
        lambda t: with_image(tiff(np.full((4, 4), 100000, np.int32)))(t))
    add("16bit-gray-folder", "decode", "converted",
        lambda t: tree({"cat/lo.png": png16(200), "dog/hi.png": png16(300)})(t),
        check=sixteen_bit_rule)
    add("16bit-gray-parquet", "decode", "converted",
        lambda t: parquet_case([{"bytes": png16(200), "path": None},
                                {"bytes": png16(300), "path": None}], [0, 1])(t),
        check=sixteen_bit_rule)
    add("rgba-png-alpha-dropped", "decode", "converted",
        lambda t: parquet_case([{"bytes": rgba_png(), "path": None}], [0])(t), check=alpha_dropped)
    add("palette-png", "decode", "converted",
        lambda t: parquet_case([{"bytes": png(np.asarray(Image.fromarray(real_pixels()[0][0])
                                                        .convert("P"))), "path": None}], [0])(t),
        check=lambda out: len(output_pixels(out)) == 1)
    add("palette-gif-rgb", "decode", "converted",
        lambda t: parquet_case([{"bytes": encode(Image.fromarray(real_pixels()[0][0]).convert("P"),
                                                 "GIF"), "path": None}], [0])(t),
        check=palette_rgb)

    # Parquet files and options
    add("not-parquet", "parquet", e, raw_parquet(lambda t: b"image,label\nx.png,1\n" * 50))
    add("truncated-parquet", "parquet", e,
        raw_parquet(lambda t: good_parquet_bytes(t)[: len(good_parquet_bytes(t)) // 2]))
    add("empty-parquet-file", "parquet", e, raw_parquet(lambda t: b""))
    add("parquet-tail-only", "parquet", e, raw_parquet(lambda t: good_parquet_bytes(t)[-200:]))
    add("garbage-hf-metadata", "parquet", e, parquet_case(meta={b"huggingface": b"{not json"}))
    add("hf-metadata-not-utf8", "parquet", e, parquet_case(meta={b"huggingface": b"\xff\xfe"}))
    add("hf-names-not-list", "parquet", e, parquet_case(meta={b"huggingface": json.dumps(
        {"info": {"features": {"label": {"names": "abcdefghij"}}}}).encode()}))
    add("hf-names-duplicate", "parquet", e, parquet_case(meta=hf_meta(["a", "a", "b", "c"] * 3)))
    add("no-metadata-hint-names", "parquet", e, parquet_case(meta={}), match="names")
    add("image-column-int", "parquet", e,
        parquet_case(images=[1, 2, 3, 4], image_type=pa.int64()))
    add("image-column-string", "parquet", e,
        parquet_case(images=["a", "b", "c", "d"], image_type=pa.string()))
    add("float-labels", "parquet", e, parquet_case(labels=[3.7, 1.0, 2.0, 0.0],
                                                   label_type=pa.float64()))
    add("bool-labels", "parquet", e, parquet_case(labels=[True, False, True, True],
                                                  label_type=pa.bool_()))
    add("string-labels", "parquet", e, parquet_case(labels=["cat", "dog", "cat", "cat"],
                                                    label_type=pa.string()))
    add("label-out-of-range", "parquet", q, parquet_case(labels=[3, 8, 10, 0]))
    add("label-negative", "parquet", q, parquet_case(labels=[3, -1, 8, 0]))
    add("label-null", "parquet", q, parquet_case(labels=[3, None, 8, 0]))
    add("image-null", "parquet", q, parquet_case(
        images=[None] + [{"bytes": b, "path": None} for b in real_jpegs()[1:]]))
    add("path-cell-absolute-outside", "parquet", q,
        path_cell(lambda t: str(t / "outside.png")), match="outside")
    add("path-cell-relative-escape", "parquet", q, path_cell(lambda t: "../outside.png"),
        match="outside")
    add("path-cell-etc", "parquet", q, path_cell(lambda t: "/etc/hostname"))
    add("path-cell-missing", "parquet", q, path_cell(lambda t: "nope.png"))
    add("missing-label-column", "parquet", e, parquet_case(options={"label_column": "fine"}))
    add("glob-matches-nothing", "parquet", e,
        lambda t: argv_for(t, manifest("parquet", {"files": {"test": str(t / "*.parquet")}})))
    add("schema-mismatch", "parquet", e, lambda t: (
        write_parquet(t / "pq" / "a.parquet"),
        write_parquet(t / "pq" / "b.parquet", extra={"idx": pa.array([1, 2, 3, 4])}),
        argv_for(t, manifest("parquet", {"files": {"test": str(t / "pq" / "*.parquet")}})))[-1])
    add("names-string", "parquet", e, parquet_case(options={"names": "abcdefghij"}))
    add("names-duplicate", "parquet", e, parquet_case(options={"names": ["a", "a"] * 5}))
    add("names-ints", "parquet", e, parquet_case(options={"names": list(range(10))}))
    add("image-column-int-option", "parquet", e, parquet_case(options={"image_column": 5}))
    add("files-string", "parquet", e,
        lambda t: argv_for(t, manifest("parquet", {"files": str(t / "*.parquet")})))
    add("files-value-int", "parquet", e, lambda t: argv_for(t, manifest("parquet",
                                                                        {"files": {"test": 5}})))
    add("depth-column-garbage", "parquet", q, parquet_case(
        options={"depth_column": "depth"},
        extra={"depth": pa.array([{"bytes": b"junk", "path": None}] * 4,
                                 pa.struct([("bytes", pa.binary()), ("path", pa.string())]))}),
        rejects=4)
    add("max-pixels-zero", "parquet", e, parquet_case(options={"max_pixels": 0}))
    add("max-pixels-string", "parquet", e, parquet_case(options={"max_pixels": "big"}))

    # imagefolder trees
    add("heic-file", "imagefolder", q, tree({"cat/x.heic": HEIC}), match="heic")
    add("svg-file", "imagefolder", q, tree({"cat/x.svg": SVG}))
    add("no-extension", "imagefolder", q, tree({"dog/README": b"hello"}))
    add("image-at-root", "imagefolder", q, lambda t: tree({"top.png": png(real_pixels()[0][3])})(t))
    add("hidden-file", "imagefolder", q, tree({"cat/.DS_Store": b"\x00\x00\x00\x01Bud1"}))
    add("symlink-outside", "imagefolder", q, tree({}, setup=symlink_out), match="outside")
    add("symlink-dir-outside", "imagefolder", q, tree({}, setup=symlink_dir_out))
    add("broken-symlink", "imagefolder", q, tree({}, setup=broken_link))
    add("non-utf8-file-name", "imagefolder", q,
        lambda t: tree({b"cat/caf\xe9.png": png(real_pixels()[0][3])})(t), match="UTF-8")
    add("non-utf8-class-name", "imagefolder", e,
        lambda t: tree({b"ch\xe8vre/x.png": png(real_pixels()[0][3])})(t), match="UTF-8")
    add("garbage-png-file", "imagefolder", q, tree({"dog/x.png": b"not a png"}))
    add("zero-byte-jpg", "imagefolder", q, tree({"dog/x.jpg": b""}))
    add("text-as-jpeg", "imagefolder", q, tree({"cat/notes.jpg": b"plain text\n" * 20}))
    add("root-missing", "imagefolder", e,
        lambda t: argv_for(t, manifest("imagefolder", {"root": str(t / "nope")}, ["train"])))
    add("root-is-file", "imagefolder", e, lambda t: (
        (t / "f").write_bytes(b"x"),
        argv_for(t, manifest("imagefolder", {"root": str(t / "f")}, ["train"])))[-1])
    add("root-empty", "imagefolder", e, lambda t: (
        (t / "empty").mkdir(),
        argv_for(t, manifest("imagefolder", {"root": str(t / "empty")}, ["train"])))[-1])
    add("only-non-images", "imagefolder", e, lambda t: (
        (t / "r" / "cat").mkdir(parents=True), (t / "r" / "cat" / "a.txt").write_bytes(b"x"),
        argv_for(t, manifest("imagefolder", {"root": str(t / "r")}, ["train"])))[-1])
    add("stray-file-in-split-layout", "imagefolder", q,
        tree({"notes.png": png(real_pixels()[0][3])}, splits=["test"]))
    add("follow-symlinks-string", "imagefolder", e, folder_opts({"follow_symlinks_outside": "yes"}))
    add("root-int", "imagefolder", e,
        lambda t: argv_for(t, manifest("imagefolder", {"root": 123}, ["train"])))
    add("root-list", "imagefolder", e,
        lambda t: argv_for(t, manifest("imagefolder", {"root": ["a"]}, ["train"])))
    add("depth-missing", "imagefolder", q,
        lambda t: ((t / "depth").mkdir(), tree({}, {"depth_root": str(t / "depth")})(t))[-1],
        rejects=2)

    # CIFAR python-version batches
    add("meta-without-label-names", "cifar", e, cifar(meta=meta_pickle(num_cases_per_batch=10)))
    add("meta-duplicate-names", "cifar", e, cifar(meta=meta_pickle(label_names=[b"a"] * 10)))
    add("meta-names-not-utf8", "cifar", e,
        cifar(meta=meta_pickle(label_names=[b"\xff\xfe"] + [b"x%d" % i for i in range(9)])))
    add("meta-is-list", "cifar", e, cifar(meta=lambda: pickle.dumps([b"a", b"b"], protocol=2)))
    add("meta-names-string", "cifar", e, cifar(meta=meta_pickle(label_names="abcdefghij")))
    add("truncated-official-batch", "cifar", e, cifar(
        batch=lambda: (shared() / "datasets/cifar10/test_batch.prefix-3MiB").read_bytes()))
    add("crafted-pickle-global", "cifar", e,
        cifar(batch=lambda: pickle.dumps({b"data": _Reduce((os.system, ("true",)))}, protocol=2)))
    add("float-labels-batch", "cifar", e, cifar(batch=lambda: cifar_batch(labels=[3.7, 8, 8, 0])))
    add("bool-labels-batch", "cifar", e,
        cifar(batch=lambda: cifar_batch(labels=[True, 8, 8, 0])))
    add("labels-out-of-range-batch", "cifar", q,
        cifar(batch=lambda: cifar_batch(labels=[3, 8, 12, 0])))
    add("data-wrong-shape", "cifar", e,
        cifar(batch=lambda: cifar_batch(data=np.zeros((4, 100), np.uint8))))
    add("data-is-list", "cifar", e, cifar(batch=lambda: cifar_batch(data=[[0] * 3072] * 4)))
    add("batch-without-labels", "cifar", e, cifar(batch=lambda: cifar_batch(labels=_DROP)))
    add("huge-declared-array", "cifar", e, cifar(batch=huge_array_batch))
    add("huge-declared-bytes", "cifar", e, cifar(batch=huge_bytes_batch))
    add("data-label-count-mismatch", "cifar", e, cifar(batch=lambda: cifar_batch(labels=[1, 2])))
    add("path-missing", "cifar", e, cifar(options={"path": "/nonexistent/cifar"}))
    add("download-string-no", "cifar", e, cifar(options={"download": "no"}), match="download")
    add("download-int", "cifar", e, cifar(options={"download": 1}))
    add("path-int", "cifar", e, cifar(options={"path": 123}), match="path")
    add("random-bytes-batch", "cifar", e, cifar(batch=lambda: os.urandom(4096)))
    add("empty-batch", "cifar", e, cifar(batch=lambda: b""))

    # IDX parser and MNIST files
    add("idx-header-truncated", "idx", e, idx_call(lambda: raw_idx_labels()[:6]))
    add("idx-payload-truncated", "idx", e, idx_call(lambda: raw_idx_labels()[:-10]))
    add("idx-bad-magic", "idx", e, idx_call(lambda: b"\x01\x02" + raw_idx_labels()[2:]))
    add("idx-bad-dtype", "idx", e, idx_call(lambda: b"\x00\x00\x0d\x01" + raw_idx_labels()[4:]))
    add("idx-zero-dims", "idx", e, idx_call(lambda: b"\x00\x00\x08\x00"))
    add("idx-corrupt-gzip", "idx", e, idx_call(
        lambda: mnist_gz("t10k-labels-idx1-ubyte.gz")[:20] + b"\xff" * 200, "x-idx1-ubyte.gz"))
    add("idx-truncated-gzip", "idx", e, idx_call(
        lambda: mnist_gz("t10k-labels-idx1-ubyte.gz")[:-50], "x-idx1-ubyte.gz"))
    add("mnist-wrong-md5", "idx", e, mnist_dir(lambda d: d[:-8] + b"\x00" * 8), match="md5")
    add("mnist-download-string", "idx", e, mnist_dir(options={"download": "no"}))
    add("mnist-path-bool", "idx", e, mnist_dir(options={"path": True}))

    # manifests
    add("billion-laughs-7", "manifest", e, yaml_text(laughs(7)), match="alias|anchor")
    add("self-referencing-anchor", "manifest", e, yaml_text(
        "name: bad\nsources: &s [{source: mnist5k, splits: [train], limit: 3, options: *s}]\n"))
    add("simple-alias", "manifest", e, yaml_text(
        "name: bad\nd: &d x\ndescription: *d\nsources: [{source: mnist5k, splits: [train]}]\n"))
    add("non-utf8-manifest", "manifest", e, yaml_text(
        b"name: bad\ndescription: caf\xe9\nsources: [{source: mnist5k, splits: [train]}]\n"),
        match="UTF-8")
    add("description-int", "manifest", e, m5k(description=123))
    add("description-list", "manifest", e, m5k(description=["a"]))
    add("seed-1e23-string", "manifest", e, yaml_text(
        "name: bad\nseed: 1e23\nsources: [{source: mnist5k, splits: [train], limit: 3}]\n"))
    add("seed-huge-int", "manifest", e, m5k(seed=10**23), match="seed")
    add("seed-negative", "manifest", e, m5k(seed=-1))
    add("seed-bool", "manifest", e, m5k(seed=True))
    add("seed-float", "manifest", e, m5k(seed=1.5))
    add("limit-float", "manifest", e, m5k(src={"limit": 2.5}))
    add("limit-bool", "manifest", e, m5k(src={"limit": True}))
    add("limit-zero", "manifest", e, m5k(src={"limit": 0}))
    add("splits-string", "manifest", e, m5k(src={"splits": "train"}))
    add("splits-duplicate", "manifest", e, m5k(src={"splits": ["train", "train"]}))
    add("options-list", "manifest", e, m5k(src={"options": [1]}))
    add("options-zero", "manifest", e, m5k(src={"options": 0}))
    add("preprocess-list", "manifest", e, m5k(src={"preprocess": []}))
    add("unknown-option", "manifest", e, m5k(src={"options": {"pth": "x"}}))
    add("unknown-top-key", "manifest", e, m5k(sourcez=[]))
    add("bad-name", "manifest", e, m5k(name="Bad Name"))
    add("config-name-escape", "manifest", e, corrupt_name("../../escaped_{corruption}"),
        match="config_name")
    add("config-name-absolute", "manifest", e, corrupt_name("/dir/{corruption}/.."),
        match="config_name")
    add("config-name-unknown-field", "manifest", e, corrupt_name("{corruption}_{sevrity}"),
        match="config_name")
    add("config-name-conversion", "manifest", e, corrupt_name("{corruption!r}"))
    add("config-name-positional", "manifest", e, corrupt_name("{0}"))
    add("config-name-unclosed", "manifest", e, corrupt_name("{corruption"))
    add("config-name-attribute", "manifest", e, corrupt_name("{corruption.__class__}"))
    add("severity-zero", "manifest", e,
        m5k(corrupt={"suites": [{"corruptions": {"fog": [0]}}]}))
    add("empty-manifest", "manifest", e, yaml_text(""))
    add("top-level-list", "manifest", e, yaml_text("- a\n- b\n"))
    add("deep-nesting", "manifest", e, yaml_text("a: " + "[" * 3000 + "]" * 3000 + "\n"))
    add("python-tag", "manifest", e, yaml_text(
        "name: !!python/object/apply:os.system [true]\nsources: []\n"))
    add("huge-manifest", "manifest", e, yaml_text(
        "name: bad\nsources: [{source: mnist5k, splits: [train]}]\n" + "# pad\n" * 400_000))

    # command line
    add("set-index-out-of-range", "cli", e, cli("--set", "sources.3.limit=2"), match="sources.3")
    add("set-index-not-number", "cli", e, cli("--set", "sources.x.limit=2"))
    add("set-without-equals", "cli", e, cli("--set", "name"))
    add("set-through-scalar", "cli", e, cli("--set", "seed.x=1"))
    add("set-value-alias", "cli", e, cli("--set", "description=&a x"))
    add("set-bad-yaml", "cli", e, cli("--set", "description=[unclosed"))
    add("seed-not-int", "cli", e, cli("--seed", "abc"))
    add("manifest-missing", "cli", e, lambda t: ["pull", "--manifest", str(t / "no.yaml"),
                                                 "--out", str(t / "out")])
    add("unknown-command", "cli", e, lambda t: ["pulll"])
    add("shard-size-zero", "cli", e, cli("--shard-size", "0"))
    add("unknown-scheduler", "cli", e, cli("--scheduler", "warp"))
    return c


# Built only where the shared data the cases mutate is present (a fresh clone without it
# collects this module for doctests; test_bad_inputs.py then skips, or fails under CI).
CASES = _cases() if (shared() / "datasets").is_dir() else []


def _rejects(out: Path) -> list[str]:
    reasons: list[str] = []
    for m in sorted(out.glob("*/manifest.json")):
        rows = json.loads(m.read_text()).get("rejects", {}).get("rows", [])
        reasons += [f"{r.get('key')}: {r.get('reason')}" for r in rows]
    return reasons


def run_case(case: Case, tmp: Path) -> tuple[str, str]:
    """Run one case in ``tmp``; return ``(outcome, detail)`` as described in the module doc."""
    from pipeline.cli import main
    from pipeline.errors import BenchsmithError

    err = io.StringIO()
    rc: Any = 0
    with offline(tmp):
        try:
            target = case.build(tmp)
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
                if callable(target):
                    try:
                        target()
                    except BenchsmithError as exc:
                        rc, _ = 2, err.write(str(exc))
                else:
                    rc = main(target)
        except SystemExit as exc:
            rc = exc.code if isinstance(exc.code, int) else 2
        except BaseException:  # noqa: BLE001 - classifying is the point
            return "traceback", traceback.format_exc(limit=-3)
    msg = err.getvalue()
    if rc == 2:
        return ("silent" if "could not download" in msg else "error"), msg
    if rc != 0:
        return "traceback", f"exit {rc}: {msg}"
    if case.check is not None:
        return ("converted" if case.check(tmp / "out") else "silent"), "output checked"
    reasons = _rejects(tmp / "out")
    return ("quarantine" if len(reasons) >= case.rejects else "silent"), "\n".join(reasons)


def tally(tmp_root: Path) -> dict[str, Counter]:
    """Run every case; count outcomes per group."""
    import tempfile

    counts: dict[str, Counter] = {}
    for case in CASES:
        with tempfile.TemporaryDirectory(dir=tmp_root) as d:
            outcome, detail = run_case(case, Path(d))
        counts.setdefault(case.group, Counter())[outcome] += 1
        if outcome not in GOOD:
            print(f"  {case.group}/{case.id}: {outcome}: {detail.strip().splitlines()[-1:]}",
                  file=sys.stderr)
    return counts


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as root:
        table = tally(Path(root))
    kinds = ("error", "quarantine", "converted", "traceback", "silent")
    print("| group | cases | " + " | ".join(kinds) + " |")
    print("|---|---|" + "---|" * len(kinds))
    total: Counter = Counter()
    for group, cnt in table.items():
        total.update(cnt)
        print(f"| {group} | {sum(cnt.values())} | " + " | ".join(str(cnt[k]) for k in kinds) + " |")
    print(f"| all | {sum(total.values())} | " + " | ".join(str(total[k]) for k in kinds) + " |")
