"""The ``benchsmith`` command line: one sub-command per stage.

Each sub-command lives in its own module with ``main(argv) -> int``;
:data:`COMMANDS` maps the sub-command to ``module:function`` and is the only
place to add one. A :class:`~pipeline.errors.BenchsmithError` (bad manifest,
missing file, checksum mismatch) prints its message and exits with status 2.
"""

from __future__ import annotations

import importlib
import sys

from pipeline.errors import BenchsmithError

__all__ = ["COMMANDS", "main"]

#: sub-command -> ("module", "one-line help")
COMMANDS: dict[str, tuple[str, str]] = {
    "pull": ("pipeline.pull", "read a manifest's sources into clean Parquet shards"),
    "corrupt": ("pipeline.corrupt", "apply the manifest's corruption suites to the clean shards"),
    "shift": ("pipeline.shift", "build controllable distribution shifts with the shift measured"),
    "audit": ("pipeline.audit.stage", "flag likely label errors, duplicates, outliers (cleanlab)"),
    "publish": (
        "pipeline.publish",
        "assemble configs + dataset card into a loadable benchmark folder",
    ),
    "validate": (
        "pipeline.validate",
        "check a published benchmark (schema, checksums, counts, images)",
    ),
    "build": ("pipeline.build", "every stage the manifest defines, then validate, in one go"),
    "reannotate": ("pipeline.reannotate.stage", "import annotation votes and aggregate label sets"),
    "slices": ("pipeline.slices", "write slice configs (major, multi_label, label_error, clean)"),
    "review": ("pipeline.review.app", "local web page to review audit candidates / model mistakes"),
    "score": ("pipeline.score", "top-1, ReaL, per-slice accuracy, mCE and ECE of predictions"),
    "evaluate": ("pipeline.evaluate", "run an ONNX classifier over every config -> predictions"),
    "difficulty": ("pipeline.difficulty", "per-config pixel change vs clean, as plot data"),
    "push": ("pipeline.push", "upload a published benchmark to the Hugging Face Hub"),
    "list": ("pipeline.listing", "list corruptions, suites, presets, sources, manifests, "
             "manifest-keys"),
}


def _version() -> str:
    from pipeline import __version__
    from pipeline.version import code_version

    return f"benchsmith {__version__} (code {code_version()})"


def _usage() -> str:
    lines = ["usage: benchsmith [--version] <command> [options]", "", "commands:"]
    lines += [f"  {name:<10} {help_}" for name, (_, help_) in COMMANDS.items()]
    lines += ["", "benchsmith <command> --help shows a command's options."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``benchsmith`` console script."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(_usage())
        return 0 if args else 2
    if args[0] in ("-V", "--version"):
        print(_version())
        return 0
    command, rest = args[0], args[1:]
    if command not in COMMANDS:
        print(f"benchsmith: unknown command {command!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[command][0])
    try:
        return int(module.main(rest) or 0)
    except BenchsmithError as exc:
        print(f"benchsmith {command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
