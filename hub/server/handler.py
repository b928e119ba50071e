"""HTTP side of the Hub server: routes the client's requests (PROTOCOL.md) to the storage."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from hub.server.storage import (
    DEFAULT_BRANCH,
    REPO_TYPES,
    USER,
    HubError,
    Repo,
    Storage,
    check_path,
    check_ref_name,
    front_matter,
    MAX_CARD_BYTES,
)


def _drain(connection: socket.socket, seconds: float) -> None:
    """After the answer: stop sending, then read and drop what the client still sends, for ``seconds`` at most.

    Closing a socket with unread data makes the kernel reset the connection, and the client may then lose the
    answer (a 401 or 413 sent before its body): this "lingering close" lets it arrive first.
    """
    deadline = time.monotonic() + seconds
    try:
        connection.shutdown(socket.SHUT_WR)
        while (left := deadline - time.monotonic()) > 0:
            connection.settimeout(left)
            if not connection.recv(1 << 16):
                return
    except OSError:  # a timeout, or a reset: the connection is done either way
        pass


#: Files up to this size are read and sent with their headers in one write; larger ones go by ``sendfile``.
SMALL_FILE = 1 << 20


#: Default largest request body: a commit (files inline, base64: 4/3 of their size); ``--max-body-mb``.
DEFAULT_MAX_BODY = 512 << 20
#: Largest body of the other requests (small JSON: repository settings, paths-info, preupload, validate-yaml).
MAX_API_BODY = 8 << 20
#: Bodies of requests without the token (paths-info, validate-yaml) being read at once, in bytes at most.
UNAUTHENTICATED_BODIES = 32 << 20


class _Handler(BaseHTTPRequestHandler):
    """Routes one request; ``self.server`` is the ``HTTPServer`` that holds storage, token and options."""

    server_version = "zoo-hub/1"
    protocol_version = "HTTP/1.1"
    timeout = 120  # an idle keep-alive connection is closed after this many seconds
    # Answers go out at once: with Nagle's algorithm, a second write waits for the client's delayed ACK
    # (about 40 ms on Linux) on a kept-alive connection.
    disable_nagle_algorithm = True

    # plumbing --------------------------------------------------------------------------------------

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.log_requests:
            super().log_message(format, *args)

    def send_response(self, code: int, message: str | None = None) -> None:
        self.responded = True
        super().send_response(code, message)

    def handle_expect_100(self) -> bool:
        # "100 Continue" is sent only once the body is wanted (self.body), that is after the token check:
        # a refused client learns it before sending anything.
        self.expect_continue = True
        return True

    def _dispatch(self, method: str) -> None:
        self.method, self.responded = method, False
        self._body: bytearray | None = None
        self.body_limit = self.server.max_api_body  # the commit route raises it to max_body
        self.expect_continue = getattr(self, "expect_continue", False)
        try:
            self._framing = None  # so that a refused header counts as an unread body
            self._framing = self._body_framing()
            url = urlsplit(self.path)
            # A revision arrives quoted as ONE segment (feat%2Fx): split first, then unquote each segment.
            # Ids are checked after decoding (storage), so a %2F or .. in a repository id never reaches a folder.
            segments = [unquote(s) for s in url.path.strip("/").split("/")]
            self.query = {k: v[-1] for k, v in parse_qs(url.query).items()}
            self._route(method, segments)
        except (ConnectionError, TimeoutError):
            self.close_connection = True
        except Exception as error:
            if self.responded:  # failed half-way through an answer: the client sees the connection drop
                self.close_connection = True
                return
            if not isinstance(error, HubError):  # a bug or a disk problem must not kill the server: 500
                print(f"hub server: {method} {self.path[:200]}: {type(error).__name__}: {error}", file=sys.stderr)
                error = HubError(500, f"internal error ({type(error).__name__}); the server's log has the details")
            self._send_error(error)
        finally:
            self.expect_continue = False
            if self._body_unread():
                # The rest of the body would be read as the next request: end the connection after the answer
                # (finish() reads and drops what is still arriving for a moment, so the client sees the answer).
                self.close_connection = True
                self.linger = True

    # request bodies --------------------------------------------------------------------------------

    def _body_framing(self) -> tuple[str, int]:
        """``("length", n)`` or ``("chunked", 0)`` from the headers, checked before anything is read."""
        encodings = [e.strip().lower() for e in ",".join(self.headers.get_all("Transfer-Encoding") or []).split(",")]
        lengths = {v.strip() for v in self.headers.get_all("Content-Length") or []}
        if encodings != [""]:
            if encodings != ["chunked"]:
                raise HubError(400, f"unsupported Transfer-Encoding {', '.join(encodings)!r}: send 'chunked' or "
                                    "a Content-Length")
            if lengths:
                raise HubError(400, "a request may not have both Transfer-Encoding and Content-Length")
            return "chunked", 0
        if not lengths:
            return "length", 0
        if len(lengths) > 1 or not next(iter(lengths)).isdigit() or not next(iter(lengths)).isascii():
            raise HubError(400, f"invalid Content-Length {', '.join(sorted(lengths))[:40]!r}: "
                                "expected one number of bytes")
        length = int(next(iter(lengths))) if len(next(iter(lengths))) <= 18 else 10**18
        if length > self.server.max_body:
            raise HubError(413, f"request body of {length:,} bytes is over this server's limit of "
                                f"{self.server.max_body:,} bytes (`zoo hub serve --max-body-mb`)")
        return "length", length

    def _body_unread(self) -> bool:
        if self._body is not None:
            return False
        return self._framing is None or self._framing[0] == "chunked" or self._framing[1] > 0

    @property
    def body(self) -> bytearray:
        """The request body, read on first use (after the route has checked the token), within ``body_limit``."""
        if self._body is None:
            kind, length = self._framing
            if length > self.body_limit:
                raise HubError(413, f"request body of {length:,} bytes is over this endpoint's limit of "
                                    f"{self.body_limit:,} bytes")
            # Without the token (only reads get this far), bodies share a small budget: many open connections
            # cannot make the server hold more than UNAUTHENTICATED_BODIES bytes of them at once.
            reserved = 0 if self._authorized() else (self.body_limit if kind == "chunked" else length)
            if not self.server.reserve(reserved):
                raise HubError(503, "too many requests are sending bodies at once: retry in a moment")
            try:
                if self.expect_continue:
                    self.expect_continue = False
                    self.send_response_only(100)
                    self.end_headers()
                self._body = self._read_chunked() if kind == "chunked" else self._read_exact(length)
            finally:
                self.server.reserve(-reserved)
        return self._body

    def _read_exact(self, length: int) -> bytearray:
        data = bytearray()
        while len(data) < length:
            piece = self.rfile.read(min(length - len(data), 1 << 20))
            if not piece:
                raise ConnectionError("the client closed the connection in the middle of its request body")
            data += piece
        return data

    def _read_chunked(self) -> bytearray:
        data = bytearray()
        while True:
            line = self.rfile.readline(1024)
            if not line:
                raise ConnectionError("the client closed the connection in the middle of its request body")
            size = line.split(b";")[0].strip()
            if not line.endswith(b"\n") or not re.fullmatch(rb"[0-9a-fA-F]{1,15}", size):
                raise HubError(400, f"invalid chunk size {bytes(size[:20])!r} in a chunked request body")
            size = int(size, 16)
            if size == 0:
                for _ in range(100):  # trailers, then the empty line
                    if self.rfile.readline(8192).strip() == b"":
                        return data
                raise HubError(400, "too many trailer lines after a chunked request body")
            if len(data) + size > self.body_limit:
                raise HubError(413, f"chunked request body over this endpoint's limit of {self.body_limit:,} bytes")
            data += self._read_exact(size)
            if self.rfile.readline(3).strip() != b"":
                raise HubError(400, "a chunk of a chunked request body is not followed by CRLF")

    def finish(self) -> None:
        super().finish()
        if getattr(self, "linger", False):  # a body left unread: see _dispatch
            _drain(self.connection, seconds=2.0)

    def _json_body(self) -> dict:
        if not self.body:
            return {}
        try:
            data = json.loads(self.body)
        except ValueError as error:
            raise HubError(400, f"request body is not valid JSON: {error}") from None
        except RecursionError:
            raise HubError(400, "request body is not valid JSON: nested too deep") from None
        if not isinstance(data, dict):
            raise HubError(400, "request body must be a JSON object")
        return data

    # answers ---------------------------------------------------------------------------------------

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None,
              content_type: str = "application/json", length: int | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self._end_headers_with(body if self.method != "HEAD" else b"")

    def _end_headers_with(self, body: bytes) -> None:
        """End the headers and send them with ``body`` in ONE write (one packet for a small answer)."""
        if self._body_unread():
            self.send_header("Connection", "close")
        if hasattr(self, "_headers_buffer"):
            self._headers_buffer.append(b"\r\n")
            if body:
                self._headers_buffer.append(body)
            self.flush_headers()
        else:  # an HTTP/0.9 request has no headers
            self.end_headers()
            self.wfile.write(body)

    def _send_json(self, data: Any, status: int = 200, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(data, default=str).encode(), headers)  # str: dates in model cards

    def _send_error(self, error: HubError) -> None:
        message = error.message
        for folder in {str(self.server.storage.root), str(self.server.storage.root.resolve())}:
            message = message.replace(folder, "<root>")  # never show where the server keeps its files
        headers = {"X-Error-Message": message.encode("latin-1", "replace").decode("latin-1")}
        if error.status == 401:
            # With any other X-Error-Message the client reports a 401 on a repository URL as "not found";
            # the explanation still reaches the user through the JSON body.
            headers["X-Error-Message"] = "Invalid credentials in Authorization header"
        if error.code:
            headers["X-Error-Code"] = error.code
        if error.commit:
            headers["X-Repo-Commit"] = error.commit
        self._send_json({"error": message}, error.status, headers)

    # auth ------------------------------------------------------------------------------------------

    def _authorized(self) -> bool:
        token = self.server.token
        if token is None:
            return True
        given = self.headers.get("Authorization", "")
        return given.startswith("Bearer ") and hmac.compare_digest(given[7:].encode(), token.encode())

    def _require_write(self) -> None:
        if not self._authorized():
            raise _Unauthorized(
                "this Hub server requires a write token: pass token=... or set HF_TOKEN to the token "
                "given to `zoo hub serve --token`"
            )

    def _repo(self, kind: str, ns: str, name: str) -> Repo:
        repo = self.server.storage.get(kind, f"{ns}/{name}")
        if repo.meta.get("private") and not self._authorized():
            raise HubError(404, f"repository {ns}/{name} ({REPO_TYPES[kind]}) not found", "RepoNotFound")
        return repo

    # routes ----------------------------------------------------------------------------------------

    def _route(self, method: str, seg: list[str]) -> None:
        if seg[0] == "api":
            return self._route_api(method, seg[1:])
        # /{ns}/{name}/resolve/{rev}/{path}, or /datasets|spaces/{ns}/{name}/resolve/...
        kind = "models"
        if seg[0] in ("datasets", "spaces") and len(seg) > 3 and seg[3] == "resolve":
            kind, seg = seg[0], seg[1:]
        if len(seg) >= 5 and seg[2] == "resolve" and method in ("GET", "HEAD"):
            return self._resolve(self._repo(kind, seg[0], seg[1]), seg[3], "/".join(seg[4:]))
        raise HubError(404, f"no such page: {method} {self.path}")

    def _route_api(self, method: str, seg: list[str]) -> None:
        simple = {
            ("GET", "whoami-v2"): self._whoami,
            ("POST", "validate-yaml"): self._validate_yaml,
            ("POST", "repos/create"): self._create_repo,
            ("DELETE", "repos/delete"): self._delete_repo,
            ("POST", "repos/move"): self._move_repo,
        }
        if (method, "/".join(seg)) in simple:
            return simple[(method, "/".join(seg))]()
        if not seg or seg[0] not in REPO_TYPES:
            raise HubError(404, f"no such API endpoint: {method} {self.path}")
        kind = seg[0]
        if len(seg) == 1 and method == "GET":
            return self._list_repos(kind)
        if len(seg) < 3:
            raise HubError(404, f"no such API endpoint: {method} {self.path}")
        action, args = (seg[3] if len(seg) > 3 else ""), seg[4:]
        if method in ("POST", "PUT", "DELETE") and action in ("preupload", "commit", "branch", "tag", "settings"):
            self._require_write()  # first: a refused client learns nothing about the repository
        repo = self._repo(kind, seg[1], seg[2])
        if method == "GET" and action == "" and not args:
            return self._info(repo, DEFAULT_BRANCH)
        if method == "GET" and action == "revision" and len(args) == 1:
            return self._info(repo, args[0])
        if method == "GET" and action == "tree" and args:
            return self._tree(repo, args[0], "/".join(args[1:]).strip("/"))
        if method == "GET" and action == "refs" and not args:
            return self._refs(repo)
        if method == "GET" and action == "commits" and len(args) == 1:
            return self._commits(repo, args[0])
        if method == "POST" and action == "paths-info" and len(args) == 1:
            return self._paths_info(repo, args[0])
        if method == "POST" and action == "preupload" and len(args) == 1:
            self._require_write()
            return self._preupload(repo, args[0])
        if method == "POST" and action == "commit" and len(args) == 1:
            self._require_write()
            self.body_limit = self.server.max_body
            return self._commit(repo, args[0])
        if method in ("POST", "DELETE") and action in ("branch", "tag") and len(args) == 1:
            self._require_write()
            return self._branch_or_tag(repo, method, action, args[0])
        if method == "PUT" and action == "settings" and not args:
            self._require_write()
            return self._settings(repo)
        raise HubError(404, f"no such API endpoint: {method} {self.path}")

    # account ---------------------------------------------------------------------------------------

    def _whoami(self) -> None:
        if self.server.token is not None and not self._authorized():
            raise _Unauthorized("invalid or missing token: set HF_TOKEN to the token given to `zoo hub serve --token`")
        self._send_json({
            "type": "user", "id": USER, "name": USER, "fullname": USER, "orgs": [],
            "auth": {"type": "access_token", "accessToken": {"displayName": USER, "role": "write"}},
        })

    def _validate_yaml(self) -> None:
        content = self._json_body().get("content", "")
        try:
            front_matter(content if isinstance(content, str) else "")
        except Exception as error:  # yaml.YAMLError, reported the way the Hub does
            message = f"invalid YAML metadata in README.md: {' '.join(str(error).split())}"
            return self._send_json({"error": message, "errors": [{"message": message}], "warnings": []}, 400)
        self._send_json({"errors": [], "warnings": []})

    # repositories ----------------------------------------------------------------------------------

    def _repo_kind_and_id(self, body: dict) -> tuple[str, str]:
        kind = f"{body.get('type') or 'model'}s"
        if kind not in REPO_TYPES:
            raise HubError(400, f"unknown repository type {body.get('type')!r}: use model, dataset or space")
        name, org = body.get("name"), body.get("organization") or USER
        if not isinstance(name, str) or not isinstance(org, str):
            raise HubError(400, "the request needs a repository 'name' (and an 'organization')")
        return kind, f"{org}/{name}"

    def _repo_url(self, kind: str, repo_id: str) -> str:
        prefix = "" if kind == "models" else f"{kind}/"
        return f"{self.server.base_url(self.headers.get('Host'))}/{prefix}{repo_id}"

    def _create_repo(self) -> None:
        self._require_write()
        body = self._json_body()
        kind, repo_id = self._repo_kind_and_id(body)
        private = bool(body.get("private")) or body.get("visibility") == "private"
        url = self._repo_url(kind, repo_id)
        try:
            self.server.storage.create(kind, repo_id, private=private)
        except HubError as error:
            if error.status != 409:
                raise
            # The client reads "url" from the 409 answer when exist_ok=True.
            return self._send_json({"error": error.message, "url": url}, 409)
        self._send_json({"url": url, "name": repo_id, "id": repo_id})

    def _delete_repo(self) -> None:
        self._require_write()
        kind, repo_id = self._repo_kind_and_id(self._json_body())
        self.server.storage.delete(kind, repo_id)
        self._send_json({})

    def _move_repo(self) -> None:
        self._require_write()
        body = self._json_body()
        old, new = body.get("fromRepo"), body.get("toRepo")
        if not isinstance(old, str) or not isinstance(new, str):
            raise HubError(400, "the request needs 'fromRepo' and 'toRepo' (namespace/name)")
        kind, _ = self._repo_kind_and_id({"type": body.get("type"), "name": "x"})
        self.server.storage.move(kind, old, new)
        self._send_json({})

    def _settings(self, repo: Repo) -> None:
        body = self._json_body()
        if "private" in body or "visibility" in body:
            self.server.storage.set_private(repo, bool(body.get("private")) or body.get("visibility") == "private")
        self._send_json({})

    def _summary(self, repo: Repo, sha: str) -> dict:
        """The fields every repository listing shares."""
        meta, commit = repo.meta, repo.commit(sha)
        data = {
            "_id": repo.repo_id, "id": repo.repo_id, "author": repo.repo_id.split("/")[0], "sha": sha,
            "lastModified": commit["date"], "createdAt": meta["createdAt"], "private": meta["private"],
            "disabled": False, "gated": False, "downloads": 0, "likes": 0, "tags": [],
        }
        if repo.kind == "models":
            data["modelId"] = repo.repo_id
        return data

    def _list_repos(self, kind: str) -> None:
        author, search = self.query.get("author"), (self.query.get("search") or "").lower()
        limit = int(self.query["limit"]) if self.query.get("limit", "").isdigit() else None
        out = []
        for repo in self.server.storage.list(kind):
            if (author and repo.repo_id.split("/")[0] != author) or search not in repo.repo_id.lower():
                continue
            if repo.meta.get("private") and not self._authorized():
                continue
            out.append(self._summary(repo, repo.resolve(DEFAULT_BRANCH)))
        self._send_json(out[:limit])

    def _info(self, repo: Repo, revision: str) -> None:
        sha = repo.resolve(revision)
        files = repo.files(sha)
        data = self._summary(repo, sha)
        with_blobs = self.query.get("blobs", "").lower() in ("1", "true")
        data["siblings"] = [
            {"rfilename": p, **({"size": f["size"], "blobId": f["oid"]} if with_blobs else {})}
            for p, f in sorted(files.items())
        ]
        if "README.md" in files:  # model card metadata, as the Hub reports it
            try:
                with open(repo.blob_path(files["README.md"]["oid"]), "rb") as f:
                    card = front_matter(f.read(MAX_CARD_BYTES).decode(errors="replace"))
                # keys that are not plain (dates, ...) are dropped: the answer must be valid JSON
                card = json.loads(json.dumps(card, default=str, skipkeys=True)) if card else None
            except Exception:  # a broken (or over-large: hub.bounded_yaml) card must not break model_info
                card = None
            if card:
                data["cardData"] = card
                tags = card.get("tags")
                data["tags"] = [str(t) for t in tags] if isinstance(tags, list) else []
                for key in ("library_name", "pipeline_tag"):
                    if isinstance(card.get(key), str):
                        data[key] = card[key]
        self._send_json(data)

    # trees -----------------------------------------------------------------------------------------

    @staticmethod
    def _file_entry(path: str, f: dict) -> dict:
        return {"type": "file", "oid": f["oid"], "size": f["size"], "path": path}

    @staticmethod
    def _folder_entry(path: str, files: dict[str, dict]) -> dict:
        inside = sorted((p, f["oid"]) for p, f in files.items() if p.startswith(path + "/"))
        oid = hashlib.sha1("".join(f"{p} {o}\n" for p, o in inside).encode()).hexdigest()
        return {"type": "directory", "oid": oid, "size": 0, "path": path}

    @staticmethod
    def _folders(files: dict[str, dict]) -> set[str]:
        return {p.rsplit("/", i)[0] for p in files for i in range(1, p.count("/") + 1)}

    def _tree(self, repo: Repo, revision: str, path: str) -> None:
        sha = repo.resolve(revision)
        files = repo.files(sha)
        folders = self._folders(files)
        if path and path not in folders:
            raise HubError(404, f"folder {path!r} not found at {revision}", "EntryNotFound", sha)
        prefix = path + "/" if path else ""
        recursive = self.query.get("recursive", "").lower() in ("1", "true")
        entries = []
        for p in sorted(folders | set(files)):
            if not p.startswith(prefix) or (not recursive and "/" in p[len(prefix):]):
                continue
            entries.append(self._file_entry(p, files[p]) if p in files else self._folder_entry(p, files))
        self._send_json(entries)

    def _paths_info(self, repo: Repo, revision: str) -> None:
        sha = repo.resolve(revision)
        files = repo.files(sha)
        folders = self._folders(files)
        if "json" in self.headers.get("Content-Type", ""):
            paths = self._json_body().get("paths", [])
        else:
            try:
                paths = parse_qs(self.body.decode(), strict_parsing=bool(self.body), errors="strict",
                                 max_num_fields=10_000).get("paths", [])
            except (UnicodeDecodeError, ValueError):
                raise HubError(400, "paths-info: the form body is not valid UTF-8 'paths=...&paths=...'") from None
        paths = [paths] if isinstance(paths, str) else paths
        if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
            raise HubError(400, "paths-info needs 'paths': a list of file or folder paths")
        entries = []
        for p in paths:
            p = p.strip("/")
            if p in files:
                entries.append(self._file_entry(p, files[p]))
            elif p in folders:
                entries.append(self._folder_entry(p, files))
        self._send_json(entries)

    # history and refs ------------------------------------------------------------------------------

    def _refs(self, repo: Repo) -> None:
        refs = repo.refs()
        data = {
            "branches": [{"name": n, "ref": f"refs/heads/{n}", "targetCommit": s}
                         for n, s in sorted(refs["branches"].items())],
            "converts": [],
            "tags": [{"name": n, "ref": f"refs/tags/{n}", "targetCommit": s} for n, s in sorted(refs["tags"].items())],
        }
        if self.query.get("include_prs"):
            data["pullRequests"] = []
        self._send_json(data)

    def _commits(self, repo: Repo, revision: str) -> None:
        self._send_json([
            {"id": sha, "title": c["title"], "message": c["message"], "authors": [{"user": c["author"]}],
             "date": c["date"]}
            for sha, c in repo.history(repo.resolve(revision))
        ])

    def _branch_or_tag(self, repo: Repo, method: str, action: str, name: str) -> None:
        storage, body = self.server.storage, self._json_body()
        if action == "branch" and method == "POST":
            start = body.get("startingPoint")
            sha = repo.resolve(start if isinstance(start, str) and start else DEFAULT_BRANCH)
            if body.get("emptyBranch"):
                with storage.lock:
                    sha = repo.store_commit({}, [], "empty branch", "")
            storage.set_ref(repo, "branches", check_ref_name(name), sha)
        elif action == "branch":
            if name == DEFAULT_BRANCH:
                raise HubError(400, f"the default branch {DEFAULT_BRANCH!r} cannot be deleted")
            storage.set_ref(repo, "branches", name, None)
        elif method == "POST":  # POST /tag/{revision} {"tag": name}
            tag = body.get("tag")
            if not isinstance(tag, str):
                raise HubError(400, "the request needs the new tag's name: {\"tag\": ...}")
            storage.set_ref(repo, "tags", check_ref_name(tag), repo.resolve(name))
        else:
            storage.set_ref(repo, "tags", name, None)
        self._send_json({})

    # uploads ---------------------------------------------------------------------------------------

    def _preupload(self, repo: Repo, revision: str) -> None:
        try:
            files = repo.files(repo.resolve(revision))
        except HubError:
            files = {}  # a branch that does not exist yet: every file is new
        out = []
        items = self._json_body().get("files", [])
        if not isinstance(items, list) or not all(isinstance(i, dict) and isinstance(i.get("path"), str)
                                                  for i in items):
            raise HubError(400, "the request needs 'files': a list of {\"path\": ...} objects")
        for item in items:
            path = check_path(item["path"])
            # Always "regular": "lfs" would send the client to LFS/Xet endpoints this server does not have.
            out.append({"path": path, "uploadMode": "regular", "shouldIgnore": False,
                        "oid": files.get(path, {}).get("oid")})
        self._send_json({"files": out})

    def _commit(self, repo: Repo, revision: str) -> None:
        if self.query.get("create_pr", "") in ("1", "true", "True"):
            raise HubError(400, "pull requests are not supported by this server: commit to a branch")
        branch = revision[len("refs/heads/"):] if revision.startswith("refs/heads/") else revision
        if branch not in repo.refs()["branches"]:
            repo.resolve(revision)  # 404 RevisionNotFound if it is nothing at all
            raise HubError(400, f"{revision!r} is not a branch: commits go to a branch")
        header, operations = None, []
        for number, line in enumerate(self.body.splitlines(), 1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except (ValueError, RecursionError):
                item = None
            if not isinstance(item, dict) or "key" not in item or not isinstance(item.get("value"), dict):
                raise HubError(400, f"commit payload line {number} is not a {{'key': ..., 'value': {{...}}}} "
                                    "JSON object")
            key, value = item["key"], item["value"]
            if key in ("file", "deletedFile", "deletedFolder") and not isinstance(value.get("path"), str):
                raise HubError(400, f"commit payload line {number}: 'path' must be a string")
            if key == "header":
                header = value
            elif key == "file":
                if value.get("encoding", "base64") != "base64":
                    raise HubError(400, f"file {value['path'][:80]!r}: only base64 encoding is supported")
                try:
                    data = base64.b64decode(value["content"], validate=True)
                except (binascii.Error, KeyError, TypeError):
                    raise HubError(400, f"file {value['path'][:80]!r}: content is not valid base64") from None
                operations.append(("file", check_path(value["path"]), data))
            elif key in ("deletedFile", "deletedFolder"):
                operations.append((key, check_path(value["path"].rstrip("/")), None))
            elif key == "lfsFile":
                raise HubError(400, "this server stores regular files only: Git LFS uploads are not supported")
            else:
                raise HubError(400, f"commit payload line {number}: unknown key {str(key)[:40]!r}")
        if not isinstance(header, dict) or not isinstance(header.get("summary", ""), str):
            raise HubError(400, "commit payload needs a header line with a 'summary'")
        if header.get("parentCommit") is not None and not isinstance(header["parentCommit"], str):
            raise HubError(400, "commit payload: 'parentCommit' must be a commit sha")
        sha = self.server.storage.commit(
            repo, branch, operations,
            title=header.get("summary") or "Upload files",
            message=str(header.get("description") or ""),
            parent=header.get("parentCommit"),
        )
        self._send_json({
            "success": True, "commitOid": sha, "commitUrl": f"{self._repo_url(repo.kind, repo.repo_id)}/commit/{sha}",
            "hookOutput": "", "pullRequestUrl": None,
        })

    # downloads -------------------------------------------------------------------------------------

    def _resolve(self, repo: Repo, revision: str, path: str) -> None:
        sha = repo.resolve(revision)
        entry = repo.files(sha).get(path)
        if entry is None:
            raise HubError(404, f"file {path!r} not found in {repo.repo_id} at {revision}", "EntryNotFound", sha)
        size = entry["size"]
        headers = {"X-Repo-Commit": sha, "ETag": f'"{entry["oid"]}"', "Accept-Ranges": "bytes"}
        start, end = 0, size - 1
        status = 200
        ranged = self._parse_range(self.headers.get("Range"), size)
        if ranged == "unsatisfiable":
            self._send(416, b"", {**headers, "Content-Range": f"bytes */{size}"}, "application/octet-stream")
            return
        if ranged is not None:
            (start, end), status = ranged, 206
            headers["Content-Range"] = f"bytes {start}-{end}/{size}"
        length = max(end - start + 1, 0)
        if self.method == "HEAD" or length == 0:
            self._send(status, b"", headers, "application/octet-stream", length)
            return
        with open(repo.blob_path(entry["oid"]), "rb") as f:
            if length <= SMALL_FILE:  # headers and content in one write
                f.seek(start)
                return self._send(status, f.read(length), headers, "application/octet-stream")
            self.send_response(status)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(length))
            for key, value in headers.items():
                self.send_header(key, value)
            self._end_headers_with(b"")
            self.connection.sendfile(f, start, length)  # the kernel copies the file to the socket

    @staticmethod
    def _parse_range(header: str | None, size: int) -> tuple[int, int] | str | None:
        """``bytes=a-b`` / ``bytes=a-`` / ``bytes=-n`` -> (first, last); None to send the whole file."""
        match = re.fullmatch(r"\s*bytes=(\d*)-(\d*)\s*", header or "")
        if match is None or match.groups() == ("", ""):
            return None  # absent, or several ranges: answer with the whole file (allowed by RFC 9110)
        first, last = match.groups()
        if first == "":
            start, end = max(size - int(last), 0), size - 1
        else:
            start, end = int(first), min(int(last), size - 1) if last else size - 1
        if start >= size or start > end:
            return "unsatisfiable"
        return start, end


class _Unauthorized(HubError):
    """401: a write without the server's token."""

    def __init__(self, message: str):
        super().__init__(401, message)


class HTTPServer(ThreadingHTTPServer):
    """One thread per connection; keeps the storage, the token and the open connections (to close on stop)."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], storage: Storage, token: str | None, log_requests: bool,
                 max_body: int = DEFAULT_MAX_BODY):
        self.storage, self.token, self.log_requests = storage, token, log_requests
        self.max_body = max_body  # a commit's body (its files, base64) at most
        self.max_api_body = min(max_body, MAX_API_BODY)  # any other request's JSON at most
        self._reserved, self._reserved_lock = 0, threading.Lock()
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _Handler)

    def reserve(self, size: int) -> bool:
        """Book ``size`` bytes of the unauthenticated body budget (negative: give back); False if it is spent."""
        with self._reserved_lock:
            if size > 0 and self._reserved + size > UNAUTHENTICATED_BODIES:
                return False
            self._reserved += size
            return True

    def process_request(self, request: socket.socket, client_address: Any) -> None:
        with self.connections_lock:
            self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: socket.socket) -> None:
        with self.connections_lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """End the kept-alive connections too, so that a stopped server answers nothing at all."""
        with self.connections_lock:
            for connection in self.connections:
                try:
                    connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def base_url(self, host_header: str | None = None) -> str:
        """The URL clients use: from their Host header (as they see us), else our own address."""
        if host_header:
            return f"http://{host_header}"
        host, port = self.server_address[:2]
        return f"http://{'[' + host + ']' if ':' in host else host}:{port}"
