"""The tamper cases run on the digits build of test_tamper.py: (id, edit, findings, recompute).

Build: ``clean``, ``fog_2``, ``snow_3``, ``gaussian_noise_2``; 200 rows each in two shards
(``S0``, ``S1``) of 100. Each case edits a copy of the folder and names the findings it
must produce (check, config, file, row).
"""

from __future__ import annotations

import io
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image
from tamper_helpers import (
    Want,
    card_entry,
    edit_card,
    edit_json,
    image_of,
    jpeg_bytes,
    reseal,
    rewrite,
    seal,
    set_cells,
)

from pipeline.shards import encode_png
from pipeline.sources.hf import decode_image
from pipeline.validate_report import ROOT

S0, S1 = "train-00000-of-00002.parquet", "train-00001-of-00002.parquet"


def _s(path: str) -> Callable[[Path], None]:
    """Delete a file or folder."""
    def fn(root: Path) -> None:
        p = root / path
        shutil.rmtree(p) if p.is_dir() else p.unlink()
    return fn


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

