"""``benchsmith push DIR --repo-id OWNER/NAME``: upload a published benchmark to the Hub.

The folder is validated first (a benchmark that fails ``benchsmith validate``
is never uploaded), then committed in one commit with ``huggingface_hub``: the
dataset card, ``benchmark.json``, the contact sheet and every config folder
(shards and ``manifest.json``): the files of ``benchmark.json``'s completion
record when it has one, else :data:`TOP_FILES` plus the shards each config's
``manifest.json`` lists. Files benchsmith did not write, temporary files and
the ownership marker stay local. ``--dry-run`` lists what would be committed and
touches no network. Credentials are whatever ``huggingface_hub`` finds
(``HF_TOKEN`` or ``huggingface-cli login``); benchsmith never reads them.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

from pipeline.errors import BenchsmithError

__all__ = ["TOP_FILES", "main", "files_to_commit", "push"]

#: Top-level files of a benchmark folder that are uploaded.
TOP_FILES = ("README.md", "benchmark.json", "contact_sheet.png")


#: A branch name the Hub takes (a conservative subset of git's ref-name rules).
REVISION_RE = re.compile(r"(?!.*\.\.)(?!.*//)(?![-/])[A-Za-z0-9._/-]{1,200}(?<![/.])")


def files_to_commit(root: Path) -> list[str]:
    """Relative POSIX paths of the files a push commits, sorted.

    Raises:
        BenchsmithError: ``root`` is not a published benchmark (no ``benchmark.json``).
    """
    root = Path(root)
    meta = root / "benchmark.json"
    if not meta.is_file():
        raise BenchsmithError(
            f"{root} is not a published benchmark (no benchmark.json); run `benchsmith build` "
            "or `benchsmith publish` first"
        )
    try:
        info = json.loads(meta.read_text())
        configs = info["configs"]
    except (ValueError, KeyError, TypeError) as exc:
        raise BenchsmithError(f"{meta}: unreadable benchmark.json ({exc}); republish") from exc
    if isinstance(info.get("files"), dict):  # the completion record: every file publish wrote
        return sorted({"benchmark.json", *map(str, info["files"])})
    files = [name for name in TOP_FILES if (root / name).is_file()]
    for config in configs:
        folder = root / str(config)
        if not (folder / "manifest.json").is_file():
            raise BenchsmithError(f"{folder}: config listed in benchmark.json has no manifest.json")
        listed = json.loads((folder / "manifest.json").read_text())
        names = {s["file"] for split in listed["splits"].values() for s in split["shards"]}
        files += [f"{config}/{name}" for name in sorted(names | {"manifest.json"})]
    return sorted(files)


def push(
    root: Path,
    repo_id: str,
    *,
    private: bool = False,
    revision: str | None = None,
    message: str | None = None,
    dry_run: bool = False,
    endpoint: str | None = None,
) -> dict[str, Any]:
    """Validate ``root`` and upload it to the Hub dataset repository ``repo_id``.

    Args:
        root: A folder written by ``benchsmith publish``.
        repo_id: ``owner/name`` of the dataset repository (created if missing).
        private: Create the repository private.
        revision: Branch to commit to (default ``main``).
        message: Commit message (default names the benchmark and its code version).
        dry_run: Only return what would be committed.
        endpoint: Hub URL (default: ``huggingface_hub``'s, i.e. ``HF_ENDPOINT`` or the Hub).

    Returns:
        ``{"repo_id", "files", "bytes", "commit_url"}`` (``commit_url`` is ``None`` on a dry run).

    Raises:
        BenchsmithError: The folder is not a valid benchmark, or ``repo_id`` is malformed.
    """
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    from pipeline.validation import validate

    if repo_id.count("/") != 1 or not all(repo_id.split("/")):
        raise BenchsmithError(f"--repo-id {repo_id!r}: expected owner/name")
    try:
        validate_repo_id(repo_id)
    except HFValidationError as exc:
        raise BenchsmithError(f"--repo-id {repo_id!r}: not a Hub repository id ({exc})") from exc
    if revision is not None and not REVISION_RE.fullmatch(revision):
        raise BenchsmithError(f"--revision {revision!r}: not a branch name (letters, digits, "
                              "'.', '_', '-', '/'; no '..', no leading '/' or '-')")
    root = Path(root)
    files = files_to_commit(root)
    report = validate(root)
    if not report.ok:
        raise BenchsmithError(
            f"{root} fails validation, not pushing:\n{report.text()}\nfix it and republish"
        )
    size = sum((root / f).stat().st_size for f in files)
    result: dict[str, Any] = {"repo_id": repo_id, "files": files, "bytes": size,
                              "commit_url": None}
    if dry_run:
        return result
    from huggingface_hub import CommitOperationAdd, HfApi

    info = json.loads((root / "benchmark.json").read_text())
    api = HfApi(endpoint=endpoint)
    try:
        api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
        commit = api.create_commit(
            repo_id,
            [CommitOperationAdd(path_in_repo=f, path_or_fileobj=str(root / f)) for f in files],
            commit_message=message or f"benchsmith: {info.get('name', root.name)} "
            f"(code {info.get('code_version', '?')})",
            repo_type="dataset",
            revision=revision,
        )
    except Exception as exc:  # noqa: BLE001 - the Hub client raises HTTP, network and auth types
        raise BenchsmithError(
            f"push to datasets/{repo_id} at {api.endpoint} failed: {type(exc).__name__}: {exc}; "
            "check the network or proxy, your token (`hf auth login` or HF_TOKEN) and the "
            "repository's permissions, then push again (a Hub commit is all or nothing)"
        ) from exc
    result["commit_url"] = str(getattr(commit, "commit_url", commit))
    return result


def main(argv: list[str] | None = None) -> int:
    """``benchsmith push``: upload a published benchmark folder to the Hugging Face Hub."""
    parser = argparse.ArgumentParser(prog="benchsmith push", description=main.__doc__)
    parser.add_argument("root", type=Path, help="benchmark folder written by `benchsmith publish`")
    parser.add_argument("--repo-id", required=True, help="dataset repository, owner/name")
    parser.add_argument("--private", action="store_true", help="create the repository private")
    parser.add_argument("--revision", default=None, help="branch to commit to (default main)")
    parser.add_argument("--message", default=None, help="commit message")
    parser.add_argument("--dry-run", action="store_true",
                        help="list the files that would be committed; no network")
    args = parser.parse_args(argv)
    res = push(args.root, args.repo_id, private=args.private, revision=args.revision,
               message=args.message, dry_run=args.dry_run)
    if args.dry_run:
        print("\n".join(res["files"]))
        print(f"dry run: would commit {len(res['files'])} files ({res['bytes']:,} bytes) "
              f"to datasets/{args.repo_id}")
    else:
        print(f"pushed {len(res['files'])} files ({res['bytes']:,} bytes): {res['commit_url']}")
    return 0
