"""The ``imagenet`` source on tiny real-format copies of each archive layout.

The fixtures are made of scikit-image photographs saved as JPEG under the real archives' names
and labelled with the real validation labels (shared/reference), so a ReaL or mistake-file join
on them is the real join: ILSVRC2012_val_00000001 .. 00000020 plus four images both dough-bagel
models got majorly wrong.
"""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import skimage.data
from PIL import Image

from pipeline.errors import SourceError
from pipeline.sources import make_source
from pipeline.sources.imagenet import ImageNetSource, imagenet_classes

#: val numbers of the fixture: the first 20 and four that vit3b and greedy soups both got
#: majorly wrong (Vasudevan et al. 2022), so the `major` slice is not empty.
VAL_NUMBERS = [*range(1, 21), 3821, 4131, 4183, 4316]
#: ILSVRC2012_IDs known from the devkit: 1 kit fox, 2 English setter, 3 Siberian husky,
#: 4 Australian terrier, 5 English springer, ..., 490 sea snake (the class of val image 1). The
#: fixture's meta.mat puts the other wnids on the other ids in sorted order: the point is that
#: the source maps ids through meta.mat, not that the fixture knows the devkit's order.
KNOWN_IDS = {1: "n02119789", 2: "n02100735", 3: "n02110185", 4: "n02096294", 5: "n02102040",
             6: "n02066245", 7: "n02509815", 8: "n02124075", 9: "n02417914", 10: "n02123394",
             490: "n01751748"}
PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "hubble_deep_field", "immunohistochemistry",
          "retina", "colorwheel")


def given_labels(shared: Path) -> dict[str, int]:
    """Real ILSVRC-2012 validation labels (sorted-wnid index) by file stem."""
    ref = shared / "reference/label-errors"
    labels = np.load(ref / "imagenet_val_set_original_labels.npy")
    paths = json.loads((ref / "imagenet_val_set_index_to_filepath.json").read_text())
    return {Path(p).stem: int(y) for p, y in zip(paths, labels, strict=True)}


def photo_jpeg(i: int, size: tuple[int, int], *, mode: str = "RGB") -> bytes:
    """JPEG bytes of a crop of a scikit-image photo, ``size`` = (width, height)."""
    img = Image.fromarray(getattr(skimage.data, PHOTOS[i % len(PHOTOS)])()).convert("RGB")
    w, h = img.size
    s = max(size[0] / w, size[1] / h)
    img = img.resize((max(size[0], round(w * s)), max(size[1], round(h * s))), Image.BILINEAR)
    img = img.crop((0, 0, *size)).convert(mode)
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def devkit_meta() -> dict[int, str]:
    wnids = imagenet_classes()[0]
    rest = iter(w for w in wnids if w not in KNOWN_IDS.values())
    return {i: KNOWN_IDS[i] if i in KNOWN_IDS else next(rest) for i in range(1, 1001)}


def write_meta_mat(path: Path, meta: dict[int, str]) -> None:
    """A devkit-format meta.mat: 1000 leaf synsets, then inner nodes (ids > 1000)."""
    fields = ["ILSVRC2012_ID", "WNID", "words", "gloss", "num_children", "children",
              "wordnet_height", "num_train_images"]
    words = dict(zip(*imagenet_classes(), strict=True))
    rows = [(i, w, words[w], "", 0, np.zeros((1, 0)), 0, 1300) for i, w in sorted(meta.items())]
    rows += [(1001, "n00001740", "entity", "", 2, np.array([[1001, 1002]]), 19, 0),
             (1002, "n00002137", "abstraction", "", 0, np.zeros((1, 0)), 18, 0)]
    arr = np.empty((len(rows), 1), dtype=[(f, object) for f in fields])
    for k, r in enumerate(rows):
        arr[k, 0] = r
    scipy.io.savemat(str(path), {"synsets": arr})


def build_layouts(root: Path, given: dict[str, int]) -> dict[str, Path]:
    """Write every layout; return layout -> the path a user would give."""
    wnids = imagenet_classes()[0]
    meta = devkit_meta()
    id_of = {w: i for i, w in meta.items()}
    stems = [f"ILSVRC2012_val_{n:08d}" for n in VAL_NUMBERS]
    jpeg = {}
    for k, s in enumerate(stems):
        size = [(500, 375), (375, 500), (500, 333), (333, 500)][k % 4]
        mode = "L" if k == 3 else ("CMYK" if k == 5 else "RGB")  # ImageNet holds both kinds
        jpeg[s] = photo_jpeg(k, size, mode=mode)
    out = {}
    # 1. torchvision ImageFolder: val/<wnid>/<file>
    for s in stems:
        d = root / "imagefolder/val" / wnids[given[s]]
        d.mkdir(parents=True, exist_ok=True)
        (d / f"{s}.JPEG").write_bytes(jpeg[s])
    out["imagefolder"] = root / "imagefolder"
    # 2. devkit: flat folder + tar + ground truth (50,000 lines) + meta.mat
    flat = root / "devkit/ILSVRC2012_img_val"
    flat.mkdir(parents=True)
    for s in stems:
        (flat / f"{s}.JPEG").write_bytes(jpeg[s])
    data = root / "devkit/ILSVRC2012_devkit_t12/data"
    data.mkdir(parents=True)
    lines = [str(id_of[wnids[given[f"ILSVRC2012_val_{n:08d}"]]]) for n in range(1, 50001)]
    (data / "ILSVRC2012_validation_ground_truth.txt").write_text("\n".join(lines) + "\n")
    write_meta_mat(data / "meta.mat", meta)
    with tarfile.open(root / "devkit/ILSVRC2012_img_val.tar", "w") as tar:
        for s in stems:
            info = tarfile.TarInfo(f"{s}.JPEG")
            info.size = len(jpeg[s])
            tar.addfile(info, io.BytesIO(jpeg[s]))
    out["devkit"], out["devkit_tar"] = flat, root / "devkit/ILSVRC2012_img_val.tar"
    # 3. Kaggle: ILSVRC/Data/CLS-LOC/val + LOC_val_solution.csv
    kval = root / "kaggle/ILSVRC/Data/CLS-LOC/val"
    kval.mkdir(parents=True)
    rows = ["ImageId,PredictionString"]
    for k, s in enumerate(stems):
        (kval / f"{s}.JPEG").write_bytes(jpeg[s])
        w = wnids[given[s]]
        boxes = " ".join(f"{w} {10 + j} {20 + j} {200 + j} {300 + j}" for j in range(1 + k % 2))
        rows.append(f"{s},{boxes} ")
    (root / "kaggle/LOC_val_solution.csv").write_text("\n".join(rows[:1] + rows[:0:-1]) + "\n")
    (root / "kaggle/LOC_synset_mapping.txt").write_text(
        "".join(f"{w} {t}\n" for w, t in zip(*imagenet_classes(), strict=True)))
    out["kaggle"] = root / "kaggle/ILSVRC/Data/CLS-LOC/val"
    return out


def build_tiny(root: Path, n: int = 12) -> tuple[Path, list[str], dict[str, str], list[str]]:
    """Tiny-ImageNet's layout: wnids.txt (unsorted), words.txt, val/images, val_annotations.txt."""
    tiny = root / "tiny-imagenet-200"
    wnids = list(imagenet_classes()[0][::5])  # 200 ids; Tiny-ImageNet lists them unsorted
    (tiny / "val/images").mkdir(parents=True)
    (tiny / "wnids.txt").write_text("\n".join(reversed(wnids)) + "\n")
    words = dict(zip(*imagenet_classes(), strict=True))
    (tiny / "words.txt").write_text("".join(f"{w}\t{words[w]}\n" for w in wnids)
                                    + "n00001740\tentity\n")
    ann = []
    for i in range(n):
        (tiny / f"val/images/val_{i}.JPEG").write_bytes(photo_jpeg(i, (64, 64)))
        ann.append(f"val_{i}.JPEG\t{wnids[(7 * i) % 200]}\t0\t3\t60\t62")
    (tiny / "val/val_annotations.txt").write_text("\n".join(reversed(ann)) + "\n")
    return tiny, wnids, words, ann


@pytest.fixture(scope="module")
def layouts(shared_dir: Path, tmp_path_factory) -> tuple[dict[str, Path], dict[str, int]]:
    given = given_labels(shared_dir)
    return build_layouts(tmp_path_factory.mktemp("imagenet"), given), given


@pytest.mark.parametrize("name", ["imagefolder", "devkit", "devkit_tar", "kaggle"])
def test_every_layout_gives_the_same_rows(layouts, name: str) -> None:
    paths, given = layouts
    src = make_source("imagenet", {"path": str(paths[name])})
    assert src.layout_name() == ("devkit" if name == "devkit_tar" else name)
    assert src.splits() == ["validation"]
    assert len(src.class_names()) == 1000 and src.class_names()[0] == "tench, Tinca tinca"
    assert "crane (n02012849)" in src.class_names()  # the two "crane" synsets stay distinct
    rows = list(src.read("validation", 0, src.num_rows("validation")))
    keys = [r.key for r in rows]
    assert keys == [f"ILSVRC2012_val_{n:08d}" for n in VAL_NUMBERS]  # image-number order
    assert [r.label for r in rows] == [given[k] for k in keys]
    assert rows[0].label == 65  # val image 1 is a sea snake (devkit id 490)
    assert all(r.image.ndim == 3 and r.image.shape[2] == 3 for r in rows)  # grey, CMYK -> RGB
    ref = make_source("imagenet", {"path": str(paths["imagefolder"])})
    first = next(iter(ref.read("validation", 3, 4)))
    assert np.array_equal(rows[3].image, first.image)  # same decoded pixels whatever the layout
    assert rows[3].image.shape == (500, 333, 3)


def test_grey_jpeg_becomes_rgb_like_pil(layouts) -> None:
    paths, _ = layouts
    src = ImageNetSource(str(paths["devkit"]))
    row = next(iter(src.read("validation", 3, 4)))
    want = np.asarray(Image.open(paths["devkit"] / f"{row.key}.JPEG").convert("RGB"))
    assert np.array_equal(row.image, want)


def test_bad_ground_truth_lines_are_named(layouts, tmp_path: Path) -> None:
    paths, _ = layouts
    data = paths["devkit"].parent / "ILSVRC2012_devkit_t12/data"
    gt = data / "ILSVRC2012_validation_ground_truth.txt"
    meta = gt.parent / "meta.mat"
    lines = gt.read_text().splitlines()
    bad = tmp_path / "gt_bad.txt"
    bad.write_text("\n".join(lines[:6] + ["1001"] + lines[7:]) + "\n")
    src = ImageNetSource(str(paths["devkit"]), labels=str(bad), meta=str(meta))
    with pytest.raises(SourceError, match=r"gt_bad.txt: line 7 is '1001'"):
        src.num_rows("validation")
    short = tmp_path / "gt_short.txt"
    short.write_text("\n".join(lines[:19]) + "\n")
    src = ImageNetSource(str(paths["devkit"]), labels=str(short), meta=str(meta))
    with pytest.raises(SourceError, match=r"gt_short.txt has no line 20 for image "
                                          r"ILSVRC2012_val_00000020"):
        src.num_rows("validation")
    nometa = tmp_path / "alone" / "ILSVRC2012_validation_ground_truth.txt"
    nometa.parent.mkdir()
    nometa.write_text(gt.read_text())
    with pytest.raises(SourceError, match="meta.mat"):
        ImageNetSource(str(paths["devkit"]), labels=str(nometa)).num_rows("validation")


def test_bad_kaggle_rows_are_named(layouts, tmp_path: Path) -> None:
    paths, _ = layouts
    csv_path = paths["kaggle"].parents[3] / "LOC_val_solution.csv"
    lines = csv_path.read_text().splitlines()
    mixed = tmp_path / "mixed.csv"
    lines2 = list(lines)
    lines2[3] = lines2[3].split(",")[0] + ",n01440764 1 2 3 4 n01443537 1 2 3 4"
    mixed.write_text("\n".join(lines2) + "\n")
    with pytest.raises(SourceError, match=r"mixed.csv: line 4 \(ILSVRC2012_val_"):
        ImageNetSource(str(paths["kaggle"]), labels=str(mixed)).num_rows("validation")
    missing = tmp_path / "missing.csv"
    missing.write_text("\n".join(lines[:-1]) + "\n")
    gone = lines[-1].split(",")[0]
    with pytest.raises(SourceError, match=f"missing.csv has no row for image {gone}"):
        ImageNetSource(str(paths["kaggle"]), labels=str(missing)).num_rows("validation")


def test_imagenetv2_and_tiny_layouts(shared_dir: Path, tmp_path: Path) -> None:
    refined = json.loads(
        (shared_dir / "reference/imagenetv2-multilabel/imagenetv2_refined_labels.json").read_text())
    picks = sorted(refined)[:6]
    v2 = tmp_path / "imagenetv2-matched-frequency-format-val"
    for k, name in enumerate(picks):
        d = v2 / str(int(refined[name][0]))
        d.mkdir(parents=True, exist_ok=True)
        (d / name).write_bytes(photo_jpeg(k, (400, 300)))
    src = make_source("imagenet", {"path": str(v2), "split": "test"})
    rows = list(src.read("test", 0, src.num_rows("test")))
    assert src.layout_name() == "imagenetv2" and src.splits() == ["test"]
    assert sorted(r.key for r in rows) == sorted(Path(p).stem for p in picks)
    assert all(r.label == int(refined[f"{r.key}.jpeg"][0]) for r in rows)

    tiny, wnids, words, ann = build_tiny(tmp_path)
    src = make_source("imagenet", {"path": str(tiny / "val")})
    assert src.layout_name() == "tiny" and len(src.class_names()) == 200
    assert src.class_names()[0] == words[wnids[0]]
    rows = list(src.read("validation", 0, src.num_rows("validation")))
    assert [r.key for r in rows] == [f"val_{n}" for n in range(12)]  # numeric, not text order
    assert [r.label for r in rows] == [(7 * n) % 200 for n in range(12)]
    assert rows[0].image.shape == (64, 64, 3)
    (tiny / "val/val_annotations.txt").write_text(ann[0] + "\nval_1.JPEG\tn99999999\t0\t0\t1\t1\n")
    with pytest.raises(SourceError, match=r"val_annotations.txt: line 2"):
        ImageNetSource(str(tiny / "val")).num_rows("validation")


def test_unknown_layouts_and_missing_labels_are_explained(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="does not exist"):
        ImageNetSource(str(tmp_path / "nope")).num_rows("validation")
    flat = tmp_path / "flat"
    flat.mkdir()
    (flat / "ILSVRC2012_val_00000001.JPEG").write_bytes(photo_jpeg(0, (32, 32)))
    with pytest.raises(SourceError, match="no labels"):
        ImageNetSource(str(flat)).num_rows("validation")
    (flat / "misc").mkdir()
    (tmp_path / "other").mkdir()
    with pytest.raises(SourceError, match="cannot tell the layout"):
        ImageNetSource(str(tmp_path / "other")).num_rows("validation")
    with pytest.raises(SourceError, match="layout 'zip'"):
        ImageNetSource(str(flat), layout="zip")


REPO = Path(__file__).resolve().parents[2]


def manifest_args(shared: Path, folder: Path) -> list[str]:
    """The shipped ImageNet-C manifest, pointed at the fixture; two corruptions for speed."""
    ref = shared / "reference"
    return ["--manifest", str(REPO / "manifests/imagenet_c.yaml"),
            "--set", f"sources.0.options.path={folder}",
            "--set", "corrupt.suites=[{corruptions: {gaussian_noise: [1], fog: [3]}}]",
            "--set", f"reannotate.sources.0.path={ref / 'reassessed-imagenet/real.json'}",
            "--set", f"reannotate.sources.1.path={ref / 'imagenet-mistakes/vit3b_mistakes.json'}",
            "--set", "reannotate.sources.2.path="
            f"{ref / 'imagenet-mistakes/greedy_soups_mistakes.json'}",
            "--scheduler", "sync", "--no-progress"]


@pytest.mark.slow
def test_imagenet_c_manifest_end_to_end(layouts, shared_dir: Path, tmp_path: Path,
                                        capsys) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from pipeline.cli import main as cli
    from pipeline.reannotate.tables import find_configs, read_config

    paths, given = layouts
    args = manifest_args(shared_dir, paths["devkit_tar"])
    w = tmp_path / "work"
    assert cli(["pull", *args, "--out", str(w / "pulled")]) == 0
    assert cli(["corrupt", *args, "--clean", str(w / "pulled"), "--out", str(w / "corrupted")]) == 0
    assert cli(["reannotate", *args, "--clean", str(w / "pulled"), "--out", str(w / "re")]) == 0
    assert cli(["slices", *args, "--inputs", str(w / "pulled"), "--inputs", str(w / "re"),
                "--out", str(w / "slices")]) == 0
    roots = [w / "pulled", w / "corrupted", w / "re", w / "slices"]
    configs = find_configs(roots)
    assert {"clean", "gaussian_noise_1", "fog_3", "labels", "major"} <= set(configs)
    clean = read_config(configs["clean"][0], ["sample_id", "label", "image"]).to_pydict()
    stems = [f"ILSVRC2012_val_{n:08d}" for n in VAL_NUMBERS]
    assert clean["sample_id"] == [f"imagenet/validation/{s}" for s in stems]
    assert clean["label"] == [given[s] for s in stems]
    img = Image.open(io.BytesIO(clean["image"][0]["bytes"]))
    assert img.size == (224, 224) and img.mode == "RGB"
    # the major slice: both models' mistakes judged major, from the published files
    ref = shared_dir / "reference/imagenet-mistakes"
    majors = [{Path(k).stem for k, r in json.loads((ref / f).read_text()).items()
               if r["failure severity"] == "Major"}
              for f in ("vit3b_mistakes.json", "greedy_soups_mistakes.json")]
    want_major = sorted(f"imagenet/validation/{s}" for s in set(stems) & majors[0] & majors[1])
    major = read_config(configs["major"][0], ["sample_id"])["sample_id"].to_pylist()
    assert sorted(major) == want_major and len(want_major) >= 4
    # a predictions file: the given label on clean, wrong on the 4 major images under fog
    ids, labels = clean["sample_id"], clean["label"]
    rows = {"sample_id": ids * 3,
            "config": [None] * 24 + ["gaussian_noise_1"] * 24 + ["fog_3"] * 24,
            "prediction": labels + labels + [(y + 1) % 1000 if s in want_major else y
                                             for s, y in zip(ids, labels, strict=True)]}
    pq.write_table(pa.table(rows), tmp_path / "p.parquet")
    out = tmp_path / "m.json"
    assert cli(["score", *map(str, roots), "--predictions", str(tmp_path / "p.parquet"),
                "--out", str(out)]) == 0
    table = capsys.readouterr().err
    res = json.loads(out.read_text())
    m = res["models"]["model"]
    real = json.loads((shared_dir / "reference/reassessed-imagenet/real.json").read_text())
    sets = [real[n - 1] for n in VAL_NUMBERS]
    want_real = np.mean([y in s for y, s in zip(labels, sets, strict=True) if s])
    assert m["real"] == pytest.approx(want_real) and m["real_rows"] == sum(map(bool, sets))
    assert res["real_labels"]["config"] == "labels"
    assert m["slices"]["major"]["rows"] == len(want_major) and m["slices"]["major"]["top1"] == 1
    assert m["corruption"]["errors"]["fog"]["3"] == pytest.approx(len(want_major) / 24)
    assert m["corruption"]["groups"]["benchmark"]["complete"] is False  # 2 of 15: flagged
    assert res["baseline"]["name"].startswith("AlexNet")  # a 1000-class imagenet224 build
    # the checked join report: every reference file matched by name, counted per file
    joins = {Path(j["file"].split(":", 1)[1]).name: j for j in res["joins"]}
    assert joins["real.json"]["matched"] == 24 and joins["real.json"]["entries"] == 50000
    assert joins["vit3b_mistakes.json"]["matched"] == len(set(stems) & {
        Path(k).stem for k in json.loads((ref / "vit3b_mistakes.json").read_text())})
    assert "join " in table and "24 of 24 images matched" in table


@pytest.mark.slow
def test_renamed_or_relabelled_folders_are_refused(layouts, shared_dir: Path, tmp_path: Path,
                                                   capsys) -> None:
    """A folder whose names do not join, or whose labels are in another order, is refused."""
    import shutil

    from pipeline.cli import main as cli

    paths, given = layouts
    renamed = tmp_path / "renamed"
    for f in sorted((paths["imagefolder"] / "val").rglob("*.JPEG")):
        d = renamed / "val" / f.parent.name
        d.mkdir(parents=True, exist_ok=True)
        shutil.copy(f, d / f"img_{f.stem[-5:]}.JPEG")  # positional names: no join by name
    args = manifest_args(shared_dir, renamed)
    args[args.index("corrupt.suites=[{corruptions: {gaussian_noise: [1], fog: [3]}}]")] = \
        "corrupt.suites=[{corruptions: {fog: [1]}}]"
    assert cli(["pull", *args, "--out", str(tmp_path / "p1")]) == 0
    assert cli(["reannotate", *args, "--clean", str(tmp_path / "p1"),
                "--out", str(tmp_path / "r1")]) == 2
    assert "none of 50000 annotated sample_ids is in the clean config" in capsys.readouterr().err
    shuffled = tmp_path / "shuffled"
    files = sorted((paths["imagefolder"] / "val").rglob("*.JPEG"))
    wnids = imagenet_classes()[0]
    for k, f in enumerate(files):  # right names, labels of another image (a shuffled join)
        d = shuffled / "val" / wnids[(given[f.stem] + 1 + k) % 1000]
        d.mkdir(parents=True, exist_ok=True)
        shutil.copy(f, d / f.name)
    args = manifest_args(shared_dir, shuffled)
    assert cli(["pull", *args, "--out", str(tmp_path / "p2")]) == 0
    assert cli(["reannotate", *args, "--clean", str(tmp_path / "p2"),
                "--out", str(tmp_path / "r2")]) == 2
    assert "joined in the wrong order" in capsys.readouterr().err


def test_tiny_imagenet_c_manifest(tmp_path: Path) -> None:
    from pipeline.cli import main as cli
    from pipeline.reannotate.tables import find_configs, read_config

    tiny, wnids, _, _ = build_tiny(tmp_path, n=6)
    args = ["--manifest", str(REPO / "manifests/tiny_imagenet_c.yaml"),
            "--set", f"sources.0.options.path={tiny / 'val'}",
            "--set", "corrupt.suites=[{corruptions: {gaussian_noise: [5], pixelate: [2]}}]",
            "--scheduler", "sync", "--no-progress"]
    assert cli(["pull", *args, "--out", str(tmp_path / "pulled")]) == 0
    assert cli(["corrupt", *args, "--clean", str(tmp_path / "pulled"),
                "--out", str(tmp_path / "corrupted")]) == 0
    configs = find_configs([tmp_path / "pulled", tmp_path / "corrupted"])
    t = read_config(configs["gaussian_noise_5"][0],
                    ["sample_id", "label", "image", "preset"]).to_pydict()
    assert t["sample_id"] == [f"tiny_imagenet/validation/val_{i}" for i in range(6)]
    assert t["label"] == [(7 * i) % 200 for i in range(6)]
    assert set(t["preset"]) == {"tiny64"}
    assert Image.open(io.BytesIO(t["image"][0]["bytes"])).size == (64, 64)
    assert len(json.loads((configs["clean"][0] / "manifest.json").read_text())["features"]
               ["label"]["names"]) == 200
