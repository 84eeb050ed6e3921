"""``benchsmith review <build dir>``: review audit candidates and model mistakes in a browser.

A stdlib :class:`http.server.ThreadingHTTPServer` on 127.0.0.1 serves one page
(:mod:`pipeline.review.page`) that shows the items one by one: image, given label,
model predictions and candidate labels. The reviewer marks valid labels, the
mistake category and severity with the keyboard; each verdict is appended to the
votes file (JSON lines) with a single ``write`` on an ``O_APPEND`` descriptor
followed by ``fsync``, so a killed process loses at most the line being written
(the importer skips a torn last line). The votes file is an input of
``benchsmith reannotate`` (``--votes``).

What is shown and what a save writes: :mod:`pipeline.review.queue`. Several reviewers
can work on one queue, each with their own ``--annotator`` (and votes file, or one shared
file); ``benchsmith reannotate`` reports their agreement.

The server only ever listens on 127.0.0.1 and defends the votes file against other
pages in the reviewer's browser: every request must carry a ``Host`` of this server
(DNS-rebinding), writes must be ``application/json`` with a same-origin (or absent)
``Origin`` and the per-session token the page was served with (cross-site request
forgery), bodies are bounded (:data:`MAX_BODY` bytes, :data:`MAX_DEPTH` levels of
nesting) and every field is type-checked, so a bad request gets a 4xx, never a dead
handler.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from pipeline.errors import BenchsmithError
from pipeline.reannotate.importers import import_review
from pipeline.review.page import PAGE
from pipeline.review.queue import ReviewQueue, build_queue, vote_records

__all__ = ["VotesFile", "build_queue", "make_server", "parse_vote_body", "main"]

#: Largest accepted request body (bytes); a vote is a few hundred.
MAX_BODY = 64 * 1024
#: The fields a vote request may carry.
BODY_FIELDS = ("index", "valid", "verdict", "category", "severity", "note")
#: Deepest accepted JSON nesting of a request body.
MAX_DEPTH = 8
#: Pending connections the listening socket queues (the stdlib default of 5 resets clients
#: under a burst of concurrent reviewers).
LISTEN_BACKLOG = 256


class RequestError(ValueError):
    """A request the server refuses, with its HTTP status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def json_depth(data: bytes) -> int:
    """Deepest bracket nesting of a JSON document (strings skipped), without parsing it.

    Example:
        >>> json_depth(b'{"a": [1, {"b": "[[["}]}')
        3
    """
    depth = best = 0
    in_str = escape = False
    for ch in data:
        if in_str:
            if escape:
                escape = False
            elif ch == 0x5C:  # backslash
                escape = True
            elif ch == 0x22:
                in_str = False
        elif ch == 0x22:
            in_str = True
        elif ch in (0x7B, 0x5B):
            depth += 1
            best = max(best, depth)
        elif ch in (0x7D, 0x5D):
            depth -= 1
    return best


def parse_vote_body(data: bytes, n_items: int) -> dict[str, Any]:
    """Decode and type-check a vote request body.

    Raises:
        RequestError: 400 for anything but ``{"index": int, ...}`` within the bounds.
    """
    if json_depth(data) > MAX_DEPTH:
        raise RequestError(400, f"JSON nested deeper than {MAX_DEPTH} levels")
    try:
        body = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise RequestError(400, f"body is not JSON ({exc})") from exc
    if not isinstance(body, dict):
        raise RequestError(400, "body must be a JSON object")
    unknown = sorted(set(body) - set(BODY_FIELDS))
    if unknown:  # a misspelt field would otherwise be dropped without a word
        raise RequestError(400, f"unknown field(s) {unknown}; a vote takes {list(BODY_FIELDS)}")
    index = body.get("index")
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < n_items:
        raise RequestError(400, f"index must be an integer in 0..{n_items - 1}, got {index!r}")
    valid = body.get("valid") or []
    if not isinstance(valid, list) or any(isinstance(y, bool) or not isinstance(y, int)
                                          for y in valid):
        raise RequestError(400, "valid must be a list of class indices (integers)")
    for key in ("category", "severity", "verdict", "note"):
        if body.get(key) is not None and not isinstance(body[key], str):
            raise RequestError(400, f"{key} must be a string or null")
    return body


class VotesFile:
    """Append-only JSON-lines votes file, each append one ``write`` + ``fsync``."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        if self.path.exists() and not self.path.is_file():
            raise BenchsmithError(f"--votes {self.path} is not a regular file (a folder?); give "
                                  "the JSON-lines votes file to append to")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self.count = 0
        if self.path.is_file() and self.path.stat().st_size:
            with open(self.path, "rb") as fh:
                data = fh.read()
            if not data.endswith(b"\n"):  # a torn line from a killed run: end it
                self._append(b"\n")

    def _append(self, data: bytes) -> None:
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)

    def append(self, records: list[dict[str, Any]]) -> None:
        """Append records as JSON lines, durably (returns after fsync)."""
        data = "".join(json.dumps(r, sort_keys=True) + "\n" for r in records).encode()
        with self._lock:
            self._append(data)
            self.count += len(records)


class ReviewServer(ThreadingHTTPServer):
    """The threading HTTP server with a listen backlog sized for many reviewers."""

    request_queue_size = LISTEN_BACKLOG
    daemon_threads = True


def make_server(
    queue: ReviewQueue, votes: VotesFile, *, annotator: str, port: int = 0
) -> ThreadingHTTPServer:
    """Return an HTTP server on 127.0.0.1 (``port=0`` picks a free port) serving the review page.

    The per-session write token is ``server.token`` (also served to same-host clients in
    ``/api/items`` and embedded in the page).
    """
    token = secrets.token_urlsafe(24)
    allowed: set[str] = set()  # filled once the port is known
    reviewed: set[str] = set()
    last: dict[str, str] = {}  # sample_id -> this annotator's standing verdict
    counts = {v: 0 for v in ("correct", "set", "unsure")}
    count_lock = threading.Lock()
    if votes.path.is_file():
        v, _ = import_review(votes.path)
        for s, a, verdict, labels, given, model in zip(
                v["sample_id"].to_pylist(), v["annotator"].to_pylist(),
                v["verdict"].to_pylist(), v["labels"].to_pylist(), v["given"].to_pylist(),
                v["model"].to_pylist(), strict=True):
            if a != annotator or model is not None or verdict == "skip":
                continue
            kind = ("unsure" if verdict == "unsure" else
                    "correct" if labels == [given] else "set")
            last[s] = kind
            reviewed.add(s)
        for kind in last.values():
            counts[kind] += 1

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # keep the terminal quiet
            return

        def _send(self, code: int, body: bytes, ctype: str) -> None:
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def _json(self, code: int, obj: Any) -> None:
            self._send(code, json.dumps(obj).encode(), "application/json")

        def _host_ok(self) -> bool:
            if self.headers.get("Host", "") in allowed:
                return True
            self._json(403, {"error": "unknown Host header (this server answers only as "
                             f"{sorted(allowed)})"})
            return False

        def do_GET(self) -> None:  # noqa: N802 - http.server API
            if not self._host_ok():
                return
            if self.path in ("/", "/index.html"):
                self._send(200, PAGE.replace("__BENCHSMITH_TOKEN__", token).encode(),
                           "text/html; charset=utf-8")
            elif self.path == "/api/items":
                n = queue.names
                self._json(200, {"annotator": annotator, "votes": str(votes.path),
                                 "token": token, "names": n, "notes": queue.notes,
                                 "counts": counts, "items": [
                    {"index": it.index, "sample_id": it.sample_id, "kind": it.kind,
                     "rank": it.rank,
                     "given": it.given, "given_name": n[it.given],
                     "reviewed": it.sample_id in reviewed,
                     "predictions": [{"model": m, "label": y, "name": n[y]}
                                     for m, y in it.predictions],
                     "candidates": [{"label": y, "name": n[y], "why": w}
                                    for y, w in it.candidates]}
                    for it in queue.items]})
            elif self.path.startswith("/image/"):
                key = self.path[len("/image/"):]
                try:  # plain decimal item numbers only: "-1" must not serve the last item
                    if not (key.isascii() and key.isdigit()):
                        raise ValueError(key)
                    it = queue.items[int(key)]
                except (ValueError, IndexError):
                    self._json(404, {"error": "no such item"})
                    return
                ctype = "image/png" if it.image[:4] == b"\x89PNG" else "image/jpeg"
                self._send(200, it.image, ctype)
            else:
                self._json(404, {"error": f"no route {self.path}"})

        def _check_write(self) -> bytes:
            """Return the body of an acceptable write request; raise :class:`RequestError`."""
            origin = self.headers.get("Origin")
            if origin is not None and origin not in {f"http://{h}" for h in allowed}:
                raise RequestError(403, f"cross-origin write from {origin!r} refused")
            ctype = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
            if ctype != "application/json":
                raise RequestError(415, "votes must be sent as application/json")
            if not secrets.compare_digest(self.headers.get("X-Benchsmith-Token", ""), token):
                raise RequestError(403, "missing or wrong X-Benchsmith-Token (reload the page)")
            try:
                length = int(self.headers.get("Content-Length", ""))
            except ValueError as exc:
                raise RequestError(411, "Content-Length required") from exc
            if not 0 <= length <= MAX_BODY:
                raise RequestError(413, f"body of {length} bytes exceeds {MAX_BODY}")
            return self.rfile.read(length)

        def do_POST(self) -> None:  # noqa: N802 - http.server API
            if not self._host_ok():
                return
            if self.path != "/api/vote":
                self._json(404, {"error": f"no route {self.path}"})
                return
            try:
                body = parse_vote_body(self._check_write(), len(queue.items))
                item = queue.items[body["index"]]
                records = vote_records(item, body, annotator, len(queue.names))
            except RequestError as exc:
                self.close_connection = True  # an unread body must not be parsed as a request
                self._json(exc.status, {"error": str(exc)})
                return
            except (ValueError, KeyError, IndexError, TypeError) as exc:
                self._json(400, {"error": str(exc)})
                return
            try:
                votes.append(records)
            except OSError as exc:  # disk full, the file replaced by a folder: say so, stay up
                self._json(500, {"error": f"votes file {votes.path} not written ({exc})"})
                return
            with count_lock:
                old = last.get(item.sample_id)
                if old is not None:
                    counts[old] -= 1
                verdict = body.get("verdict", "set")
                if verdict == "retract":
                    last.pop(item.sample_id, None)
                    reviewed.discard(item.sample_id)
                else:
                    last[item.sample_id] = verdict
                    counts[verdict] += 1
                    reviewed.add(item.sample_id)
            self._json(200, {"lines": len(records), "total": votes.count, "counts": counts})

    server = ReviewServer(("127.0.0.1", port), Handler)
    bound = server.server_address[1]
    allowed.update({f"127.0.0.1:{bound}", f"localhost:{bound}"})
    server.token = token  # type: ignore[attr-defined]
    return server


def main(argv: list[str] | None = None) -> int:
    """``benchsmith review``: serve the review page for a build on 127.0.0.1."""
    parser = argparse.ArgumentParser(prog="benchsmith review", description=main.__doc__)
    parser.add_argument("build", nargs="+", type=Path, help="build folder(s) holding the configs")
    parser.add_argument("--votes", required=True, type=Path, help="votes file (JSON lines)")
    parser.add_argument("--annotator", required=True, help="your name, recorded on every vote")
    parser.add_argument("--predictions", type=Path, default=None,
                        help="predictions Parquet: review the models' mistakes")
    parser.add_argument("--audit-column", default=None,
                        help="boolean column of the audit config flagging candidates "
                        "(default: review_candidate, the audit's top-K queue)")
    parser.add_argument("--limit", type=int, default=None, help="at most this many items")
    parser.add_argument("--port", type=int, default=0, help="port (0 = a free one)")
    args = parser.parse_args(argv)
    if not args.annotator.strip():
        raise BenchsmithError("--annotator must name you (it is recorded on every vote)")
    if args.limit is not None and args.limit < 1:
        raise BenchsmithError(f"--limit {args.limit}: expected >= 1 (omit it for every item)")
    if not 0 <= args.port <= 65535:
        raise BenchsmithError(f"--port {args.port}: expected 0..65535 (0 = a free port)")
    queue = build_queue(args.build, predictions=args.predictions,
                        audit_column=args.audit_column, limit=args.limit)
    votes = VotesFile(args.votes)
    try:
        server = make_server(queue, votes, annotator=args.annotator, port=args.port)
    except OSError as exc:
        raise BenchsmithError(f"cannot listen on 127.0.0.1:{args.port} ({exc}); pick another "
                              "--port or 0 for a free one") from exc
    for note in queue.notes:
        print(f"review: {note}")
    print(f"reviewing {len(queue.items)} items at http://127.0.0.1:{server.server_address[1]}/ "
          f"(votes -> {args.votes}); Ctrl-C to stop", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0
