"""Shared helpers of the validate tamper tests: the completion record, resealing, edits.

*Sealing* writes the publish completion record (``benchmark.json`` ``complete`` and
``files``) for a folder as it is now; *resealing* also updates every shard sha256 in the
config manifests, which is what a forger who wants checksums to pass would do.
"""

from __future__ import annotations

import io
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import yaml
from PIL import Image

from pipeline.download import file_digest
from pipeline.sources.hf import decode_image


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



def caught(report, wanted: list[Want]) -> None:
    """Assert the report failed and holds every wanted finding (check, config, file, row)."""
    assert not report.ok
    for want in wanted:
        hits = [p for p in report.problems
                if p.check == want.check and p.config == want.config
                and (want.shard is None or p.shard == want.shard)
                and (want.row is None or p.row == want.row)]
        assert hits, f"{want} not found in:\n{report.text()}"
