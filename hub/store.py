"""The pretrained store: the zoo's own agents, one folder per Hub repository, in the repository itself.

    pretrained/agent-zoo/ALGO-ENV_ID/    the files of the Hub repository agent-zoo/ALGO-ENV_ID

Made by ``zoo train`` + ``zoo push --local-dir pretrained`` (never by hand); ``zoo enjoy --algo A --env E``
falls back on it when no local run exists, and ``zoo push --all --org ORG`` publishes it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

#: The store's folder (``pretrained/`` at the top of the repository).
STORE_DIR = Path(__file__).resolve().parent.parent / "pretrained"
#: The organisation the zoo's own agents are published under.
ORG = "agent-zoo"


def find_pretrained(algo: str, env_id: str, store: str | Path | None = None) -> Path | None:
    """The store's folder for ``algo`` on ``env_id``, or None when the store has no such agent."""
    from hub.loading import repo_name

    name = repo_name(algo, env_id)
    folder = Path(store or STORE_DIR) / ORG / name
    return folder if (folder / f"{name}.zip").is_file() else None


def pretrained_folders(store: str | Path | None = None) -> list[Path]:
    """Every agent folder of the store, sorted."""
    root = Path(store or STORE_DIR) / ORG
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and (p / f"{p.name}.zip").is_file())


def list_pretrained(store: str | Path | None = None) -> list[str]:
    """The repository ids (``agent-zoo/ALGO-ENV_ID``) of the store's agents, sorted."""
    return [f"{ORG}/{folder.name}" for folder in pretrained_folders(store)]


def publish_all(org: str, *, endpoint: str | None = None, token: str | None = None,
                store: str | Path | None = None) -> list[tuple[str, str]]:
    """Upload every agent of the store to ``ORG/NAME``, one commit each; returns ``(repo_id, sha)`` pairs."""
    from hub.client import commit_files
    from hub.push import MANAGED_FILES
    from agents.errors import ZooError

    folders = pretrained_folders(store)
    if not folders:
        raise ZooError(f"the pretrained store {Path(store or STORE_DIR) / ORG} holds no agent")
    published = []
    for folder in folders:
        repo_id = f"{org}/{folder.name}"
        sha = commit_files(folder, repo_id, endpoint=endpoint, token=token, delete_missing=MANAGED_FILES,
                           commit_message=f"Publish {folder.name} from the agent zoo's pretrained store")
        published.append((repo_id, sha))
    return published
