"""Storage of the Hub server: repositories as folders of blobs, commit records and refs.

Layout (one folder per repository, ``ROOT/{models,datasets,spaces}/NS/NAME/``)::

    repo.json          {"id", "type", "private", "createdAt"}
    refs.json          {"branches": {name: commit}, "tags": {name: commit}}   <- the only mutable file
    blobs/ab/cdef...   file contents, named by their git blob sha1 (what the client checks as ETag / oid)
    commits/SHA.json   {"parents", "title", "message", "author", "date", "files": {path: {"oid", "size"}}}

A commit writes its blobs and its commit file first and then replaces ``refs.json`` atomically
(``os.replace``), so a failed or interrupted commit leaves the repository at its previous commit.
A commit's id is the sha1 of its JSON record. Writes are serialised by one lock; reads take no lock.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import threading
import uuid
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable, Iterator

try:
    import fcntl
except ImportError:  # not POSIX: no lock (documented: one server per root is then up to the user)
    fcntl = None

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
#: Longest file or folder name, and longest path, in bytes (what common file systems allow).
MAX_NAME_BYTES, MAX_PATH_BYTES = 255, 4096
#: How much of a README.md is read for its metadata.
MAX_CARD_BYTES = 1 << 20


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


def check_repo_id(repo_id: str) -> str:
    """Refuse repository ids that are not ``namespace/name`` with plain characters (checked after URL-decoding)."""
    parts = repo_id.split("/") if isinstance(repo_id, str) else []
    if len(parts) != 2 or not all(_NAME.fullmatch(p) and ".." not in p for p in parts):
        raise HubError(400, f"invalid repository id {_short(str(repo_id))}: expected 'namespace/name' "
                            "(letters, digits, . _ -)")
    return repo_id


def check_path(path: str) -> str:
    """Refuse file paths that could leave the repository or that a client could not write to its disk."""
    parts = path.split("/")
    if not path or "\\" in path or "\0" in path or any(p in ("", ".", "..", ".git") for p in parts):
        raise HubError(400, f"invalid file path {_short(path)}: use a relative path like 'dir/file.txt'")
    try:
        encoded = [p.encode() for p in parts]
    except UnicodeEncodeError:
        raise HubError(400, f"invalid file path {_short(path)}: not valid Unicode") from None
    if max(map(len, encoded)) > MAX_NAME_BYTES or len(path.encode()) > MAX_PATH_BYTES:
        raise HubError(400, f"invalid file path {_short(path)}: each name may have at most {MAX_NAME_BYTES} bytes "
                            f"and the whole path {MAX_PATH_BYTES}")
    return path


def check_tree(files: Iterable[str]) -> None:
    """Refuse a tree that holds both a file ``x`` and a file under ``x/`` (no disk can hold both)."""
    files = set(files)
    for path in files:
        for i in range(path.count("/")):
            folder = path.rsplit("/", i + 1)[0]
            if folder in files:
                raise HubError(400, f"{_short(folder)} cannot be both a file and a folder: "
                                    f"delete the file before adding {_short(path)} (or the other way round)")


def _short(text: str, limit: int = 80) -> str:
    """``repr`` of user input, cut to ``limit`` characters (error messages stay one short line)."""
    return repr(text) if len(text) <= limit else repr(text[:limit]) + f"... ({len(text)} characters)"


def check_ref_name(name: str) -> str:
    if not _REF_NAME.fullmatch(name) or ".." in name or name.endswith(("/", ".lock")) or "//" in name:
        raise HubError(400, f"invalid branch or tag name {name!r}")
    return name


def front_matter(text: str) -> dict | None:
    """The YAML metadata block at the top of a README.md (``---`` ... ``---``), or None if there is none.

    Parsed safely and within bounds (:mod:`hub.bounded_yaml`: no alias bombs); raises ``yaml.YAMLError``.
    """
    match = re.match(r"\A---\s*\n(.*?)\n---\s*(\n|\Z)", text, re.DOTALL)
    if match is None:
        return None
    from hub.bounded_yaml import load_bounded  # imports yaml: here, so `zoo --help` stays instant

    data = load_bounded(match.group(1))
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

    # writing (refs only under the storage lock) ----------------------------------------------------

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


class RootInUse(ValueError):
    """Another live server holds the storage root (``.pid``: its process id, or "unknown")."""

    def __init__(self, root: Path, pid: str):
        super().__init__(f"{root} is served by another Hub server (PID {pid}): stop that one, or give this one "
                         "another root")
        self.root, self.pid = root, pid


class RootLock:
    """``ROOT/.lock``: an exclusive ``flock`` held by the one server of ROOT, the file holding that server's PID.

    The kernel drops the lock when its holder dies, so a lock file left by a killed server is simply taken over.
    The file is never deleted (deleting it would let two servers lock two different files of the same name).
    """

    def __init__(self, path: Path):
        self.path = path
        self._file = None

    def acquire(self) -> None:
        if self._file is not None or fcntl is None:
            return
        f = open(self.path, "a+")
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            f.seek(0)
            pid = f.read().strip() or "unknown"
            f.close()
            raise RootInUse(self.path.parent, pid) from None
        f.seek(0)
        f.truncate()
        f.write(f"{os.getpid()}\n")
        f.flush()
        self._file = f

    def release(self) -> None:
        if self._file is not None:
            self._file.seek(0)
            self._file.truncate()
            self._file.close()  # closing the file drops the flock
            self._file = None


#: The temporary files of ``write_atomic``: ``.NAME.<uuid4 hex>.tmp``.
_TEMP_FILE = re.compile(r"\..+\.[0-9a-f]{32}\.tmp")


class Storage:
    """All repositories under ``root``; creation, deletion and every ref update happen under one lock.

    Opening a root locks it (:class:`RootLock`, :class:`RootInUse` if another server holds it) and then removes
    what interrupted writes left behind (:meth:`clean`); :meth:`close` waits for running commits, then unlocks.
    """

    #: What a storage root holds; a folder with anything else is not one (guards against ``root=seed_folder``).
    ENTRIES = {".tmp", ".lock", *REPO_TYPES}

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        others = sorted(p.name for p in self.root.iterdir() if p.name not in self.ENTRIES)
        if others:
            raise ValueError(
                f"{self.root} is not a Hub storage folder (it holds {', '.join(others[:3])}"
                f"{', ...' if len(others) > 3 else ''}): give a new or empty folder, or one this server created "
                "(to serve a folder of ORG/NAME agents, seed from it: --seed)"
            )
        self.tmp = self.root / ".tmp"
        self.lock = threading.RLock()
        self._root_lock = RootLock(self.root / ".lock")
        self._writers = 0
        self._idle = threading.Condition()
        self.closed = True
        self.cleaned: dict[str, int] = {}
        self.open()

    def open(self) -> None:
        """Lock the root (raises :class:`RootInUse`), then clean what interrupted writes left (once per lock)."""
        if self.closed:
            self._root_lock.acquire()
            self.closed = False
            self.tmp.mkdir(exist_ok=True)
            self.cleaned = self.clean()

    def close(self, timeout: float = 30.0) -> None:
        """Refuse new writes, wait (up to ``timeout`` s) for running commits, then unlock the root."""
        with self._idle:
            self.closed = True
            self._idle.wait_for(lambda: self._writers == 0, timeout)
        with self.lock:
            self._root_lock.release()

    @contextmanager
    def _writing(self) -> Iterator[None]:
        with self._idle:
            if self.closed:
                raise HubError(503, "the server is shutting down: retry in a moment")
            self._writers += 1
        try:
            yield
        finally:
            with self._idle:
                self._writers -= 1
                self._idle.notify_all()

    def clean(self) -> dict[str, int]:
        """Remove leftovers of interrupted writes: temporary files and folders, blobs no commit refers to.

        Only called with the root locked, before serving (nothing is being written). A repository with a
        commit record that cannot be read keeps all its blobs. Returns ``{"files": n, "bytes": b}`` removed.
        """
        removed = {"files": 0, "bytes": 0}

        def remove(path: Path) -> None:
            try:
                size = path.stat().st_size
                path.unlink()
            except OSError:
                return
            removed["files"] += 1
            removed["bytes"] += size

        for leftover in self.tmp.iterdir():  # half-built repositories (create) and deleted ones (delete)
            if leftover.is_dir() and not leftover.is_symlink():
                for f in leftover.rglob("*"):
                    if f.is_file():
                        remove(f)
                shutil.rmtree(leftover, ignore_errors=True)
            else:
                remove(leftover)
        for kind in REPO_TYPES:
            for refs in (self.root / kind).glob("*/*/refs.json"):
                repo = refs.parent
                for folder in (repo, repo / "commits", *(repo / "blobs").glob("*/")):
                    for f in folder.glob(".*.tmp"):
                        if _TEMP_FILE.fullmatch(f.name) and f.is_file():
                            remove(f)
                try:
                    used = {entry["oid"] for c in (repo / "commits").glob("*.json")
                            for entry in json.loads(c.read_text())["files"].values()}
                except (OSError, ValueError, KeyError, TypeError, AttributeError):
                    continue  # cannot tell which blobs are used: keep them all
                for blob in (repo / "blobs").glob("*/*"):
                    if re.fullmatch(r"[0-9a-f]{38}", blob.name) and blob.parent.name + blob.name not in used:
                        remove(blob)
                for folder in (repo / "blobs").glob("*/"):
                    try:
                        folder.rmdir()  # only if empty
                    except OSError:
                        pass
        return removed

    def _path(self, kind: str, repo_id: str) -> Path:
        """The folder of a repository; every way in goes through here, so an id is always checked first."""
        if kind not in REPO_TYPES:
            raise HubError(400, f"unknown repository type {kind!r}")
        return self.root / kind / check_repo_id(repo_id)

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
        with self._writing(), self.lock:
            final = self._path(kind, repo_id)
            if final.exists():
                raise HubError(409, f"repository {repo_id} already exists")
            # Built in a temp folder and renamed into place: a repository exists completely or not at all.
            staging = Repo(self.tmp / uuid.uuid4().hex, kind, repo_id)
            try:
                (staging.path / "commits").mkdir(parents=True)
                meta = {"id": repo_id, "type": REPO_TYPES[kind], "private": bool(private), "createdAt": now_iso()}
                write_atomic(staging.path / "repo.json", json.dumps(meta, indent=1).encode())
                check_tree(check_path(p) for p in files)
                tree = {p: {"oid": staging.store_blob(d), "size": len(d)} for p, d in files.items()}
                sha = staging.store_commit(tree, [], title, "")
                staging.write_refs({"branches": {DEFAULT_BRANCH: sha}, "tags": {}})
                final.parent.mkdir(parents=True, exist_ok=True)
                os.rename(staging.path, final)
            finally:
                shutil.rmtree(staging.path, ignore_errors=True)
        return Repo(final, kind, repo_id)

    def delete(self, kind: str, repo_id: str) -> None:
        with self._writing(), self.lock:
            repo = self.get(kind, repo_id)
            trash = self.tmp / uuid.uuid4().hex
            os.rename(repo.path, trash)  # gone for readers at once; the files go after
            try:
                repo.path.parent.rmdir()  # the namespace folder, if that was its last repository
            except OSError:
                pass
        shutil.rmtree(trash, ignore_errors=True)

    def move(self, kind: str, old_id: str, new_id: str) -> None:
        """Rename repository ``old_id`` to ``new_id`` (history, branches and tags go with it)."""
        check_repo_id(new_id)
        with self._writing(), self.lock:
            repo, final = self.get(kind, old_id), self._path(kind, new_id)
            if final.exists():
                raise HubError(409, f"repository {new_id} already exists")
            meta = repo.meta
            meta["id"] = new_id
            write_atomic(repo.path / "repo.json", json.dumps(meta, indent=1).encode())
            final.parent.mkdir(parents=True, exist_ok=True)
            os.rename(repo.path, final)
            try:
                repo.path.parent.rmdir()
            except OSError:
                pass

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
            if repo_id.startswith(".") or repo_dir.name.startswith("."):
                continue
            try:
                if self._path("models", repo_id).exists():
                    continue
                files = {
                    f.relative_to(repo_dir).as_posix(): f.read_bytes()
                    for f in sorted(repo_dir.rglob("*"))
                    if f.is_file() and ".git" not in f.relative_to(repo_dir).parts
                }
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
        with self._writing():
            return self._commit(repo, branch, operations, title, message, parent)

    def _commit(self, repo: Repo, branch: str, operations: Iterable[tuple[str, str, bytes | None]], title: str,
                message: str, parent: str | None) -> str:
        # Blobs first, outside the lock: they are content-addressed, so writing one twice is harmless, and
        # one that no commit uses in the end (a refused or failed commit) is only unused space, removed at the
        # next start (clean).
        operations = [
            (key, path, {"oid": repo.store_blob(data), "size": len(data)} if key == "file" else None)
            for key, path, data in operations
        ]
        with self.lock:
            refs = repo.refs()
            if branch not in refs["branches"]:
                raise HubError(404, f"branch {branch!r} not found in {repo.repo_id}", "RevisionNotFound")
            head = refs["branches"][branch]
            if parent is not None and parent != head:
                raise HubError(412, f"parent commit {parent} is not the head of {branch} ({head}): pull and retry")
            files = dict(repo.files(head))
            for key, path, entry in operations:
                if key == "file":
                    files[path] = entry
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
            check_tree(files)
            sha = repo.store_commit(files, [head], title, message)
            refs["branches"][branch] = sha
            repo.write_refs(refs)  # the one step that makes the commit visible
        return sha

    def set_ref(self, repo: Repo, table: str, name: str, sha: str | None) -> None:
        """Create (``sha``) or delete (``None``) branch or tag ``name``; 409 if it exists, 404 if missing."""
        with self._writing(), self.lock:
            refs = repo.refs()
            if sha is None:
                if name not in refs[table]:
                    kind = "tag" if table == "tags" else "branch"
                    raise HubError(404, f"{kind} {name!r} not found in {repo.repo_id}", "RevisionNotFound")
                del refs[table][name]
            else:
                if name in refs["branches"] or name in refs["tags"]:
                    raise HubError(409, f"a branch or tag named {name!r} already exists in {repo.repo_id}")
                refs[table][name] = sha
            repo.write_refs(refs)

    def set_private(self, repo: Repo, private: bool) -> None:
        with self._writing(), self.lock:
            meta = repo.meta
            meta["private"] = bool(private)
            write_atomic(repo.path / "repo.json", json.dumps(meta, indent=1).encode())
