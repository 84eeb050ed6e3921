"""Benchmark manifests: declarative YAML, validated strictly.

A manifest says *what* benchmark to build; ``params.yaml`` says how (scheduler,
shard size). Unknown keys are refused and every error names the file, the key
path and the allowed values. Example (``manifests/mnist5k.yaml``)::

    name: mnist5k
    description: ...
    seed: 0
    sources:
      - source: mnist5k        # key in pipeline.sources.SOURCES
        splits: [train]
        limit: null            # first N rows of each split, or null for all
        options: {}            # source options (path, download, repo_id, ...)
    corrupt:
      preset: mnist28          # resolution preset, or auto
      rounding: truncate       # truncate (upstream parity) | nearest
      suites:
        - suite: imagenet_c    # every registry entry in that suite ...
          severities: [1, 2, 3, 4, 5]
        - corruptions: {fog: [5], rotate: [2]}   # ... or explicit name -> severities
          config_name: "{corruption}"            # config naming template

Sections owned by later stages (``audit``, ``shift``, ``reannotate``,
``slices``) are validated by the validator registered for them in
:data:`SECTION_VALIDATORS`.
"""

from __future__ import annotations

import importlib
import re
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.errors import ManifestError
from pipeline.strict_yaml import parse_yaml

__all__ = [
    "Manifest",
    "SourceSpec",
    "CorruptSpec",
    "SuiteSpec",
    "load_manifest",
    "parse_manifest",
    "apply_overrides",
    "SECTION_VALIDATORS",
    "check_keys",
]

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_\-]*$")
#: What a rendered config name may look like: one path segment, no "." or ".." tricks.
CONFIG_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-]*$")
#: Fields a ``config_name`` template may use.
CONFIG_NAME_FIELDS = ("corruption", "severity")
#: Largest seed (seeds feed ``numpy.random.SeedSequence`` and an int64 column).
MAX_SEED = 2**32 - 1
#: Largest manifest file read, in bytes.
MAX_MANIFEST_BYTES = 1 << 20


def check_keys(
    data: Any, where: str, allowed: Mapping[str, str], required: set[str] | None = None
) -> dict:
    """Check that ``data`` is a mapping with only ``allowed`` keys and all ``required`` ones.

    Args:
        data: The parsed YAML value.
        where: Key path for messages, e.g. ``manifests/x.yaml: corrupt``.
        allowed: Allowed key -> one-line meaning (listed in the error).
        required: Keys that must be present.

    Returns:
        ``data`` as a dict.

    Raises:
        ManifestError: Not a mapping, unknown key or missing key.
    """
    if not isinstance(data, dict):
        raise ManifestError(f"{where}: expected a mapping, got {type(data).__name__}")
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        listing = "; ".join(f"{k}: {v}" for k, v in allowed.items())
        raise ManifestError(f"{where}: unknown key(s) {unknown}; allowed keys are -- {listing}")
    missing = sorted((required or set()) - set(data))
    if missing:
        raise ManifestError(f"{where}: missing required key(s) {missing}")
    return data


def _int(
    value: Any, where: str, *, minimum: int = 0, maximum: int | None = None,
    allow_none: bool = False,
) -> int | None:
    if value is None and allow_none:
        return None
    bad = isinstance(value, bool) or not isinstance(value, int) or value < minimum
    if bad or (maximum is not None and value > maximum):
        top = f" and <= {maximum}" if maximum is not None else ""
        hint = " (write it without quotes or decimals)" if isinstance(value, (str, float)) else ""
        raise ManifestError(
            f"{where}: expected an integer >= {minimum}{top}, got {value!r} "
            f"({type(value).__name__}){hint}"
        )
    return value


def _str(value: Any, where: str, choices: tuple[str, ...] | None = None) -> str:
    if not isinstance(value, str):
        raise ManifestError(
            f"{where}: expected a string, got {value!r} ({type(value).__name__}); quote it"
        )
    if choices is not None and value not in choices:
        raise ManifestError(f"{where}: {value!r} is not one of {list(choices)}")
    return value


@dataclass(frozen=True)
class SourceSpec:
    """One source of a manifest."""

    source: str
    splits: tuple[str, ...]
    name: str
    limit: int | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    preprocess: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class SuiteSpec:
    """A set of (corruption, severities) with a config-name template."""

    corruptions: Mapping[str, tuple[int, ...]]
    config_name: str = "{corruption}_{severity}"


@dataclass(frozen=True)
class CorruptSpec:
    """The ``corrupt`` section."""

    preset: str
    rounding: str
    suites: tuple[SuiteSpec, ...]
    depth: str = "auto"
    depth_model: Mapping[str, Any] | None = None

    def configs(self) -> list[tuple[str, str, int]]:
        """``(config name, corruption, severity)`` for every output, in manifest order."""
        out: list[tuple[str, str, int]] = []
        seen: dict[str, tuple[str, int]] = {}
        for suite in self.suites:
            for corruption, severities in suite.corruptions.items():
                for sev in severities:
                    name = suite.config_name.format(corruption=corruption, severity=sev)
                    if not CONFIG_NAME_RE.match(name):
                        raise ManifestError(
                            f"corrupt: config_name {suite.config_name!r} gives {name!r}, not one "
                            f"folder name matching {CONFIG_NAME_RE.pattern}"
                        )
                    if name in seen and seen[name] != (corruption, sev):
                        raise ManifestError(
                            f"corrupt: config name {name!r} is produced by both {seen[name]} and "
                            f"{(corruption, sev)}; include {{severity}} in config_name"
                        )
                    if name not in seen:
                        seen[name] = (corruption, sev)
                        out.append((name, corruption, sev))
        return out


@dataclass(frozen=True)
class Manifest:
    """A validated benchmark manifest."""

    name: str
    description: str
    seed: int
    sources: tuple[SourceSpec, ...]
    corrupt: CorruptSpec | None
    sections: Mapping[str, Any]
    path: str
    raw: Mapping[str, Any]

    def clean_config(self, source: SourceSpec) -> str:
        """Return the config name of a source's clean data.

        That is ``clean``, or ``<name>-clean`` when the manifest has several sources.
        """
        return "clean" if len(self.sources) == 1 else f"{source.name}-clean"


TOP_KEYS = {
    "name": "benchmark name ([a-z0-9_-], also the build folder name)",
    "description": "one paragraph for the dataset card",
    "seed": "root seed of every random draw (int >= 0)",
    "sources": "list of {source, splits, limit, options, name}",
    "corrupt": "corruption suites (preset, rounding, suites, depth)",
    "audit": "label-audit settings",
    "shift": "distribution-shift settings",
    "reannotate": "annotation sources and aggregation",
    "slices": "slice definitions",
    "encoding": "how corrupted images are stored: {format: png} or {format: jpeg, quality: 85}",
}
SOURCE_KEYS = {
    "source": "source registry key",
    "splits": "list of split names",
    "limit": "first N rows per split (int) or null",
    "options": "source options (mapping)",
    "name": "config prefix when several sources (default: the source key)",
    "preprocess": "{resize_shorter: px, center_crop: px} applied at pull (ImageNet-C: 256, 224)",
}
PREPROCESS_KEYS = {
    "resize_shorter": "resize so the shorter side is this many pixels (torchvision 0.2 Resize)",
    "center_crop": "then crop the centre square of this side (torchvision 0.2 CenterCrop)",
    "center_crop_fraction": "then crop this fraction (0, 1] of each side about the centre "
    "(the Inception script's center_crop(0.875))",
    "resize": "then resize to exactly this many pixels square (the Inception script's 299)",
}
CORRUPT_KEYS = {
    "preset": "resolution preset: auto, mnist28, cifar32, tiny64, imagenet224, imagenet299",
    "rounding": "truncate (upstream parity) or nearest",
    "suites": "list of {suite, severities} or {corruptions: {name: [severities]}}",
    "depth": "where depth comes from for depth-aware corruptions: auto | column | model | pseudo",
    "depth_model": "{path, output: depth|inverse_depth, input_size, mean, std}: local ONNX or "
    "TorchScript depth network (never downloaded)",
}
DEPTH_MODEL_KEYS = {
    "path": "model file (.onnx, or TorchScript .pt/.pth/.ts)",
    "output": "what the network predicts: depth or inverse_depth",
    "input_size": "[height, width] of the network input in pixels",
    "mean": "per-channel normalisation mean on the [0, 1] scale",
    "std": "per-channel normalisation std",
}
SUITE_KEYS = {
    "suite": "registry suite name (imagenet_c, imagenet_c_extra, mnist_c, ...)",
    "severities": "severities for a registry suite (subset of 1..5)",
    "corruptions": "mapping corruption -> list of severities",
    "config_name": "config name template with {corruption} and {severity}",
}

#: Validators for sections owned by later stages: name -> "module:function", where
#: ``function(data, where) -> parsed`` raises :class:`ManifestError` on bad input.
SECTION_VALIDATORS: dict[str, str] = {
    "audit": "pipeline.audit.config:parse_section",
    "shift": "pipeline.shift:parse_section",
    "reannotate": "pipeline.reannotate.config:parse_section",
    "slices": "pipeline.slices:parse_section",
    "encoding": "pipeline.encoding:parse_section",
}


def _section_validator(key: str) -> Callable[[Any, str], Any]:
    module, func = SECTION_VALIDATORS[key].split(":")
    return getattr(importlib.import_module(module), func)


def _numbers(value: Any, where: str, count: int, *, integer: bool) -> None:
    """Check an optional list of ``count`` numbers (positive ints when ``integer``)."""
    if value is None:
        return
    kind = "positive integers" if integer else "numbers"
    ok = isinstance(value, list) and len(value) == count and all(
        not isinstance(v, bool)
        and (isinstance(v, int) and v > 0 if integer else isinstance(v, (int, float)))
        for v in value
    )
    if not ok:
        raise ManifestError(f"{where}: expected a list of {count} {kind}, got {value!r:.80}")


def _severities(value: Any, where: str) -> tuple[int, ...]:
    if not isinstance(value, list) or not value:
        raise ManifestError(
            f"{where}: expected a non-empty list of severities in 1..5, got {value!r}"
        )
    for v in value:
        if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= 5:
            raise ManifestError(f"{where}: severity {v!r} is not an integer in 1..5")
    if len(set(value)) != len(value):
        raise ManifestError(f"{where}: severities {value!r} repeat a value; list each once")
    return tuple(value)


def check_config_template(value: Any, where: str) -> str:
    """Validate a ``config_name`` template: known fields only, renders to one path segment.

    Args:
        value: The template, e.g. ``"{corruption}_{severity}"``.
        where: Key path for messages.

    Raises:
        ManifestError: Not a string, unknown field, format spec, no ``{corruption}``, or a
            name that is not one folder name of ``[A-Za-z0-9_-]`` (``/``, ``.``, ``..`` refused).

    Example:
        >>> check_config_template("{corruption}-s{severity}", "config_name")
        '{corruption}-s{severity}'
    """
    template = _str(value, where)
    allowed = " and ".join(f"{{{f}}}" for f in CONFIG_NAME_FIELDS)
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ManifestError(
            f"{where}: {template!r} is not a valid template ({exc}); use {allowed}"
        ) from exc
    fields = set()
    for _, fld, spec, conv in parts:
        if fld is None:
            continue
        if fld not in CONFIG_NAME_FIELDS or spec or conv:
            raise ManifestError(
                f"{where}: {template!r} uses the field {{{fld}{'!' + conv if conv else ''}"
                f"{':' + spec if spec else ''}}}; a config name template may use only {allowed} "
                "(no format specs)"
            )
        fields.add(fld)
    if "corruption" not in fields:
        raise ManifestError(f"{where}: {template!r} must contain {{corruption}}")
    sample = template.format(corruption="fog", severity=1)
    if not CONFIG_NAME_RE.match(sample):
        raise ManifestError(
            f"{where}: {template!r} gives config names like {sample!r}; a config name is one "
            f"folder name matching {CONFIG_NAME_RE.pattern} (no '/', '.', '..' or spaces)"
        )
    return template


def _parse_corrupt(data: Any, where: str) -> CorruptSpec:
    from corruptions.registry import PRESETS, get_registry

    d = check_keys(data, where, CORRUPT_KEYS, {"suites"})
    preset = _str(d.get("preset", "auto"), f"{where}.preset", ("auto", *PRESETS))
    rounding = _str(d.get("rounding", "truncate"), f"{where}.rounding", ("truncate", "nearest"))
    depth = _str(d.get("depth", "auto"), f"{where}.depth", ("auto", "column", "model", "pseudo"))
    depth_model = None
    if d.get("depth_model") is not None:
        depth_model = check_keys(
            d["depth_model"], f"{where}.depth_model", DEPTH_MODEL_KEYS, {"path", "output"}
        )
        _str(depth_model["output"], f"{where}.depth_model.output", ("depth", "inverse_depth"))
        _str(depth_model["path"], f"{where}.depth_model.path")
        _numbers(depth_model.get("input_size"), f"{where}.depth_model.input_size", 2, integer=True)
        for key in ("mean", "std"):
            _numbers(depth_model.get(key), f"{where}.depth_model.{key}", 3, integer=False)
    if depth == "model" and depth_model is None:
        raise ManifestError(f"{where}.depth: 'model' needs corrupt.depth_model {{path, output}}")
    registry = get_registry()
    suites = []
    if not isinstance(d["suites"], list) or not d["suites"]:
        raise ManifestError(f"{where}.suites: expected a non-empty list")
    for i, s in enumerate(d["suites"]):
        w = f"{where}.suites[{i}]"
        s = check_keys(s, w, SUITE_KEYS)
        if ("suite" in s) == ("corruptions" in s):
            raise ManifestError(f"{w}: give exactly one of 'suite' or 'corruptions'")
        if "suite" in s:
            names = registry.in_suite(_str(s["suite"], f"{w}.suite"))
            if not names:
                raise ManifestError(
                    f"{w}.suite: no registered corruption is in suite {s['suite']!r}; "
                    f"suites: {registry.suites()}"
                )
            sev = _severities(s.get("severities", [1, 2, 3, 4, 5]), f"{w}.severities")
            corr = {n: sev for n in names}
        else:
            if "severities" in s:
                raise ManifestError(
                    f"{w}: 'severities' goes with 'suite'; list them per corruption"
                )
            if not isinstance(s["corruptions"], dict) or not s["corruptions"]:
                raise ManifestError(f"{w}.corruptions: expected a mapping name -> [severities]")
            corr = {}
            for name, sev in s["corruptions"].items():
                if name not in registry:
                    raise ManifestError(
                        f"{w}.corruptions: unknown corruption {name!r}; "
                        f"valid: {', '.join(sorted(registry))}"
                    )
                corr[name] = _severities(sev, f"{w}.corruptions.{name}")
        if preset != "auto":  # else resolve_preset raises a bare ValueError mid-run
            for name in corr:
                if preset not in registry[name].tables:
                    raise ManifestError(
                        f"{w}: corruption {name!r} has no table for preset {preset!r} (it has "
                        f"{sorted(registry[name].tables)}); use preset: auto or one of those"
                    )
        template = check_config_template(
            s.get("config_name", "{corruption}_{severity}"), f"{w}.config_name"
        )
        suites.append(SuiteSpec(corruptions=corr, config_name=template))
    spec = CorruptSpec(
        preset=preset, rounding=rounding, suites=tuple(suites), depth=depth,
        depth_model=dict(depth_model) if depth_model else None,
    )
    spec.configs()  # name clashes are refused here
    return spec


def parse_manifest(data: Any, *, path: str = "<manifest>") -> Manifest:
    """Validate a parsed manifest.

    Args:
        data: The YAML document.
        path: Its file name, for messages.

    Raises:
        ManifestError: Any invalid key or value (the message names it and the allowed values).
    """
    from pipeline.sources import make_source

    d = check_keys(data, path, TOP_KEYS, {"name", "sources"})
    name = _str(d["name"], f"{path}: name")
    if not NAME_RE.match(name):
        raise ManifestError(f"{path}: name {name!r} must match {NAME_RE.pattern}")
    seed = _int(d.get("seed", 0), f"{path}: seed", maximum=MAX_SEED)
    description = _str(d.get("description", ""), f"{path}: description")
    if not isinstance(d["sources"], list) or not d["sources"]:
        raise ManifestError(f"{path}: sources must be a non-empty list")
    sources = []
    for i, s in enumerate(d["sources"]):
        w = f"{path}: sources[{i}]"
        s = check_keys(s, w, SOURCE_KEYS, {"source", "splits"})
        splits = s["splits"]
        if (
            not isinstance(splits, list)
            or not splits
            or not all(isinstance(x, str) for x in splits)
        ):
            raise ManifestError(f"{w}.splits: expected a non-empty list of split names")
        if len(set(splits)) != len(splits):
            raise ManifestError(f"{w}.splits: {splits} names a split twice")
        options = {} if s.get("options") is None else s["options"]
        make_source(_str(s["source"], f"{w}.source"), options, where=w)  # validates options
        src_name = _str(s.get("name", s["source"]), f"{w}.name")
        if not NAME_RE.match(src_name):
            raise ManifestError(f"{w}.name: {src_name!r} must match {NAME_RE.pattern}")
        pre = check_keys(
            {} if s.get("preprocess") is None else s["preprocess"], f"{w}.preprocess",
            PREPROCESS_KEYS,
        )
        for k, v in pre.items():
            if k == "center_crop_fraction":
                if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v <= 1:
                    raise ManifestError(
                        f"{w}.preprocess.center_crop_fraction: {v!r} must be a number in (0, 1], "
                        "e.g. 0.875")
            else:
                _int(v, f"{w}.preprocess.{k}", minimum=1)
        sources.append(
            SourceSpec(
                source=s["source"],
                splits=tuple(splits),
                name=src_name,
                limit=_int(s.get("limit"), f"{w}.limit", minimum=1, allow_none=True),
                options=dict(options),
                preprocess=dict(pre),
            )
        )
    if len({s.name for s in sources}) != len(sources):
        raise ManifestError(f"{path}: sources need distinct names; set `name:` on each")
    corrupt = _parse_corrupt(d["corrupt"], f"{path}: corrupt") if "corrupt" in d else None
    if corrupt is not None:
        clean = {"clean"} | {f"{s.name}-clean" for s in sources}
        clash = sorted(clean & {c for c, _, _ in corrupt.configs()})
        if clash:
            raise ManifestError(
                f"{path}: corrupt: config name(s) {clash} collide with the clean config; change "
                "config_name"
            )
    sections = {}
    for key in ("audit", "shift", "reannotate", "slices", "encoding"):
        if d.get(key) is not None:  # `--set audit=null` drops a section
            sections[key] = _section_validator(key)(d[key], f"{path}: {key}")
    return Manifest(
        name=name,
        description=description,
        seed=int(seed or 0),
        sources=tuple(sources),
        corrupt=corrupt,
        sections=sections,
        path=path,
        raw=d,
    )


def apply_overrides(data: Any, overrides: list[str]) -> dict:
    """Apply ``key.path=value`` overrides (YAML-parsed values; list indices allowed).

    Raises:
        ManifestError: Malformed override, a list index that is not a number or out of
            range, or a path through a value that is not a mapping or list.

    Example:
        >>> apply_overrides({"sources": [{"limit": 1}]}, ["sources.0.limit=5"])
        {'sources': [{'limit': 5}]}
    """
    if not isinstance(data, dict):
        raise ManifestError(f"the manifest is a {type(data).__name__}, not a mapping of keys")
    for item in overrides:
        if "=" not in item:
            raise ManifestError(f"--set {item!r} must look like key.path=value")
        key, raw = item.split("=", 1)
        parts = key.split(".")
        if not all(parts):
            raise ManifestError(f"--set {item!r}: empty key in {key!r}")
        value = parse_yaml(raw, where=f"--set {item!r}")
        node: Any = data
        for depth, part in enumerate(parts):
            here = ".".join(parts[: depth + 1])
            last = depth == len(parts) - 1
            if isinstance(node, list):
                # ASCII decimal without leading zeros ('²' raised ValueError, '٠'/'00' read 0)
                if not re.fullmatch(r"0|[1-9][0-9]*", part) or int(part) >= len(node):
                    raise ManifestError(
                        f"--set {item!r}: {here!r}: {parts[depth - 1] if depth else 'the list'} "
                        f"has {len(node)} entries, so the index must be 0..{len(node) - 1}"
                    )
                if last:
                    node[int(part)] = value
                else:
                    node = node[int(part)]
            elif isinstance(node, dict):
                if last:
                    node[part] = value
                else:
                    node = node.setdefault(part, {})
            else:
                raise ManifestError(
                    f"--set {item!r}: {'.'.join(parts[:depth])!r} is {node!r:.40}, not a mapping "
                    f"or list, so it has no key {part!r}"
                )
    return data


def load_manifest(
    path: str | Path, overrides: list[str] | None = None, *, seed: int | None = None
) -> Manifest:
    """Read, override and validate a manifest file.

    The file must be UTF-8 (a BOM is accepted), at most :data:`MAX_MANIFEST_BYTES`,
    one YAML mapping without anchors or aliases.

    Args:
        path: The YAML file.
        overrides: ``key.path=value`` strings applied before validation.
        seed: If given, replaces the manifest's seed (``params.yaml`` seed).
    """
    p = Path(path)
    if not p.is_file():
        raise ManifestError(f"manifest {p} not found; the shipped ones are in manifests/")
    raw = p.read_bytes()
    if len(raw) > MAX_MANIFEST_BYTES:
        raise ManifestError(f"{p}: {len(raw):,} bytes; a manifest is at most "
                            f"{MAX_MANIFEST_BYTES:,} bytes of YAML")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ManifestError(
            f"{p}: not UTF-8 text (line {line}, byte {exc.start}: "
            f"{raw[exc.start:exc.start + 1]!r}); save the manifest as UTF-8"
        ) from exc
    data = parse_yaml(text, where=str(p))
    if not isinstance(data, dict):
        raise ManifestError(f"{p}: expected a mapping of manifest keys, got {type(data).__name__}")
    data = apply_overrides(data, overrides or [])
    if seed is not None:
        data["seed"] = seed
    return parse_manifest(data, path=str(p))
