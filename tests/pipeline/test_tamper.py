"""Tamper suite: every way a published benchmark can be broken or forged is caught by validate.

One real build (the shipped ``manifests/digits.yaml``, 200 rows in shards of 100, with
``fog_2``, ``snow_3`` and ``gaussian_noise_2``) is made once through the real CLI, then
copied per case. Each case edits the copy the way a crash, a careless hand or an
adversary would, often *resealing* it afterwards (sha256 in ``manifest.json`` and the
``benchmark.json`` files map updated to the forged bytes), and names the finding it
must produce: check, config, file and, for row-level tampering, the row. A case passes
only when validate fails *and* reports that exact location.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from PIL import Image

from pipeline.cli import main as cli
from pipeline.download import file_digest
from pipeline.shards import encode_png
from pipeline.sources.hf import decode_image
from pipeline.validate import validate
from pipeline.validate_report import ROOT

REPO = Path(__file__).resolve().parents[2]
S0, S1 = "train-00000-of-00002.parquet", "train-00001-of-00002.parquet"
CORRUPT = "{preset: auto, suites: [{corruptions: {fog: [2], snow: [3], gaussian_noise: [2]}}]}"


# --- helpers: the completion record, resealing, shard edits ------------------------------------


def complete(root: Path) -> None:
    """Add the publish completion record (the contract) unless publish already wrote it.

    ``benchmark.json`` gains ``"complete": true`` and ``"files"``: the sha256 of every file
    of the folder except ``benchmark.json`` and ``.benchsmith``.
    """
    path = root / "benchmark.json"
    info = json.loads(path.read_text())
    if info.get("complete") is True and isinstance(info.get("files"), dict):
        return
    seal(root, info)


def seal(root: Path, info: dict | None = None) -> None:
    """Rewrite the completion record for the folder as it is now (what a forger would do)."""
    path = root / "benchmark.json"
    info = info if info is not None else json.loads(path.read_text())
    info["complete"] = True
    info["files"] = {
        p.relative_to(root).as_posix(): file_digest(p, "sha256")
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.relative_to(root).as_posix() not in ("benchmark.json", ".benchsmith")
    }
    path.write_text(json.dumps(info, indent=2))


def reseal(root: Path) -> None:
    """Update every shard sha256 in the config manifests, then the completion record."""
    for m in root.glob("*/manifest.json"):
        meta = json.loads(m.read_text())
        for split in meta["splits"].values():
            for s in split["shards"]:
                if (m.parent / s["file"]).is_file():
                    s["sha256"] = file_digest(m.parent / s["file"], "sha256")
        m.write_text(json.dumps(meta, indent=2))
    seal(root)


def rewrite(shard: Path, fn: Callable[[pa.Table], pa.Table]) -> None:
    """Rewrite a shard through ``fn``, keeping the embedded features."""
    pf = pq.ParquetFile(shard)
    table = fn(pf.read())
    pq.write_table(table.replace_schema_metadata(pf.schema_arrow.metadata), shard)


def set_cells(table: pa.Table, col: str, values: dict[int, object]) -> pa.Table:
    data = table[col].to_pylist()
    for i, v in values.items():
        data[i] = v
    return table.set_column(table.column_names.index(col), col,
                            pa.array(data, table.schema.field(col).type))


def edit_json(path: Path, fn: Callable[[dict], object]) -> None:
    obj = json.loads(path.read_text())
    fn(obj)
    path.write_text(json.dumps(obj, indent=2))


def edit_card(root: Path, fn: Callable[[dict], None]) -> None:
    text = (root / "README.md").read_text()
    _, head, body = text.split("---\n", 2)
    header = yaml.safe_load(head)
    fn(header)
    (root / "README.md").write_text("---\n" + yaml.safe_dump(header, sort_keys=False) + "---\n"
                                    + body)


def card_entry(header: dict, key: str, config: str) -> dict:
    return next(e for e in header[key] if e["config_name"] == config)


def image_of(root: Path, config: str, shard: str, row: int) -> dict:
    return pq.read_table(root / config / shard, columns=["image"])["image"][row].as_py()


def jpeg_bytes(png: bytes) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(decode_image(png)).save(buf, format="JPEG", quality=95)
    return buf.getvalue()


# --- the build -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def pristine(tmp_path_factory) -> Path:
    """The digits build through `benchsmith build`, completion record added per the contract."""
    d = tmp_path_factory.mktemp("tamper")
    rc = cli(["build", "--manifest", str(REPO / "manifests/digits.yaml"),
              "--set", "sources.0.limit=200", "--set", f"corrupt={CORRUPT}",
              "--out", str(d / "out"), "--work", str(d / "work"), "--shard-size", "100",
              "--scheduler", "sync", "--no-progress"])
    assert rc in (0, 1)  # 1 until publish writes the completion record itself
    complete(d / "out")
    report = validate(d / "out", recompute=1.0, scheduler="sync")
    assert report.ok, report.text()
    assert report.recompute["rows"] == 600
    return d / "out"


@dataclass(frozen=True)
class Want:
    """One finding a case must produce (``None``: any value)."""

    check: str
    config: str
    shard: str | None = None
    row: int | None = None


def _s(path: str) -> Callable[[Path], None]:
    """Delete a file or folder."""
    def fn(root: Path) -> None:
        p = root / path
        shutil.rmtree(p) if p.is_dir() else p.unlink()
    return fn


# --- the cases: (id, tamper, wanted findings, recompute fraction) ----------------------------


def t_extra_shard(root: Path) -> None:
    shutil.copy(root / "fog_2" / S0, root / "fog_2" / "train-00002-of-00002.parquet")


def t_renamed_shard(root: Path) -> None:
    os.rename(root / "fog_2" / S1, root / "fog_2" / "train-00001-of-00003.parquet")


def t_dropped_shard_resealed(root: Path) -> None:
    (root / "fog_2" / S1).unlink()

    def drop(m: dict) -> None:
        m["splits"]["train"]["shards"] = m["splits"]["train"]["shards"][:1]
        m["splits"]["train"]["num_rows"] = 100
    edit_json(root / "fog_2/manifest.json", drop)
    seal(root)


def t_extra_config(root: Path) -> None:
    shutil.copytree(root / "fog_2", root / "fog_9")


def t_renamed_config(root: Path) -> None:
    os.rename(root / "snow_3", root / "snow_4")


def t_foreign_folder(root: Path) -> None:
    (root / "thesis").mkdir()
    (root / "thesis" / "chapter1.tex").write_text("x")


def t_foreign_folder_sealed(root: Path) -> None:
    t_foreign_folder(root)
    seal(root)


def t_config_manifest_deleted(root: Path) -> None:
    (root / "fog_2" / "manifest.json").unlink()
    seal(root)


def t_manifest_no_splits(root: Path) -> None:
    edit_json(root / "fog_2/manifest.json", lambda m: m.pop("splits"))
    seal(root)


def t_manifest_not_json(root: Path) -> None:
    (root / "fog_2/manifest.json").write_text('{"config": "fog_2", ')
    seal(root)


def t_manifest_is_list(root: Path) -> None:
    (root / "fog_2/manifest.json").write_text("[1, 2]")
    seal(root)


def t_manifest_shard_record(root: Path) -> None:
    edit_json(root / "fog_2/manifest.json",
              lambda m: m["splits"]["train"]["shards"][0].pop("sha256"))
    seal(root)


def t_manifest_bad_features(root: Path) -> None:
    edit_json(root / "fog_2/manifest.json",
              lambda m: m.__setitem__("features", {"label": {"_type": "NoSuchFeature"}}))
    seal(root)


def t_manifest_bad_encoding(root: Path) -> None:
    edit_json(root / "fog_2/manifest.json", lambda m: m.__setitem__("encoding", {"format": "gif"}))
    seal(root)


def t_manifest_rows(root: Path) -> None:
    edit_json(root / "fog_2/manifest.json",
              lambda m: m["splits"]["train"]["shards"][1].__setitem__("num_rows", 99))
    seal(root)


def t_truncated(root: Path) -> None:
    p = root / "fog_2" / S1
    p.write_bytes(p.read_bytes()[:-300])


def t_truncated_resealed(root: Path) -> None:
    t_truncated(root)
    reseal(root)


def t_garbage_resealed(root: Path) -> None:
    (root / "snow_3" / S0).write_bytes(b"not parquet at all")
    reseal(root)


def t_empty_resealed(root: Path) -> None:
    (root / "clean" / S0).write_bytes(b"")
    reseal(root)


def t_flipped_byte(root: Path) -> None:
    p = root / "gaussian_noise_2" / S0
    data = bytearray(p.read_bytes())
    data[len(data) // 2] ^= 1
    p.write_bytes(bytes(data))


def t_temp_file(root: Path) -> None:
    (root / "fog_2" / f".{S0}.4242.tmp").write_bytes(b"partial")


def t_root_extra_file(root: Path) -> None:
    (root / "notes.txt").write_text("hello")


def t_card_fog_points_at_snow(root: Path) -> None:
    def fn(h: dict) -> None:
        card_entry(h, "configs", "fog_2")["data_files"] = [
            {"split": "train", "path": "snow_3/train-*.parquet"}]
    edit_card(root, fn)
    seal(root)


def t_card_glob_widened(root: Path) -> None:
    def fn(h: dict) -> None:
        card_entry(h, "configs", "fog_2")["data_files"] = [
            {"split": "train", "path": "*/train-*.parquet"}]
    edit_card(root, fn)
    seal(root)


def t_card_string_data_files(root: Path) -> None:
    edit_card(root, lambda h: card_entry(h, "configs", "fog_2").__setitem__(
        "data_files", "snow_3/*.parquet"))
    seal(root)


def t_card_split_renamed(root: Path) -> None:
    edit_card(root, lambda h: card_entry(h, "configs", "fog_2")["data_files"][0].__setitem__(
        "split", "test"))
    seal(root)


def t_card_outside(root: Path) -> None:
    edit_card(root, lambda h: card_entry(h, "configs", "fog_2")["data_files"][0].__setitem__(
        "path", "../elsewhere/*.parquet"))
    seal(root)


def t_card_class_renamed(root: Path) -> None:
    def fn(h: dict) -> None:
        info = card_entry(h, "dataset_info", "fog_2")
        label = next(f for f in info["features"] if f["name"] == "label")
        label["dtype"]["class_label"]["names"]["3"] = "three"
    edit_card(root, fn)
    seal(root)


def t_card_class_renamed_everywhere(root: Path) -> None:
    def fn(h: dict) -> None:
        for info in h["dataset_info"]:
            label = next(f for f in info["features"] if f["name"] == "label")
            label["dtype"]["class_label"]["names"]["0"] = "zero"
    edit_card(root, fn)
    seal(root)


def t_card_feature_dropped(root: Path) -> None:
    edit_card(root, lambda h: card_entry(h, "dataset_info", "snow_3").__setitem__(
        "features", [f for f in card_entry(h, "dataset_info", "snow_3")["features"]
                     if f["name"] != "severity"]))
    seal(root)


def t_card_rows(root: Path) -> None:
    edit_card(root, lambda h: card_entry(h, "dataset_info", "snow_3")["splits"][0].__setitem__(
        "num_examples", 150))
    seal(root)


def t_card_config_removed(root: Path) -> None:
    edit_card(root, lambda h: h.__setitem__(
        "configs", [e for e in h["configs"] if e["config_name"] != "snow_3"]))
    seal(root)


def t_card_info_removed(root: Path) -> None:
    edit_card(root, lambda h: h.__setitem__(
        "dataset_info", [e for e in h["dataset_info"] if e["config_name"] != "snow_3"]))
    seal(root)


def t_card_config_added(root: Path) -> None:
    edit_card(root, lambda h: h["configs"].append(
        {"config_name": "frost_5", "data_files": [{"split": "train", "path": "frost_5/*"}]}))
    seal(root)


def t_card_config_twice(root: Path) -> None:
    edit_card(root, lambda h: h["configs"].append(dict(card_entry(h, "configs", "snow_3"))))
    seal(root)


def t_card_filters(root: Path) -> None:
    edit_card(root, lambda h: card_entry(h, "configs", "fog_2").__setitem__(
        "filters", [["label", "==", 3]]))
    seal(root)


def t_card_default(root: Path) -> None:
    def fn(h: dict) -> None:
        for e in h["configs"]:
            e.pop("default", None)
        card_entry(h, "configs", "fog_2")["default"] = True
    edit_card(root, fn)
    seal(root)


def t_card_no_header(root: Path) -> None:
    (root / "README.md").write_text("# digits\n\nno header\n")
    seal(root)


def t_card_bad_yaml(root: Path) -> None:
    (root / "README.md").write_text("---\nconfigs: [unclosed\n---\n# x\n")
    seal(root)


def t_bench_not_json(root: Path) -> None:
    (root / "benchmark.json").write_text("{")


def t_bench_incomplete(root: Path) -> None:
    edit_json(root / "benchmark.json", lambda b: b.__setitem__("complete", False))


def t_bench_no_record(root: Path) -> None:
    edit_json(root / "benchmark.json", lambda b: [b.pop("complete"), b.pop("files")])


def t_bench_sha_changed(root: Path) -> None:
    edit_json(root / "benchmark.json",
              lambda b: b["files"].__setitem__(f"snow_3/{S1}", "0" * 64))


def t_bench_file_unlisted(root: Path) -> None:
    edit_json(root / "benchmark.json", lambda b: b["files"].pop("contact_sheet.png"))


def t_bench_config_unlisted(root: Path) -> None:
    edit_json(root / "benchmark.json", lambda b: b["configs"].remove("snow_3"))


def t_bench_config_extra(root: Path) -> None:
    edit_json(root / "benchmark.json", lambda b: b["configs"].append("frost_5"))


def t_bench_name(root: Path) -> None:
    edit_json(root / "benchmark.json", lambda b: b.__setitem__("name", "mnist"))


def t_bench_seed(root: Path) -> None:
    edit_json(root / "benchmark.json", lambda b: b.__setitem__("seed", 1))


def t_killed_publish(root: Path) -> None:
    """What `kill` leaves mid-publish: some configs, a temp file, no card, no record."""
    shutil.rmtree(root / "snow_3")
    shutil.rmtree(root / "gaussian_noise_2")
    (root / "README.md").unlink()
    (root / "contact_sheet.png").unlink()
    os.rename(root / "fog_2" / S1, root / "fog_2" / f".{S1}.999.tmp")
    (root / "benchmark.json").unlink()


def t_swapped_images(root: Path) -> None:
    rewrite(root / "fog_2" / S0, lambda t: set_cells(
        t, "image", {4: t["image"][9].as_py(), 9: t["image"][4].as_py()}))
    reseal(root)


def t_image_from_other_config(root: Path) -> None:
    snow = image_of(root, "snow_3", S1, 7)
    rewrite(root / "fog_2" / S1, lambda t: set_cells(t, "image", {7: snow}))
    reseal(root)


def t_pixel_edited(root: Path) -> None:
    def fn(t: pa.Table) -> pa.Table:
        arr = decode_image(t["image"][11].as_py()["bytes"]).copy()
        arr[0, 0] ^= 0x10
        return set_cells(t, "image", {11: {"bytes": encode_png(arr), "path": None}})
    rewrite(root / "gaussian_noise_2" / S1, fn)
    reseal(root)


def t_reencoded_png(root: Path) -> None:
    def fn(t: pa.Table) -> pa.Table:
        buf = io.BytesIO()
        Image.fromarray(decode_image(t["image"][2].as_py()["bytes"])).save(
            buf, format="PNG", compress_level=9)
        return set_cells(t, "image", {2: {"bytes": buf.getvalue(), "path": None}})
    rewrite(root / "snow_3" / S0, fn)
    reseal(root)


def t_jpeg_in_png_clean(root: Path) -> None:
    rewrite(root / "clean" / S1, lambda t: set_cells(
        t, "image", {5: {"bytes": jpeg_bytes(t["image"][5].as_py()["bytes"]), "path": None}}))
    reseal(root)


def t_jpeg_in_png_derived(root: Path) -> None:
    rewrite(root / "fog_2" / S0, lambda t: set_cells(
        t, "image", {6: {"bytes": jpeg_bytes(t["image"][6].as_py()["bytes"]), "path": None}}))
    reseal(root)


def t_undecodable(root: Path) -> None:
    rewrite(root / "snow_3" / S1, lambda t: set_cells(
        t, "image", {3: {"bytes": b"\x89PNG\r\n\x1a\n" + b"\0" * 40, "path": None}}))
    reseal(root)


def t_label_derived(root: Path) -> None:
    rewrite(root / "fog_2" / S1, lambda t: set_cells(t, "label", {3: (t["label"][3].as_py()
                                                                       + 1) % 10}))
    reseal(root)


def t_label_clean(root: Path) -> None:
    rewrite(root / "clean" / S0, lambda t: set_cells(t, "label", {8: (t["label"][8].as_py()
                                                                       + 1) % 10}))
    reseal(root)


def t_label_out_of_range(root: Path) -> None:
    rewrite(root / "snow_3" / S0, lambda t: set_cells(t, "label", {5: 42}))
    reseal(root)


def t_sample_id_changed(root: Path) -> None:
    rewrite(root / "gaussian_noise_2" / S0, lambda t: set_cells(t, "sample_id",
                                                                {12: "digits/train/9999"}))
    reseal(root)


def t_sample_id_duplicate(root: Path) -> None:
    rewrite(root / "clean" / S1, lambda t: set_cells(t, "sample_id",
                                                     {3: t["sample_id"][2].as_py()}))
    reseal(root)


def t_rows_reordered(root: Path) -> None:
    rewrite(root / "snow_3" / S1, lambda t: t.take(list(range(1, 100)) + [0]))
    reseal(root)


def t_shard_from_other_config(root: Path) -> None:
    shutil.copy(root / "snow_3" / S0, root / "fog_2" / S0)
    reseal(root)


def t_config_relabelled(root: Path) -> None:
    """snow_3's shards published as fog_2, provenance columns rewritten to say fog 2."""
    for s in (S0, S1):
        shutil.copy(root / "snow_3" / s, root / "fog_2" / s)
        rewrite(root / "fog_2" / s, lambda t: set_cells(
            set_cells(t, "corruption", dict.fromkeys(range(100), "fog")),
            "severity", dict.fromkeys(range(100), 2)))
    reseal(root)


def t_params_edited(root: Path) -> None:
    def fn(t: pa.Table) -> pa.Table:
        p = json.loads(t["params"][0].as_py())
        p["_pixel_scale"] = 2.0
        return set_cells(t, "params", {0: json.dumps(p, sort_keys=True)})
    rewrite(root / "snow_3" / S0, fn)
    reseal(root)


def t_severity_column(root: Path) -> None:
    rewrite(root / "snow_3" / S1, lambda t: set_cells(t, "severity", {10: 5}))
    reseal(root)


def t_embedded_class_renamed(root: Path) -> None:
    pf = pq.ParquetFile(root / "fog_2" / S0)
    meta = dict(pf.schema_arrow.metadata)
    meta[b"huggingface"] = meta[b"huggingface"].replace(b'"3"', b'"three"')
    pq.write_table(pf.read().replace_schema_metadata(meta), root / "fog_2" / S0)
    reseal(root)


def t_manifest_class_renamed(root: Path) -> None:
    edit_json(root / "fog_2/manifest.json",
              lambda m: m["features"]["label"]["names"].__setitem__(3, "three"))
    seal(root)


CASES: list[tuple[str, Callable[[Path], None], list[Want], float]] = [
    # shards and configs
    ("deleted-shard", _s(f"fog_2/{S1}"), [Want("layout", "fog_2", S1), Want("files", "fog_2", S1)],
     0),
    ("extra-shard", t_extra_shard, [Want("layout", "fog_2", "train-00002-of-00002.parquet"),
                                    Want("files", "fog_2", "train-00002-of-00002.parquet")], 0),
    ("renamed-shard", t_renamed_shard,
     [Want("layout", "fog_2", S1), Want("layout", "fog_2", "train-00001-of-00003.parquet")], 0),
    ("dropped-shard-resealed", t_dropped_shard_resealed, [Want("ids", "fog_2", S1),
                                                          Want("card", "fog_2", "README.md")], 0),
    ("deleted-config", _s("snow_3"), [Want("benchmark", "snow_3", "benchmark.json"),
                                      Want("card", "snow_3", "README.md"),
                                      Want("files", "snow_3", S0)], 0),
    ("extra-config", t_extra_config, [Want("benchmark", "fog_9", "benchmark.json"),
                                      Want("card", "fog_9", "README.md"),
                                      Want("files", "fog_9", S0)], 0),
    ("renamed-config", t_renamed_config, [Want("benchmark", "snow_3", "benchmark.json"),
                                          Want("benchmark", "snow_4", "benchmark.json"),
                                          Want("card", "snow_4", "README.md")], 0),
    ("foreign-folder", t_foreign_folder, [Want("layout", "thesis"),
                                          Want("files", "thesis", "chapter1.tex")], 0),
    ("foreign-folder-sealed", t_foreign_folder_sealed, [Want("layout", "thesis")], 0),
    ("temp-file", t_temp_file, [Want("layout", "fog_2", f".{S0}.4242.tmp"),
                                Want("files", "fog_2", f".{S0}.4242.tmp")], 0),
    ("root-extra-file", t_root_extra_file, [Want("files", ROOT, "notes.txt")], 0),
    # config manifests
    ("config-manifest-deleted", t_config_manifest_deleted, [Want("layout", "fog_2"),
                                                            Want("card", "fog_2", "README.md")], 0),
    ("manifest-no-splits", t_manifest_no_splits, [Want("manifest", "fog_2", "manifest.json")], 0),
    ("manifest-not-json", t_manifest_not_json, [Want("manifest", "fog_2", "manifest.json")], 0),
    ("manifest-is-list", t_manifest_is_list, [Want("manifest", "fog_2", "manifest.json")], 0),
    ("manifest-shard-record", t_manifest_shard_record,
     [Want("manifest", "fog_2", "manifest.json")], 0),
    ("manifest-bad-features", t_manifest_bad_features,
     [Want("manifest", "fog_2", "manifest.json")], 0),
    ("manifest-bad-encoding", t_manifest_bad_encoding,
     [Want("manifest", "fog_2", "manifest.json")], 0),
    ("manifest-row-count", t_manifest_rows, [Want("count", "fog_2", S1),
                                             Want("count", "fog_2", "manifest.json")], 0),
    ("manifest-class-renamed", t_manifest_class_renamed,
     [Want("labels", "fog_2", "manifest.json"), Want("schema", "fog_2", S0)], 0),
    # shard files
    ("truncated", t_truncated, [Want("checksum", "fog_2", S1), Want("readable", "fog_2", S1),
                                Want("files", "fog_2", S1)], 0),
    ("truncated-resealed", t_truncated_resealed, [Want("readable", "fog_2", S1)], 0),
    ("garbage-resealed", t_garbage_resealed, [Want("readable", "snow_3", S0)], 0),
    ("empty-resealed", t_empty_resealed, [Want("readable", "clean", S0)], 0),
    ("flipped-byte", t_flipped_byte, [Want("checksum", "gaussian_noise_2", S0),
                                      Want("files", "gaussian_noise_2", S0)], 0),
    ("embedded-class-renamed", t_embedded_class_renamed, [Want("schema", "fog_2", S0)], 0),
    # the card
    ("card-deleted", _s("README.md"), [Want("card", ROOT, "README.md"),
                                       Want("files", ROOT, "README.md")], 0),
    ("card-fog-points-at-snow", t_card_fog_points_at_snow, [Want("card", "fog_2", "README.md")],
     0),
    ("card-glob-widened", t_card_glob_widened, [Want("card", "fog_2", "README.md")], 0),
    ("card-string-data-files", t_card_string_data_files, [Want("card", "fog_2", "README.md")], 0),
    ("card-split-renamed", t_card_split_renamed, [Want("card", "fog_2", "README.md")], 0),
    ("card-outside-folder", t_card_outside, [Want("card", "fog_2", "README.md")], 0),
    ("card-class-renamed", t_card_class_renamed, [Want("card", "fog_2", "README.md")], 0),
    ("card-class-renamed-all", t_card_class_renamed_everywhere,
     [Want("card", "clean", "README.md"), Want("card", "snow_3", "README.md")], 0),
    ("card-feature-dropped", t_card_feature_dropped, [Want("card", "snow_3", "README.md")], 0),
    ("card-row-count", t_card_rows, [Want("card", "snow_3", "README.md")], 0),
    ("card-config-removed", t_card_config_removed, [Want("card", "snow_3", "README.md")], 0),
    ("card-info-removed", t_card_info_removed, [Want("card", "snow_3", "README.md")], 0),
    ("card-config-added", t_card_config_added, [Want("card", "frost_5", "README.md")], 0),
    ("card-config-twice", t_card_config_twice, [Want("card", "snow_3", "README.md")], 0),
    ("card-filters", t_card_filters, [Want("card", "fog_2", "README.md")], 0),
    ("card-default", t_card_default, [Want("card", ROOT, "README.md")], 0),
    ("card-no-header", t_card_no_header, [Want("card", ROOT, "README.md")], 0),
    ("card-bad-yaml", t_card_bad_yaml, [Want("card", ROOT, "README.md")], 0),
    # benchmark.json and the completion record
    ("bench-deleted", _s("benchmark.json"), [Want("completion", ROOT, "benchmark.json")], 0),
    ("bench-not-json", t_bench_not_json, [Want("completion", ROOT, "benchmark.json")], 0),
    ("bench-complete-false", t_bench_incomplete, [Want("completion", ROOT, "benchmark.json")], 0),
    ("bench-no-record", t_bench_no_record, [Want("completion", ROOT, "benchmark.json")], 0),
    ("bench-sha-changed", t_bench_sha_changed, [Want("files", "snow_3", S1)], 0),
    ("bench-file-unlisted", t_bench_file_unlisted, [Want("files", ROOT, "contact_sheet.png")], 0),
    ("bench-config-unlisted", t_bench_config_unlisted,
     [Want("benchmark", "snow_3", "benchmark.json")], 0),
    ("bench-config-extra", t_bench_config_extra, [Want("benchmark", "frost_5", "benchmark.json")],
     0),
    ("bench-name-edited", t_bench_name, [Want("benchmark", "fog_2", "benchmark.json"),
                                         Want("benchmark", ROOT, "benchmark.json")], 0),
    ("bench-seed-edited", t_bench_seed, [Want("benchmark", "snow_3", "benchmark.json"),
                                         Want("benchmark", ROOT, "benchmark.json")], 0),
    ("killed-publish", t_killed_publish, [Want("completion", ROOT, "benchmark.json"),
                                          Want("card", ROOT, "README.md"),
                                          Want("layout", "fog_2", S1)], 0),
    # rows, labels and images (all resealed: every sha256 matches the forged bytes)
    ("swapped-images", t_swapped_images, [Want("recompute", "fog_2", S0, 4),
                                          Want("recompute", "fog_2", S0, 9)], 1.0),
    ("image-from-other-config", t_image_from_other_config, [Want("recompute", "fog_2", S1, 7)],
     1.0),
    ("pixel-edited", t_pixel_edited, [Want("recompute", "gaussian_noise_2", S1, 11)], 1.0),
    ("reencoded-png", t_reencoded_png, [Want("recompute", "snow_3", S0, 2)], 1.0),
    ("jpeg-in-png-clean", t_jpeg_in_png_clean, [Want("encoding", "clean", S1, 5)], 0),
    ("jpeg-in-png-derived", t_jpeg_in_png_derived, [Want("encoding", "fog_2", S0, 6),
                                                    Want("recompute", "fog_2", S0, 6)], 1.0),
    ("undecodable-image", t_undecodable, [Want("decode", "snow_3", S1, 3)], 0),
    ("label-derived", t_label_derived, [Want("labels", "fog_2", S1, 3)], 0),
    ("label-clean", t_label_clean, [Want("labels", "fog_2", S0, 8),
                                    Want("labels", "snow_3", S0, 8)], 0),
    ("label-out-of-range", t_label_out_of_range, [Want("label-range", "snow_3", S0, 5),
                                                  Want("labels", "snow_3", S0, 5)], 0),
    ("sample-id-changed", t_sample_id_changed, [Want("ids", "gaussian_noise_2", S0, 12)], 0),
    ("sample-id-duplicate", t_sample_id_duplicate, [Want("unique-id", "clean", S1, 3),
                                                    Want("ids", "fog_2", S1, 3)], 0),
    ("rows-reordered", t_rows_reordered, [Want("ids", "snow_3", S1, 0)], 0),
    ("shard-from-other-config", t_shard_from_other_config, [Want("ids", "fog_2", S0, 0)], 0),
    ("config-relabelled", t_config_relabelled, [Want("recompute", "fog_2", S0, 0),
                                                Want("recompute", "fog_2", S1, 0)], 1.0),
    ("params-edited", t_params_edited, [Want("recompute", "snow_3", S0, 0)], 1.0),
    ("severity-column", t_severity_column, [Want("ids", "snow_3", S1, 10)], 0),
]


@pytest.mark.parametrize(("tamper", "wanted", "fraction"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_tampering_is_caught_where_it_happened(pristine: Path, tmp_path: Path, tamper,
                                               wanted: list[Want], fraction: float) -> None:
    root = tmp_path / "b"
    shutil.copytree(pristine, root)
    tamper(root)
    report = validate(root, scheduler="sync", recompute=fraction)
    assert not report.ok
    for want in wanted:
        hits = [p for p in report.problems
                if p.check == want.check and p.config == want.config
                and (want.shard is None or p.shard == want.shard)
                and (want.row is None or p.row == want.row)]
        assert hits, f"{want} not found in:\n{report.text()}"


def test_suite_is_big_and_covers_every_check() -> None:
    from pipeline.validate_report import CHECKS

    assert len(CASES) >= 50
    assert len({c[0] for c in CASES}) == len(CASES)
    assert {w.check for c in CASES for w in c[2]} == set(CHECKS) - {"image-size"}


def test_fog_rows_served_as_snow_cannot_pass(pristine: Path, tmp_path: Path) -> None:
    """The reproduction: the card points fog_2 at snow_3, load_dataset obeys, validate fails."""
    root = tmp_path / "b"
    shutil.copytree(pristine, root)
    t_card_fog_points_at_snow(root)
    code = (
        "import datasets, sys\n"
        f"ds = datasets.load_dataset({str(root)!r}, 'fog_2', split='train')\n"
        "print(sorted(set(ds['corruption'])))\n"
    )
    env = {**os.environ, "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1",
           "HF_DATASETS_CACHE": str(tmp_path / "hf")}
    res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True)
    assert res.stdout.strip().splitlines()[-1] == "['snow']"  # the forgery works on loading...
    report = validate(root, scheduler="sync")
    assert [str(p) for p in report.problems if p.config == "fog_2"] and not report.ok  # ...not here


def test_cli_exit_codes_and_outputs(pristine: Path, tmp_path: Path, capsys) -> None:
    assert cli(["validate", str(tmp_path / "nope")]) == 2
    assert "is not a folder" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        cli(["validate", str(pristine), "--recompute", "1.5"])
    assert exc.value.code == 2
    root = tmp_path / "b"
    shutil.copytree(pristine, root)
    t_label_derived(root)
    files = [tmp_path / n for n in ("m.json", "r.json", "j.xml")]
    assert cli(["validate", str(root), "--no-progress", "--json", str(files[0]),
                "--report", str(files[1]), "--junit", str(files[2])]) == 1
    metrics = json.loads(files[0].read_text())
    assert metrics["passed"] is False and metrics["configs"] == 4 and metrics["rows"] == 800
    assert metrics["by_check"]["labels"] == metrics["problems"] == 1

    def strings(x: object) -> list[str]:
        if isinstance(x, dict):
            return [s for v in x.values() for s in strings(v)]
        return [x] if isinstance(x, str) else []

    assert strings(metrics) == []  # counts only
    findings = json.loads(files[1].read_text())
    assert findings == [{"check": "labels", "config": "fog_2", "shard": S1, "row": 3,
                         "message": findings[0]["message"]}]
    assert 'failures="1"' in files[2].read_text() and "fog_2" in files[2].read_text()
    assert cli(["validate", str(pristine), "--no-progress", "--json", str(files[0])]) == 0
    assert json.loads(files[0].read_text())["passed"] is True


def test_image_size_is_checked(pristine: Path, tmp_path: Path) -> None:
    root = tmp_path / "b"
    shutil.copytree(pristine, root)
    big = np.zeros((9, 8), np.uint8)
    rewrite(root / "clean" / S0, lambda t: set_cells(t, "image", {1: {"bytes": encode_png(big),
                                                                       "path": None}}))
    reseal(root)
    probs = [str(p) for p in validate(root, scheduler="sync").problems]
    assert f"[image-size] clean/{S0} row 1: image is L 8x9, declared ['L 8x8']" in probs


# --- derived configs that are subsets of the clean rows: shift and audit ---------------------


@pytest.fixture(scope="session")
def derived(shared_dir: Path, tmp_path_factory) -> Path:
    """MNIST test rows -> clean, two shifts (label shift, Colored MNIST) and an audit, published.

    Validates with no finding (shift rows are clean rows with their labels; the audit
    covers every clean row with its given label).
    """
    from threadpoolctl import threadpool_limits

    d = tmp_path_factory.mktemp("derived")
    man = ["--manifest", str(REPO / "manifests/mnist_shift.yaml")]
    for s in [
        f"sources.0.options={{path: {shared_dir / 'datasets/mnist'}}}", "sources.0.limit=600",
        "shift.size=120", "shift.train_size=200", "shift.intensities=[0, 1]",
        "shift.measure={dim: 8, permutations: 20, folds: 3, max_rows: 120}",
        "shift.shifts=[{shift: label_shift, name: ls, size: 20, params: {mode: one_class, "
        "target_class: 3}}, {shift: spurious_correlation, name: colored}]",
        "audit={probs: {route: builtin, featurizer: random_conv, "
        "featurizer_params: {filters: 16, patch: 5}}, candidates: 10}",
    ]:
        man += ["--set", s]
    common = [*man, "--no-progress", "--scheduler", "sync"]
    with threadpool_limits(1):
        assert cli(["pull", *common, "--out", str(d / "pulled")]) == 0
        assert cli(["shift", *common, "--in", str(d / "pulled"), "--out", str(d / "shift"),
                    "--metrics", str(d / "m.json"), "--plot", str(d / "p.png")]) == 0
        assert cli(["audit", *common, "--clean", str(d / "pulled/clean"),
                    "--out", str(d / "audit")]) == 0
    assert cli(["publish", *man, "--inputs", str(d / "pulled"), str(d / "shift"),
                str(d / "audit"), "--out", str(d / "b")]) == 0
    complete(d / "b")
    report = validate(d / "b", scheduler="sync")
    assert report.ok, report.text()
    assert {c["kind"] for c in report.configs.values()} == {"clean", "shift", "audit"}
    return d / "b"


T0 = "test-00000-of-00001.parquet"


def t_shift_label(root: Path) -> None:
    rewrite(root / "colored_k100" / T0, lambda t: set_cells(t, "label", {4: (t["label"][4].as_py()
                                                                          + 1) % 10}))
    reseal(root)


def t_shift_foreign_row(root: Path) -> None:
    rewrite(root / "ls_k100" / T0, lambda t: set_cells(
        set_cells(t, "sample_id", {2: "mnist/test/99999"}), "origin", {2: "mnist/test/99999"}))
    reseal(root)


def t_shift_origin(root: Path) -> None:
    rewrite(root / "ls_k000" / T0, lambda t: set_cells(t, "origin", {1: t["origin"][0].as_py()}))
    reseal(root)


def t_audit_label(root: Path) -> None:
    rewrite(root / "audit" / T0, lambda t: set_cells(t, "label", {7: (t["label"][7].as_py()
                                                                   + 1) % 10}))
    reseal(root)


def t_audit_rows_dropped(root: Path) -> None:
    rewrite(root / "audit" / T0, lambda t: t.slice(0, 500))

    def fix(m: dict) -> None:
        m["splits"]["test"]["shards"][0]["num_rows"] = m["splits"]["test"]["num_rows"] = 500
    edit_json(root / "audit/manifest.json", fix)
    edit_card(root, lambda h: card_entry(h, "dataset_info", "audit")["splits"][0].__setitem__(
        "num_examples", 500))
    reseal(root)


def t_shift_class_renamed(root: Path) -> None:
    edit_json(root / "ls_k100/manifest.json",
              lambda m: m["features"]["label"]["names"].__setitem__(0, "zero"))
    seal(root)


DERIVED_CASES: list[tuple[str, Callable[[Path], None], list[Want]]] = [
    ("shift-label", t_shift_label, [Want("labels", "colored_k100", T0, 4)]),
    ("shift-foreign-row", t_shift_foreign_row, [Want("ids", "ls_k100", T0, 2)]),
    ("shift-origin", t_shift_origin, [Want("ids", "ls_k000", T0, 1)]),
    ("shift-class-renamed", t_shift_class_renamed, [Want("labels", "ls_k100", "manifest.json"),
                                                    Want("card", "ls_k100", "README.md")]),
    ("audit-label", t_audit_label, [Want("labels", "audit", T0, 7)]),
    ("audit-rows-dropped", t_audit_rows_dropped, [Want("ids", "audit")]),
]


@pytest.mark.parametrize(("tamper", "wanted"), [c[1:] for c in DERIVED_CASES],
                         ids=[c[0] for c in DERIVED_CASES])
def test_derived_subset_tampering_is_caught(derived: Path, tmp_path: Path, tamper,
                                            wanted: list[Want]) -> None:
    root = tmp_path / "b"
    shutil.copytree(derived, root)
    tamper(root)
    report = validate(root, scheduler="sync")
    assert not report.ok
    for want in wanted:
        assert any(p.check == want.check and p.config == want.config
                   and (want.shard is None or p.shard == want.shard)
                   and (want.row is None or p.row == want.row) for p in report.problems), \
            f"{want} not found in:\n{report.text()}"


# --- malformed values anywhere: a finding, never a traceback --------------------------------


def _paths(obj: object, depth: int) -> list[tuple]:
    """Key paths into ``obj`` (dict keys, first list item) up to ``depth`` levels."""
    out: list[tuple] = []
    if depth == 0:
        return out
    items = obj.items() if isinstance(obj, dict) else [(0, obj[0])] if isinstance(
        obj, list) and obj else []
    for k, v in items:
        out.append((k,))
        out += [(k, *rest) for rest in _paths(v, depth - 1)]
    return out


def _put(obj: dict, path: tuple, value: object) -> None:
    for k in path[:-1]:
        obj = obj[k]
    obj[path[-1]] = value


def test_malformed_values_are_findings_never_tracebacks(pristine: Path, tmp_path: Path) -> None:
    """Every key of fog_2's manifest.json (down to shard records), benchmark.json and the card
    header, replaced by null / a string / a list / a mapping: validate reports, never raises."""
    targets = {
        "fog_2/manifest.json": (json.loads, json.dumps, 1),
        "benchmark.json": (json.loads, json.dumps, 1),
    }
    root = tmp_path / "b"
    cases = 0
    for rel, (load, dump, depth) in targets.items():
        base = load((pristine / rel).read_text())
        paths = _paths(base, depth)
        if rel.endswith("manifest.json"):
            paths += [("splits", "train", k) for k in ("num_rows", "shards")]
            paths += [("splits", "train", "shards", 0, k) for k in ("file", "num_rows", "sha256")]
            paths += [("features", "label", "names"), ("features", "image")]
        for path in paths:
            for value in (None, "x", [], {}):
                shutil.rmtree(root, ignore_errors=True)
                shutil.copytree(pristine, root)
                obj = load((pristine / rel).read_text())
                _put(obj, path, value)
                (root / rel).write_text(dump(obj))
                report = validate(root, scheduler="sync", recompute=0.05)
                harmless = (rel, path, value) == ("benchmark.json", ("code_version",), "x")
                assert report.ok is harmless, (rel, path, value, report.text())
                cases += 1
    header_keys = ["configs", "dataset_info", "license", "pretty_name"]
    for key in header_keys:
        for value in (None, "x", [], {}, [None], [{"config_name": 1}],
                      [{"config_name": "fog_2", "data_files": [{"split": "train", "path": ""}],
                        "features": "x", "splits": "y"}]):
            shutil.rmtree(root, ignore_errors=True)
            shutil.copytree(pristine, root)
            edit_card(root, lambda h, k=key, v=value: h.__setitem__(k, v))
            report = validate(root, scheduler="sync")
            assert not report.ok, (key, value)
            cases += 1
    assert cases > 150


# --- re-annotation labels and slices (subsets of the clean rows) -----------------------------


@pytest.fixture(scope="session")
def relabelled(tmp_path_factory) -> Path:
    """Digits -> review votes -> labels config -> slices (one with images), published."""
    d = tmp_path_factory.mktemp("relabelled")
    votes = d / "votes.jsonl"
    recs = [
        {"sample_id": "digits/train/0", "annotator": "r1", "labels": [0, 6], "offered": None,
         "verdict": "valid", "given": 0},
        {"sample_id": "digits/train/2", "annotator": "r1", "labels": [], "offered": [7],
         "verdict": "mistake", "model": "m", "severity": "major", "category": "other"},
    ]
    votes.write_text("".join(json.dumps(r) + "\n" for r in recs))
    manifest = d / "m.yaml"
    manifest.write_text(yaml.safe_dump({
        "name": "digits-relabel", "description": "digits with review votes", "seed": 0,
        "sources": [{"source": "digits", "splits": ["train"], "limit": 120}],
        "reannotate": {"sources": [{"importer": "review", "path": str(votes)}],
                       "aggregate": {"rule": "majority", "threshold": 0.5}},
        "slices": [{"name": "major", "rule": "major", "models": ["m"], "images": True},
                   {"name": "rest", "rule": "clean"}],
    }))
    args = ["--manifest", str(manifest), "--no-progress", "--scheduler", "sync"]
    assert cli(["pull", *args, "--out", str(d / "pulled")]) == 0
    assert cli(["reannotate", *args, "--clean", str(d / "pulled"), "--out", str(d / "re")]) == 0
    assert cli(["slices", *args, "--inputs", str(d / "pulled"), "--inputs", str(d / "re"),
                "--out", str(d / "slices")]) == 0
    assert cli(["publish", "--manifest", str(manifest), "--inputs", str(d / "pulled"),
                str(d / "re"), str(d / "slices"), "--out", str(d / "b")]) == 0
    complete(d / "b")
    report = validate(d / "b", scheduler="sync")
    assert report.ok, report.text()
    assert {c["kind"] for c in report.configs.values()} >= {"clean", "labels", "slice"}
    return d / "b"


def _shard(root: Path, config: str) -> Path:
    return sorted((root / config).glob("*.parquet"))[0]


def t_slice_label(root: Path) -> None:
    rewrite(_shard(root, "rest"), lambda t: set_cells(t, "label", {5: (t["label"][5].as_py()
                                                                    + 1) % 10}))
    reseal(root)


def t_slice_foreign_id(root: Path) -> None:
    rewrite(_shard(root, "rest"), lambda t: set_cells(t, "sample_id", {9: "digits/train/5000"}))
    reseal(root)


def t_labels_given_label(root: Path) -> None:
    rewrite(_shard(root, "labels"), lambda t: set_cells(t, "label", {1: (t["label"][1].as_py()
                                                                      + 3) % 10}))
    reseal(root)


RELABEL_CASES: list[tuple[str, Callable[[Path], None], list[Want]]] = [
    ("slice-label", t_slice_label, [Want("labels", "rest", None, 5)]),
    ("slice-foreign-id", t_slice_foreign_id, [Want("ids", "rest", None, 9)]),
    ("labels-given-label", t_labels_given_label, [Want("labels", "labels", None, 1)]),
]


@pytest.mark.parametrize(("tamper", "wanted"), [c[1:] for c in RELABEL_CASES],
                         ids=[c[0] for c in RELABEL_CASES])
def test_relabel_and_slice_tampering_is_caught(relabelled: Path, tmp_path: Path, tamper,
                                               wanted: list[Want]) -> None:
    root = tmp_path / "b"
    shutil.copytree(relabelled, root)
    tamper(root)
    report = validate(root, scheduler="sync")
    assert not report.ok
    for want in wanted:
        assert any(p.check == want.check and p.config == want.config
                   and (want.row is None or p.row == want.row) for p in report.problems), \
            f"{want} not found in:\n{report.text()}"
