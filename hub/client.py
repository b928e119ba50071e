"""The zoo's use of the Hugging Face Hub client: download (pinned, cached, verified) and one-commit upload.

Everything goes through the real ``huggingface_hub`` client, so the cache (``HF_HOME``), offline mode
(``HF_HUB_OFFLINE=1``), the endpoint (``HF_ENDPOINT``, or ``endpoint=``) and the token (``HF_TOKEN``,
``hf auth login``, or ``token=``) behave as everywhere else. What the zoo adds:

- a download is pinned to the commit sha the revision resolves to, and every file is checked against
  its size and hash (git blob sha1, or sha256 for LFS files) before use;
- the client's exceptions become one-line :class:`~zoo.errors.ZooError` messages;
- :func:`commit_files` uploads a whole folder as ONE commit on top of the commit it read
  (``parent_commit``), so an interrupted or concurrent push leaves the remote as it was.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agents.errors import ZooError

_REPO_ID = re.compile(r"^[\w.\-]+/[\w.\-]+$")
_HEX = re.compile(r"^[0-9a-f]{40}$|^[0-9a-f]{64}$")


@dataclass
class Snapshot:
    """A verified download: the local folder of one commit of a repository.

    :param folder: where the files are (inside the Hugging Face cache)
    :param repo_id: ``ORG/NAME``
    :param commit: the full commit sha the files belong to
    """

    folder: Path
    repo_id: str
    commit: str


def check_repo_id(repo_id: str) -> None:
    """A repository id must read ``ORG/NAME``."""
    if not isinstance(repo_id, str) or not _REPO_ID.match(repo_id):
        raise ZooError(f"repository id must look like ORG/NAME (e.g. sb3/ppo-CartPole-v1), got {repo_id!r}")


def endpoint_of(endpoint: str | None) -> str:
    """The Hub address used: ``endpoint``, else ``HF_ENDPOINT``, else huggingface.co."""
    if endpoint:
        return endpoint.rstrip("/")
    from huggingface_hub import constants

    return (os.environ.get("HF_ENDPOINT") or constants.ENDPOINT).rstrip("/")


def is_offline() -> bool:
    """Whether ``HF_HUB_OFFLINE`` is set (read now, not at import)."""
    from huggingface_hub import constants

    value = os.environ.get("HF_HUB_OFFLINE")
    if value is not None:
        return value.strip().upper() in {"1", "ON", "YES", "TRUE"}
    return bool(constants.HF_HUB_OFFLINE)


@contextlib.contextmanager
def hub_errors(repo_id: str, revision: str | None, endpoint: str) -> Iterator[None]:
    """Turn the client's exceptions into one-line :class:`ZooError` messages."""
    from huggingface_hub import errors

    where = f"{repo_id}" + (f"@{revision}" if revision else "")
    try:
        yield
    except ZooError:
        raise
    except errors.RevisionNotFoundError:
        raise ZooError(f"revision {revision!r} not found in {repo_id} on {endpoint}") from None
    except errors.GatedRepoError:
        raise ZooError(f"{repo_id} on {endpoint} is gated: accept its conditions on the Hub, then retry") from None
    except errors.RepositoryNotFoundError:
        raise ZooError(
            f"repository {repo_id} not found on {endpoint} (check the id; a private one needs a token: HF_TOKEN)"
        ) from None
    except errors.LocalEntryNotFoundError:
        reason = "HF_HUB_OFFLINE is set" if is_offline() else f"the Hub at {endpoint} cannot be reached"
        raise ZooError(f"{where} is not in the local cache and {reason}") from None
    except errors.EntryNotFoundError as error:
        raise ZooError(f"{where} on {endpoint}: file not found ({_first_line(error)})") from None
    except errors.OfflineModeIsEnabled:
        raise ZooError(f"{where}: HF_HUB_OFFLINE is set, and this needs the Hub at {endpoint}") from None
    except errors.HfHubHTTPError as error:
        status = getattr(getattr(error, "response", None), "status_code", None)
        if status in (401, 403):
            raise ZooError(
                f"the Hub at {endpoint} refused the token for {repo_id} (HTTP {status}): set HF_TOKEN or pass --token"
            ) from None
        if status == 412:
            raise ZooError(f"{repo_id} changed on {endpoint} while pushing; nothing was committed, push again") from None
        raise ZooError(f"the Hub at {endpoint} answered HTTP {status} for {where}: {_first_line(error)}") from None
    except (ConnectionError, OSError) as error:
        raise ZooError(f"cannot reach the Hub at {endpoint} ({_first_line(error)})") from None
    except Exception as error:  # httpx transport errors (server down) are not OSErrors
        if type(error).__module__.startswith(("httpx", "httpcore", "requests", "urllib3")):
            raise ZooError(f"cannot reach the Hub at {endpoint} ({type(error).__name__}: {_first_line(error)})") from None
        raise


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


# --------------------------------------------------------------------------------------------------
# Download
# --------------------------------------------------------------------------------------------------


def git_blob_sha1(path: Path) -> str:
    """The git object id of a file's content (what the Hub calls a regular file's blob id)."""
    digest = hashlib.sha1(f"blob {path.stat().st_size}\0".encode())
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _expected(path: Path, sibling: Any | None) -> tuple[int | None, str | None]:
    """Size and hash a file must have: from the Hub's metadata, else from its cache blob's name (its ETag)."""
    if sibling is not None:
        if sibling.lfs is not None:
            return int(sibling.lfs.size), sibling.lfs.sha256
        return sibling.size, sibling.blob_id
    name = path.resolve().name
    return None, name if _HEX.match(name) else None


def verify_snapshot(snapshot: Snapshot, siblings: list[Any] | None) -> None:
    """Check every file of ``snapshot`` against its size and hash; a bad file is removed and reported.

    :param siblings: the Hub's file metadata for the commit (``model_info(..., files_metadata=True)``);
        ``None`` offline, where each cached blob is checked against its own name (the ETag it was saved under)
    """
    by_name = {sibling.rfilename: sibling for sibling in siblings or []}
    for path in sorted(p for p in snapshot.folder.rglob("*") if p.is_file()):
        name = path.relative_to(snapshot.folder).as_posix()
        size, digest = _expected(path, by_name.get(name))
        problem = None
        if size is not None and path.stat().st_size != size:
            problem = f"size {path.stat().st_size} instead of {size}"
        elif digest is not None:
            actual = sha256_of(path) if len(digest) == 64 else git_blob_sha1(path)
            if actual != digest:
                problem = f"hash {actual[:12]} instead of {digest[:12]}"
        elif siblings is not None:
            problem = "the Hub gave no size or hash for it"
        if problem:
            target = path.resolve()
            path.unlink(missing_ok=True)
            if target != path:
                target.unlink(missing_ok=True)
            raise ZooError(
                f"{snapshot.repo_id}@{snapshot.commit[:12]}: downloaded {name} is corrupt ({problem}); "
                "it was removed from the cache, download again"
            )


def download(
    repo_id: str,
    revision: str | None = None,
    *,
    endpoint: str | None = None,
    token: str | bool | None = None,
    cache_dir: str | Path | None = None,
    allow_patterns: list[str] | None = None,
    ignore_patterns: list[str] | None = None,
) -> Snapshot:
    """Download (or find in the cache) one commit of a model repository and verify it.

    :param repo_id: ``ORG/NAME``
    :param revision: branch, tag or commit sha (default: ``main``); resolved once to a commit sha
    :param endpoint: Hub address (default: ``HF_ENDPOINT``, else huggingface.co)
    :param token: access token (default: the client's usual places)
    :param cache_dir: Hugging Face cache folder (default: the client's, under ``HF_HOME``)
    :param allow_patterns: only files matching these globs
    :param ignore_patterns: skip files matching these globs
    """
    from huggingface_hub import HfApi, snapshot_download

    check_repo_id(repo_id)
    url = endpoint_of(endpoint)
    common = dict(repo_id=repo_id, repo_type="model", cache_dir=cache_dir, allow_patterns=allow_patterns,
                  ignore_patterns=ignore_patterns, endpoint=url, token=token)
    siblings = None
    with hub_errors(repo_id, revision, url):
        if is_offline():
            folder = snapshot_download(revision=revision, local_files_only=True, **common)
        else:
            try:  # resolves the revision once, records branch -> commit in the cache, downloads that commit
                folder = snapshot_download(revision=revision, **common)
            except Exception as error:  # server down: the cache may still hold this revision
                if not (type(error).__module__.startswith(("httpx", "httpcore")) or isinstance(error, OSError)):
                    raise
                try:
                    folder = snapshot_download(revision=revision, local_files_only=True, **common)
                except Exception:
                    raise error from None
            else:
                if revision is not None and re.fullmatch(r"[0-9a-f]{40}", revision):
                    siblings = None  # pinned: blobs are checked against their names (the hashes they came with)
                else:
                    siblings = _siblings(HfApi(endpoint=url, token=token), repo_id, Path(folder).name)
    folder = Path(folder)
    snapshot = Snapshot(folder=folder, repo_id=repo_id, commit=folder.name)
    verify_snapshot(snapshot, siblings)
    return snapshot


def _siblings(api: Any, repo_id: str, commit: str) -> list[Any] | None:
    """The Hub's size and hash of every file of ``commit``; None when the Hub cannot be reached."""
    try:
        return api.model_info(repo_id, revision=commit, files_metadata=True).siblings
    except Exception as error:  # the client fell back on its cache: check blobs by their names
        if not (type(error).__module__.startswith(("httpx", "httpcore")) or isinstance(error, OSError)):
            raise
        return None


# --------------------------------------------------------------------------------------------------
# Upload
# --------------------------------------------------------------------------------------------------


def commit_files(
    folder: str | Path,
    repo_id: str,
    *,
    endpoint: str | None = None,
    token: str | None = None,
    commit_message: str = "Upload agent",
    private: bool = False,
    delete_missing: tuple[str, ...] = (),
) -> str:
    """Upload every file of ``folder`` to ``repo_id`` as one commit and return its sha.

    The repository is created if needed. The commit names the head it was built on (``parent_commit``):
    if the repository moved meanwhile, the Hub refuses it and nothing changes.

    :param delete_missing: remote files to delete when ``folder`` does not have them (stale parts of an
        earlier push, e.g. ``vec_normalize.pkl`` of an agent that no longer normalises)
    """
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi

    check_repo_id(repo_id)
    url = endpoint_of(endpoint)
    folder = Path(folder)
    api = HfApi(endpoint=url, token=token)
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    if not files:
        raise ZooError(f"nothing to push: {folder} is empty")
    with hub_errors(repo_id, None, url):
        api.create_repo(repo_id, repo_type="model", private=private, exist_ok=True)
        info = api.model_info(repo_id)
        remote = {sibling.rfilename for sibling in info.siblings or []}
        names = {p.relative_to(folder).as_posix() for p in files}
        operations: list[Any] = [
            CommitOperationAdd(path_in_repo=p.relative_to(folder).as_posix(), path_or_fileobj=str(p)) for p in files
        ]
        operations += [CommitOperationDelete(path_in_repo=name) for name in delete_missing
                       if name in remote and name not in names]
        commit = api.create_commit(
            repo_id, operations, commit_message=commit_message, repo_type="model", parent_commit=info.sha,
        )
    return commit.oid
