"""A Hugging Face Hub-compatible HTTP server backed by a directory (``zoo hub serve``).

It speaks the regular-file part of the Hub protocol that the ``huggingface_hub`` client uses
(``/work/shared/hub-conformance/PROTOCOL.md``): repositories with real commit history, branches, tags and
revision pinning; every file is uploaded inline (base64 in the commit), so there is no Git LFS and no Xet.
It is meant for offline and self-hosted use and for tests; only the standard library is needed.

Storage (one folder per repository, ``ROOT/{models,datasets,spaces}/NS/NAME/``)::

    repo.json          {"id", "type", "private", "createdAt"}
    refs.json          {"branches": {name: commit}, "tags": {name: commit}}   <- the only mutable file
    blobs/ab/cdef...   file contents, named by their git blob sha1 (what the client checks as ETag / oid)
    commits/SHA.json   {"parents", "title", "message", "author", "date", "files": {path: {"oid", "size"}}}

A commit writes its blobs and its commit file first and then replaces ``refs.json`` atomically
(``os.replace``), so a failed or interrupted commit leaves the repository at its previous commit.
A commit's id is the sha1 of its JSON record. Writes are serialised by one lock; reads take no lock.

Python use::

    with HubServer("hub-data", seed="shared/fixtures/sb3-zoo-agents") as server:
        hf_hub_download("sb3/ppo-CartPole-v1", "ppo-CartPole-v1.zip", endpoint=server.url)
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import re
import shutil
import sys
import threading
import uuid
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterable
from urllib.parse import parse_qs, unquote, urlsplit

#: URL segment of each repository type -> the type's name in request bodies (``"type": "dataset"``).
REPO_TYPES = {"models": "model", "datasets": "dataset", "spaces": "space"}
#: The one user of this server, as ``whoami`` reports it and as commit author.
USER = "local"
DEFAULT_BRANCH = "main"
#: The first commit of a repository made by ``create_repo`` holds this ``.gitattributes`` (as on the Hub).
GITATTRIBUTES = b"# Served by `zoo hub serve`: every file is stored as a regular file (no Git LFS).\n"

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,95}")
_REF_NAME = re.compile(r"[A-Za-z0-9._][A-Za-z0-9._/-]{0,199}")
_HEX = re.compile(r"[0-9a-f]{4,40}")


# --------------------------------------------------------------------------------------------- helpers


class HubError(Exception):
    """An HTTP error answer: status, one-line message, and the ``X-Error-Code`` the client recognises."""

    def __init__(self, status: int, message: str, code: str | None = None, commit: str | None = None):
        super().__init__(message)
        self.status, self.message, self.code, self.commit = status, message, code, commit


def git_blob_oid(data: bytes) -> str:
    """The git blob sha1 of ``data`` (what ``git hash-object`` prints), used as file id and ETag."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def now_iso() -> str:
    """The current UTC time in the Hub's format, ``2024-01-31T12:00:00.000Z``."""
    now = datetime.now(timezone.utc)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the complete new one, never a part."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def check_repo_id(repo_id: str) -> None:
    """Refuse repository ids that are not ``namespace/name`` with plain characters."""
    parts = repo_id.split("/")
    if len(parts) != 2 or not all(_NAME.fullmatch(p) and ".." not in p for p in parts):
        raise HubError(400, f"invalid repository id {repo_id!r}: expected 'namespace/name' (letters, digits, . _ -)")


def check_path(path: str) -> str:
    """Refuse file paths that could leave the repository or that git could not store."""
    parts = path.split("/")
    if not path or "\\" in path or "\0" in path or any(p in ("", ".", "..", ".git") for p in parts):
        raise HubError(400, f"invalid file path {path!r}: use a relative path like 'dir/file.txt'")
    return path


def check_ref_name(name: str) -> str:
    if not _REF_NAME.fullmatch(name) or ".." in name or name.endswith(("/", ".lock")) or "//" in name:
        raise HubError(400, f"invalid branch or tag name {name!r}")
    return name


def front_matter(text: str) -> dict | None:
    """The YAML metadata block at the top of a README.md (``---`` ... ``---``), or None if there is none."""
    match = re.match(r"\A---\s*\n(.*?)\n---\s*(\n|\Z)", text, re.DOTALL)
    if match is None:
        return None
    import yaml  # a project dependency; imported here so `zoo --help` stays instant

    data = yaml.safe_load(match.group(1))
    return data if isinstance(data, dict) else {}


# --------------------------------------------------------------------------------------------- storage


class Repo:
    """One repository on disk (see the module docstring for the layout)."""

    def __init__(self, path: Path, kind: str, repo_id: str):
        self.path, self.kind, self.repo_id = path, kind, repo_id

    @property
    def meta(self) -> dict:
        return json.loads((self.path / "repo.json").read_text())

    def refs(self) -> dict[str, dict[str, str]]:
        return json.loads((self.path / "refs.json").read_text())

    def write_refs(self, refs: dict) -> None:
        write_atomic(self.path / "refs.json", json.dumps(refs, indent=1, sort_keys=True).encode())

    # reading ---------------------------------------------------------------------------------------

    def resolve(self, revision: str) -> str:
        """Branch, tag, full or short (>= 4 hex digits) commit sha -> full commit sha."""
        refs = self.refs()
        for prefix, table in (("", "branches"), ("", "tags"), ("refs/heads/", "branches"), ("refs/tags/", "tags")):
            if revision.startswith(prefix) and revision[len(prefix):] in refs[table]:
                return refs[table][revision[len(prefix):]]
        if _HEX.fullmatch(revision):
            if len(revision) == 40 and (self.path / "commits" / f"{revision}.json").exists():
                return revision
            matches = [p.stem for p in (self.path / "commits").glob(f"{revision}*.json")]
            if len(matches) == 1:
                return matches[0]
        raise HubError(404, f"revision {revision!r} not found in {self.repo_id}", "RevisionNotFound")

    def commit(self, sha: str) -> dict:
        return json.loads((self.path / "commits" / f"{sha}.json").read_text())

    def files(self, sha: str) -> dict[str, dict]:
        """``{path: {"oid", "size"}}`` of every file at commit ``sha``."""
        return self.commit(sha)["files"]

    def blob_path(self, oid: str) -> Path:
        return self.path / "blobs" / oid[:2] / oid[2:]

    def history(self, sha: str) -> list[tuple[str, dict]]:
        """``(sha, commit)`` from ``sha`` back to the first commit, newest first (first parents)."""
        out = []
        while True:
            record = self.commit(sha)
            out.append((sha, record))
            if not record["parents"]:
                return out
            sha = record["parents"][0]

    # writing (the caller holds the storage lock) ---------------------------------------------------

    def store_blob(self, data: bytes) -> str:
        oid = git_blob_oid(data)
        path = self.blob_path(oid)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(path, data)
        return oid

    def store_commit(self, files: dict[str, dict], parents: list[str], title: str, message: str) -> str:
        record = {
            "parents": parents,
            "title": title,
            "message": message,
            "author": USER,
            "date": now_iso(),
            "files": dict(sorted(files.items())),
        }
        data = json.dumps(record, indent=1).encode()
        sha = hashlib.sha1(b"commit\n" + data).hexdigest()
        write_atomic(self.path / "commits" / f"{sha}.json", data)
        return sha


class Storage:
    """All repositories under ``root``; creation, deletion and every ref update happen under one lock."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.tmp = self.root / ".tmp"
        self.tmp.mkdir(exist_ok=True)
        self.lock = threading.RLock()

    def _path(self, kind: str, repo_id: str) -> Path:
        return self.root / kind / repo_id

    def get(self, kind: str, repo_id: str) -> Repo:
        path = self._path(kind, repo_id)
        if not (path / "refs.json").is_file():
            raise HubError(404, f"repository {repo_id} ({REPO_TYPES[kind]}) not found", "RepoNotFound")
        return Repo(path, kind, repo_id)

    def list(self, kind: str) -> list[Repo]:
        found = sorted((self.root / kind).glob("*/*/refs.json"))
        return [Repo(p.parent, kind, f"{p.parent.parent.name}/{p.parent.name}") for p in found]

    def create(
        self,
        kind: str,
        repo_id: str,
        private: bool = False,
        files: dict[str, bytes] | None = None,
        title: str = "initial commit",
    ) -> Repo:
        """Create a repository whose first commit holds ``files`` (default: a ``.gitattributes``)."""
        check_repo_id(repo_id)
        files = {".gitattributes": GITATTRIBUTES} if files is None else files
        with self.lock:
            final = self._path(kind, repo_id)
            if final.exists():
                raise HubError(409, f"repository {repo_id} already exists")
            # Built in a temp folder and renamed into place: a repository exists completely or not at all.
            staging = Repo(self.tmp / uuid.uuid4().hex, kind, repo_id)
            try:
                (staging.path / "commits").mkdir(parents=True)
                meta = {"id": repo_id, "type": REPO_TYPES[kind], "private": bool(private), "createdAt": now_iso()}
                write_atomic(staging.path / "repo.json", json.dumps(meta, indent=1).encode())
                tree = {check_path(p): {"oid": staging.store_blob(d), "size": len(d)} for p, d in files.items()}
                sha = staging.store_commit(tree, [], title, "")
                staging.write_refs({"branches": {DEFAULT_BRANCH: sha}, "tags": {}})
                final.parent.mkdir(parents=True, exist_ok=True)
                os.rename(staging.path, final)
            finally:
                shutil.rmtree(staging.path, ignore_errors=True)
        return Repo(final, kind, repo_id)

    def delete(self, kind: str, repo_id: str) -> None:
        with self.lock:
            repo = self.get(kind, repo_id)
            trash = self.tmp / uuid.uuid4().hex
            os.rename(repo.path, trash)  # gone for readers at once; the files go after
        shutil.rmtree(trash, ignore_errors=True)

    def seed(self, folder: str | os.PathLike) -> list[str]:
        """Turn each ``folder/ORG/NAME/`` into model repository ``ORG/NAME`` with one initial commit.

        Repositories that already exist are left alone; the seed folder is only read.
        Returns the ids of the repositories created.
        """
        folder = Path(folder)
        if not folder.is_dir():
            raise ValueError(f"seed folder not found: {folder}")
        created = []
        for repo_dir in sorted(p for p in folder.glob("*/*") if p.is_dir()):
            repo_id = f"{repo_dir.parent.name}/{repo_dir.name}"
            if repo_id.startswith(".") or repo_dir.name.startswith(".") or self._path("models", repo_id).exists():
                continue
            files = {
                f.relative_to(repo_dir).as_posix(): f.read_bytes()
                for f in sorted(repo_dir.rglob("*"))
                if f.is_file() and ".git" not in f.relative_to(repo_dir).parts
            }
            try:
                self.create("models", repo_id, files=files, title=f"Seed {repo_id} from {folder.name}")
            except HubError as error:
                raise ValueError(f"cannot seed from {repo_dir}: {error.message}") from None
            created.append(repo_id)
        return created

    # changes to an existing repository -------------------------------------------------------------

    def commit(
        self,
        repo: Repo,
        branch: str,
        operations: Iterable[tuple[str, str, bytes | None]],
        title: str,
        message: str = "",
        parent: str | None = None,
    ) -> str:
        """Apply ``(key, path, data)`` operations (``file``, ``deletedFile``, ``deletedFolder``) on ``branch``.

        ``parent``, when given, must be the branch's head (else 412). Returns the new commit's sha.
        """
        with self.lock:
            refs = repo.refs()
            if branch not in refs["branches"]:
                raise HubError(404, f"branch {branch!r} not found in {repo.repo_id}", "RevisionNotFound")
            head = refs["branches"][branch]
            if parent is not None and parent != head:
                raise HubError(412, f"parent commit {parent} is not the head of {branch} ({head}): pull and retry")
            files = dict(repo.files(head))
            for key, path, data in operations:
                if key == "file":
                    files[path] = {"oid": repo.store_blob(data), "size": len(data)}
                elif key == "deletedFile":
                    if files.pop(path, None) is None:
                        raise HubError(404, f"cannot delete {path!r}: no such file", "EntryNotFound", head)
                else:  # deletedFolder
                    prefix = path.rstrip("/") + "/"
                    doomed = [p for p in files if p.startswith(prefix)]
                    if not doomed:
                        raise HubError(404, f"cannot delete folder {path!r}: no such folder", "EntryNotFound", head)
                    for p in doomed:
                        del files[p]
            sha = repo.store_commit(files, [head], title, message)
            refs["branches"][branch] = sha
            repo.write_refs(refs)  # the one step that makes the commit visible
        return sha

    def set_ref(self, repo: Repo, table: str, name: str, sha: str | None, exist_ok: bool = False) -> None:
        """Create (``sha``) or delete (``None``) branch or tag ``name``; 409 if it exists, 404 if missing."""
        with self.lock:
            refs = repo.refs()
            if sha is None:
                if name not in refs[table]:
                    raise HubError(404, f"{table[:-1] if table == 'tags' else 'branch'} {name!r} not found",
                                   "RevisionNotFound")
                del refs[table][name]
            else:
                if name in refs["branches"] or name in refs["tags"]:
                    raise HubError(409, f"a branch or tag named {name!r} already exists in {repo.repo_id}")
                refs[table][name] = sha
            repo.write_refs(refs)

    def set_private(self, repo: Repo, private: bool) -> None:
        with self.lock:
            meta = repo.meta
            meta["private"] = bool(private)
            write_atomic(repo.path / "repo.json", json.dumps(meta, indent=1).encode())


# --------------------------------------------------------------------------------------------- HTTP


class _Handler(BaseHTTPRequestHandler):
    """Routes one request; ``self.server`` is the ``_HTTPServer`` that holds storage, token and options."""

    server_version = "zoo-hub/1"
    protocol_version = "HTTP/1.1"
    timeout = 120  # an idle keep-alive connection is closed after this many seconds

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

    def _dispatch(self, method: str) -> None:
        self.method = method
        try:
            self.body = self._read_body()
            url = urlsplit(self.path)
            # A revision arrives quoted as ONE segment (feat%2Fx): split first, then unquote each segment.
            segments = [unquote(s) for s in url.path.strip("/").split("/")]
            self.query = {k: v[-1] for k, v in parse_qs(url.query).items()}
            self._route(method, segments)
        except HubError as error:
            self._send_error(error)
        except (ConnectionError, TimeoutError):
            self.close_connection = True
        except Exception as error:  # a bug here must not kill the server: 500 with the reason
            print(f"hub server: {method} {self.path}: {type(error).__name__}: {error}", file=sys.stderr)
            self._send_error(HubError(500, f"internal error: {type(error).__name__}: {error}"))

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline().strip():  # trailers
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _json_body(self) -> dict:
        if not self.body:
            return {}
        try:
            data = json.loads(self.body)
        except ValueError as error:
            raise HubError(400, f"request body is not valid JSON: {error}") from None
        if not isinstance(data, dict):
            raise HubError(400, "request body must be a JSON object")
        return data

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None,
              content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.method != "HEAD":
            self.wfile.write(body)

    def _send_json(self, data: Any, status: int = 200, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(data).encode(), headers)

    def _send_error(self, error: HubError) -> None:
        headers = {"X-Error-Message": error.message.encode("latin-1", "replace").decode("latin-1")}
        if error.status == 401:
            # With any other X-Error-Message the client reports a 401 on a repository URL as "not found";
            # the explanation still reaches the user through the JSON body.
            headers["X-Error-Message"] = "Invalid credentials in Authorization header"
        if error.code:
            headers["X-Error-Code"] = error.code
        if error.commit:
            headers["X-Repo-Commit"] = error.commit
        self._send_json({"error": error.message}, error.status, headers)

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
        repo = self._repo(kind, seg[1], seg[2])
        action, args = (seg[3] if len(seg) > 3 else ""), seg[4:]
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
                card = front_matter(repo.blob_path(files["README.md"]["oid"]).read_text(errors="replace"))
            except Exception:  # a broken card must not break model_info
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
            paths = parse_qs(self.body.decode()).get("paths", [])
        entries = []
        for p in ([paths] if isinstance(paths, str) else paths):
            p = str(p).strip("/")
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
            sha = repo.resolve(start if isinstance(start, str) else DEFAULT_BRANCH)
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
        for item in self._json_body().get("files", []):
            path = check_path(str(item.get("path", "")))
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
                key, value = item["key"], item["value"]
            except (ValueError, KeyError, TypeError):
                raise HubError(400, f"commit payload line {number} is not a {{'key', 'value'}} JSON object") from None
            if key == "header":
                header = value
            elif key == "file":
                if value.get("encoding", "base64") != "base64":
                    raise HubError(400, f"file {value.get('path')!r}: only base64 encoding is supported")
                try:
                    data = base64.b64decode(value["content"], validate=True)
                except (binascii.Error, KeyError, TypeError):
                    raise HubError(400, f"file {value.get('path')!r}: content is not valid base64") from None
                operations.append(("file", check_path(str(value.get("path", ""))), data))
            elif key in ("deletedFile", "deletedFolder"):
                operations.append((key, check_path(str(value.get("path", "")).rstrip("/")), None))
            elif key == "lfsFile":
                raise HubError(400, "this server stores regular files only: Git LFS uploads are not supported")
            else:
                raise HubError(400, f"commit payload line {number}: unknown key {key!r}")
        if not isinstance(header, dict) or not isinstance(header.get("summary", ""), str):
            raise HubError(400, "commit payload needs a header line with a 'summary'")
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
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(max(end - start + 1, 0)))
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        if self.method == "HEAD" or size == 0:
            return
        with open(repo.blob_path(entry["oid"]), "rb") as f:
            f.seek(start)
            left = end - start + 1
            while left > 0:
                chunk = f.read(min(left, 1 << 20))
                if not chunk:
                    break
                self.wfile.write(chunk)
                left -= len(chunk)

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


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], storage: Storage, token: str | None, log_requests: bool):
        self.storage, self.token, self.log_requests = storage, token, log_requests
        super().__init__(address, _Handler)

    def base_url(self, host_header: str | None = None) -> str:
        """The URL clients use: from their Host header (as they see us), else our own address."""
        if host_header:
            return f"http://{host_header}"
        host, port = self.server_address[:2]
        return f"http://{'[' + host + ']' if ':' in host else host}:{port}"


# --------------------------------------------------------------------------------------------- API


class HubServer:
    """A Hub-compatible server over the folder ``root``; serves in a background thread or in the foreground.

    Args:
        root: folder that holds the repositories (created if missing).
        host: address to listen on; the default, loopback, is reachable from this machine only.
        port: TCP port; 0 picks a free one (read it back from ``.port`` / ``.url``).
        token: if set, every write (create/delete repo, upload, branch, tag) needs
            ``Authorization: Bearer <token>``; reads stay open except for private repositories.
        seed: folder laid out as ``ORG/NAME/files``: each ``ORG/NAME`` not yet in ``root`` becomes a model
            repository with one initial commit. The folder is only read.
        log_requests: print one line per request on stderr.

    Use ``with HubServer(root) as server:`` (or ``.start()`` / ``.stop()``) for a background server,
    ``.serve_forever()`` to serve in the calling thread until ``.stop()`` or Ctrl-C.
    """

    def __init__(
        self,
        root: str | os.PathLike,
        host: str = "127.0.0.1",
        port: int = 0,
        token: str | None = None,
        seed: str | os.PathLike | None = None,
        log_requests: bool = False,
    ):
        self.root = Path(root)
        self.host, self.requested_port, self.token, self.log_requests = host, port, token or None, log_requests
        self.storage = Storage(self.root)
        self.seeded = self.storage.seed(seed) if seed is not None else []
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    def bind(self) -> HubServer:
        """Open the listening socket (raises OSError if the port is taken)."""
        if self._httpd is None:
            self._httpd = _HTTPServer((self.host, self.requested_port), self.storage, self.token, self.log_requests)
        return self

    @property
    def port(self) -> int:
        return self.bind()._httpd.server_address[1]

    @property
    def url(self) -> str:
        return self.bind()._httpd.base_url()

    def start(self) -> HubServer:
        """Serve in a daemon thread; returns self."""
        self.bind()
        if self._thread is None:
            self._thread = threading.Thread(target=self._httpd.serve_forever, name="hub-server", daemon=True)
            self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in this thread until ``stop()`` is called from another thread (or an exception, e.g. Ctrl-C)."""
        self.bind()._httpd.serve_forever()

    def stop(self) -> None:
        """Stop serving and close the socket; the data stays in ``root``."""
        if self._httpd is not None:
            if self._thread is not None:
                self._httpd.shutdown()
                self._thread.join()
            self._httpd.server_close()
        self._httpd, self._thread = None, None

    def __enter__(self) -> HubServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
