"""Shared pytest fixtures.

Hub fixtures: ``hub_server`` is a running, empty Hub-compatible server (``hub.server.HubServer``) on a free
loopback port; ``hub_server_factory(seed=..., token=...)`` starts more (e.g. seeded from the pretrained-agents
fixtures folder, ``FIXTURES_AGENTS``). Either way the Hugging Face client is isolated for the test:
``HF_HOME`` is a tmp dir, telemetry is off, ``HF_TOKEN`` is the (first) server's token (a dummy one when the
server takes any), and the endpoint points at the (first) server both for subprocesses (``HF_ENDPOINT``) and in
this process (the client's constants, read at import, are patched for the duration of the test). Nothing
reaches the internet. ``HfApi(token=False)`` makes anonymous requests.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# One thread per process: the test suite runs on 2 shared cores, where torch's thread pools only fight.
os.environ["OMP_NUM_THREADS"] = "1"
os.environ["MKL_NUM_THREADS"] = "1"

REPO_ROOT = Path(__file__).resolve().parent.parent
#: Ten RL Baselines3 Zoo agents laid out as ``ORG/NAME/files``, kept in the repository as test data (MIT licence
#: and origin in its README); only read.
FIXTURES_AGENTS = REPO_ROOT / "tests" / "data" / "sb3-zoo-agents"
#: The Hub conformance checker; it comes with ``shared/`` beside the clone (CI has it), else its test is skipped.
CHECK_HUB = REPO_ROOT.parent / "shared" / "hub-conformance" / "check_hub.py"


def _point_client_at(monkeypatch: pytest.MonkeyPatch, url: str, hf_home: Path, token: str) -> None:
    """Point the huggingface_hub client (env for subprocesses, constants in this process) at ``url``."""
    env = {
        "HF_ENDPOINT": url,
        "HF_TOKEN": token,
        "HF_HOME": str(hf_home),
        "HF_HUB_CACHE": str(hf_home / "hub"),
        "HF_XET_CACHE": str(hf_home / "xet"),
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    for key in ("HUGGING_FACE_HUB_TOKEN", "HF_HUB_OFFLINE", "HF_TOKEN_PATH", "HF_ASSETS_CACHE"):
        monkeypatch.delenv(key, raising=False)

    from huggingface_hub import constants, hf_api

    patched = {
        "ENDPOINT": url,
        "HUGGINGFACE_CO_URL_TEMPLATE": url + "/{repo_id}/resolve/{revision}/{filename}",
        "HF_HOME": str(hf_home),
        "HF_HUB_CACHE": str(hf_home / "hub"),
        "HF_ASSETS_CACHE": str(hf_home / "assets"),
        "HF_XET_CACHE": str(hf_home / "xet"),
        "HF_TOKEN_PATH": str(hf_home / "token"),
        "HF_STORED_TOKENS_PATH": str(hf_home / "stored_tokens"),
        "HF_HUB_DISABLE_TELEMETRY": True,
        "HF_HUB_OFFLINE": False,
    }
    for name, value in patched.items():
        if hasattr(constants, name):
            monkeypatch.setattr(constants, name, value)
    monkeypatch.setattr(hf_api.api, "endpoint", url)  # the instance behind huggingface_hub.upload_file etc.


@pytest.fixture
def hub_server_factory(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """``make(seed=None, token=None) -> HubServer``: start a server (stopped after the test).

    The first server started becomes the client's default endpoint; pass ``endpoint=server.url`` to reach others.
    ``seed`` is a folder laid out as ``ORG/NAME/files`` (e.g. ``FIXTURES_AGENTS``); it is only read.
    """
    from hub.server import HubServer

    servers: list[HubServer] = []

    def make(seed: str | os.PathLike | None = None, token: str | None = None) -> HubServer:
        root = tmp_path_factory.mktemp("hub-root")
        server = HubServer(root, port=0, token=token, seed=seed).start()
        servers.append(server)
        if len(servers) == 1:
            _point_client_at(monkeypatch, server.url, tmp_path_factory.mktemp("hf-home"), token or "hf_local_test")
        return server

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def hub_server(hub_server_factory):
    """A running, empty Hub server: ``.url``, ``.root``; the client already points at it."""
    return hub_server_factory()


@pytest.fixture
def hub_agents_server(hub_server_factory):
    """A running Hub server seeded with the pretrained agents (``sb3/ppo-CartPole-v1`` ...)."""
    if not FIXTURES_AGENTS.is_dir():
        pytest.fail(f"fixtures folder not found: {FIXTURES_AGENTS}")
    return hub_server_factory(seed=FIXTURES_AGENTS)


def pytest_configure(config):
    import torch

    torch.set_num_threads(1)
