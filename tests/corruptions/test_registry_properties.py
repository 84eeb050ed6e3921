"""Registry-driven properties every corruption must have, whatever its family.

Parametrized over registry x presets x severities: shape and dtype kept, input
not modified, same seed -> same bytes, different seeds differ for stochastic
entries, bad severities refused, grayscale and RGBA handled by the boundary
rule. A completeness check fails when a registered corruption has no test of
its own, and source greps keep global RNG and ad-hoc severity indexing out.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from corruptions import PRESETS, apply, get_registry
from corruptions.rng import derive_rng

REPO = Path(__file__).resolve().parents[2]
REGISTRY = get_registry()
# ffmpeg round trips cost ~1 s each: the video family is checked at its smallest preset only.
CASES = [
    (name, preset)
    for name, spec in REGISTRY.items()
    for preset in spec.tables
    if spec.family != "video" or preset == min(spec.tables, key=PRESETS.__getitem__)
]


def _needs_skip(name: str) -> None:
    if REGISTRY[name].family == "video" and shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg is not installed (make test installs it)")


@pytest.fixture(scope="module")
def images(photos224) -> dict[str, np.ndarray]:
    from PIL import Image

    from pipeline.sources.bundled import load_mnist5k

    out = {"mnist28": load_mnist5k()[0][0]}
    for preset, side in PRESETS.items():
        if preset != "mnist28":
            out[preset] = np.asarray(
                Image.fromarray(photos224[1]).resize((side, side), Image.BILINEAR)
            )
    return out


def _aux(name: str, image: np.ndarray, seed: int = 0) -> dict[str, Any]:
    spec = REGISTRY[name]
    if "source_rng" in spec.needs:  # the family's shared generator (video): the camera clip
        return {"source_rng": derive_rng(seed, "test/0", spec.family, 0)}
    if "depth" not in REGISTRY[name].needs:
        return {}
    h, w = image.shape[:2]
    depth = np.linspace(1.0, 10.0, h, dtype=np.float32)[::-1, None] * np.ones((1, w), np.float32)
    return {"depth": depth}


def _run(name: str, image: np.ndarray, severity: int, preset: str, seed: int) -> np.ndarray:
    rng = derive_rng(seed, "test/0", name, severity)
    return apply(name, image, severity=severity, preset=preset, rng=rng,
                 **_aux(name, image, seed))


@pytest.mark.parametrize(("name", "preset"), CASES)
def test_contract_every_severity(name: str, preset: str, images) -> None:
    _needs_skip(name)
    image = images[preset]
    before = image.copy()
    for severity in (1, 2, 3, 4, 5):
        out = _run(name, image, severity, preset, seed=0)
        assert out.shape == image.shape and out.dtype == np.uint8, (name, preset, severity)
        assert not np.shares_memory(out, image), f"{name} returned a view of its input"
        np.testing.assert_array_equal(image, before, err_msg=f"{name} modified its input")
        again = _run(name, image, severity, preset, seed=0)
        assert out.tobytes() == again.tobytes(), f"{name}/{preset}/{severity} is not repeatable"


@pytest.mark.parametrize(("name", "preset"), [c for c in CASES if REGISTRY[c[0]].stochastic])
def test_stochastic_entries_depend_on_seed(name: str, preset: str, images) -> None:
    _needs_skip(name)
    image = images[preset]
    seeds = range(3 if REGISTRY[name].family == "video" else 8)
    for severity in (1, 5):
        outs = {_run(name, image, severity, preset, seed=s).tobytes() for s in seeds}
        assert len(outs) > 1, f"{name}/{preset}/{severity}: {len(seeds)} seeds gave one output"


@pytest.mark.parametrize("name", list(REGISTRY))
@pytest.mark.parametrize("severity", [0, 6, -1, 2.5, True, "3"])
def test_bad_severity_refused(name: str, severity, images) -> None:
    preset = next(iter(REGISTRY[name].tables))
    image = images[preset]
    with pytest.raises(ValueError, match="severity"):
        apply(name, image, severity=severity, preset=preset, rng=derive_rng(0, "t", name, 1),
              **_aux(name, image))


@pytest.mark.parametrize("name", list(REGISTRY))
def test_gray_and_rgba_follow_the_boundary_rule(name: str, images) -> None:
    _needs_skip(name)
    preset = next(iter(REGISTRY[name].tables))
    rgb = images[preset] if images[preset].ndim == 3 else np.repeat(images[preset][..., None], 3, 2)
    gray = rgb[..., 1].copy()
    for shaped in (gray, gray[..., None]):
        out = _run(name, shaped, 3, preset, seed=1)
        assert out.shape == shaped.shape and out.dtype == np.uint8
    alpha = np.arange(rgb.shape[0] * rgb.shape[1], dtype=np.uint32).reshape(rgb.shape[:2]) % 256
    rgba = np.concatenate([rgb, alpha.astype(np.uint8)[..., None]], axis=2)
    out = _run(name, rgba, 3, preset, seed=1)
    assert out.shape == rgba.shape
    np.testing.assert_array_equal(out[..., 3], rgba[..., 3])


def test_unknown_name_and_preset_list_valid_ones(images) -> None:
    with pytest.raises(KeyError, match="valid keys: .*gaussian_noise"):
        apply("gausian_noise", images["cifar32"], severity=1, preset="cifar32", rng=None)
    with pytest.raises(ValueError, match="has no preset 'cifar33'.*auto"):
        apply("contrast", images["cifar32"], severity=1, preset="cifar33", rng=None)


def test_stochastic_without_rng_is_refused(images) -> None:
    name = next(n for n, s in REGISTRY.items() if s.stochastic and not s.needs)
    preset = next(iter(REGISTRY[name].tables))
    with pytest.raises(ValueError, match="needs rng"):
        apply(name, images[preset], severity=1, preset=preset, rng=None)


def test_bad_images_refused() -> None:
    with pytest.raises(TypeError, match="uint8"):
        apply("contrast", np.zeros((8, 8, 3), np.float32), severity=1, preset="cifar32", rng=None)
    with pytest.raises(ValueError, match=r"shape \(H, W\)"):
        apply("contrast", np.zeros((8, 8, 2), np.uint8), severity=1, preset="cifar32", rng=None)


def test_registering_twice_raises() -> None:
    from corruptions.registry import Registry

    reg = Registry()
    spec = REGISTRY["contrast"]
    reg.register(spec)
    with pytest.raises(ValueError, match="registered twice"):
        reg.register(spec)


def test_every_table_has_five_named_rows_and_a_source() -> None:
    for name, spec in REGISTRY.items():
        for preset, table in spec.tables.items():
            assert len(table.rows) == 5 and table.source, (name, preset)
            assert all(re.fullmatch(r"[a-z_][a-z0-9_]*", f) for f in table.fields), (
                name,
                table.fields,
            )


def test_every_corruption_has_its_own_test() -> None:
    """Completeness: each registry key is named in a family test file (not only here)."""
    texts = "\n".join(
        p.read_text() for p in (REPO / "tests").rglob("test_*.py") if p.name != Path(__file__).name
    )
    missing = [n for n in REGISTRY if not re.search(rf"['\"]{re.escape(n)}['\"]", texts)]
    assert not missing, f"corruptions without a test of their own: {missing}"


def test_no_global_rng_or_adhoc_severity_indexing() -> None:
    pattern = re.compile(
        r"np\.random\.seed\(|random\.seed\(|np\.random\.(rand|randn|randint|normal|uniform|choice|"
        r"permutation|shuffle|poisson|random)\("
    )
    offenders = []
    for pkg in ("corruptions", "pipeline"):
        for path in (REPO / pkg).rglob("*.py"):
            text = re.sub(r"``[^`]*``", "", path.read_text())  # docstrings quoting upstream code
            if pattern.search(text):
                offenders.append(f"{path}: global RNG")
            if "[severity - 1]" in text and path.name != "registry.py":
                offenders.append(f"{path}: indexes a table by severity outside the table helper")
    assert not offenders, offenders


#: Families whose every preset table is checked against the shared constants file here
#: (the other families check theirs in their own test files).
_PARAMS_MD_FAMILIES = ("noise", "digital")
_PARAMS_MD_SECTIONS = {
    "### imagenet224": "imagenet224",
    "### tiny64": "tiny64",
    "### cifar32": "cifar32",
    "## MNIST-C": "mnist28",
}


def _eval_constant(node, names: dict[str, float]):
    """Evaluate the arithmetic of one published constant (numbers, tuples, lists, * and /)."""
    import ast

    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
        return node.value
    if isinstance(node, ast.Name) and node.id in names:
        return names[node.id]
    if isinstance(node, (ast.Tuple, ast.List)):
        return tuple(_eval_constant(e, names) for e in node.elts)
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Mult, ast.Div)):
        a, b = _eval_constant(node.left, names), _eval_constant(node.right, names)
        return a * b if isinstance(node.op, ast.Mult) else a / b
    raise ValueError(f"not a published constant: {ast.dump(node)}")


def _published_constants(shared: Path) -> dict[tuple[str, str], tuple]:
    """``(preset, corruption) -> five rows`` parsed from shared/reference/corruption-params.md."""
    import ast

    out: dict[tuple[str, str], tuple] = {}
    preset = None
    for line in (shared / "reference/corruption-params.md").read_text().splitlines():
        if line.startswith("#"):
            preset = next((p for h, p in _PARAMS_MD_SECTIONS.items() if line.startswith(h)), None)
            continue
        m = re.match(r"- (\w+)(?: \([^)]*\))?: (\[.*\])\s*$", line)
        if preset is None or m is None or "np." in m.group(2):
            continue
        side = PRESETS[preset]
        expr = ast.parse(m.group(2), mode="eval").body
        out[preset, m.group(1)] = _eval_constant(expr, {"IMSIZE": side})
    return out


def test_noise_and_digital_tables_equal_corruption_params_md(shared_dir) -> None:
    """Every table of the noise and digital families, at the four documented presets, holds
    the published constants (leading fields; the rest are fixed upstream defaults)."""
    published = _published_constants(shared_dir)
    checked = 0
    for name, spec in REGISTRY.items():
        if spec.family not in _PARAMS_MD_FAMILIES:
            continue
        for preset in _PARAMS_MD_SECTIONS.values():
            rows = published[preset, name]
            assert len(rows) == 5, (name, preset)
            table = spec.tables[preset]
            for severity, (ours, theirs) in enumerate(zip(table.rows, rows, strict=True), 1):
                theirs = theirs if isinstance(theirs, tuple) else (theirs,)
                assert ours[: len(theirs)] == theirs, (name, preset, severity, ours, theirs)
                checked += len(theirs)
    # 4 one-number noises + brightness/contrast/jpeg/pixelate (1), saturate (2), elastic (3).
    assert checked == 4 * 5 * (8 * 1 + 2 + 3)
