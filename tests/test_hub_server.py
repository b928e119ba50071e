"""The Hub-compatible server (``hub/server/``, ``zoo hub serve``) driven by the real huggingface_hub client.

Everything runs on loopback; the fixtures in ``conftest.py`` isolate ``HF_HOME`` and point the client here.
"""

from __future__ import annotations

import base64
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi, hf_hub_download
from huggingface_hub.errors import HfHubHTTPError

REPO_ROOT = Path(__file__).resolve().parent.parent
from conftest import CHECK_HUB, FIXTURES_AGENTS  # noqa: E402  (test data; the checker comes with ../shared)
REPO = "zoo/test-agent"


def _env(**extra: str) -> dict[str, str]:
    """Environment for a subprocess that imports this project and the client (no stray HF_* settings)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.update(extra)
    return env


def _http(method: str, url: str, body: bytes | None = None, headers: dict[str, str] | None = None):
    """(status, headers, body) of one raw request; HTTP errors are answers too."""
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def _ndjson(*items: dict) -> bytes:
    return b"".join(json.dumps(item).encode() + b"\n" for item in items)


def _add(path: str, data: bytes) -> dict:
    return {"key": "file", "value": {"path": path, "content": base64.b64encode(data).decode(), "encoding": "base64"}}


def _head(api: HfApi, repo_id: str = REPO, revision: str = "main") -> str:
    return api.model_info(repo_id, revision=revision).sha


# ----------------------------------------------------------------------------------- conformance


@pytest.mark.parametrize(
    "mode, extra_env",
    [("env", {}), ("arg", {"HF_HUB_DISABLE_XET": "1"})],
    ids=["mode-env-xet-default", "mode-arg-xet-disabled"],
)
def test_conformance_checker_passes(tmp_path: Path, mode: str, extra_env: dict[str, str]):
    """The project's conformance checker (real client, 43 checks) passes against `zoo hub serve`."""
    if not CHECK_HUB.is_file():
        pytest.skip(f"the Hub conformance checker comes with shared/ beside the clone (not found: {CHECK_HUB})")
    python = shlex.quote(sys.executable)
    server_cmd = f"{python} -m zoo hub serve --root {{root}} --port 0 --port-file {{port_file}} --quiet"
    checker = [sys.executable, str(CHECK_HUB), "--mode", mode, "--big-mb", "1", "--timeout", "120"]
    result = subprocess.run(
        [*checker, "--server-cmd", server_cmd],
        cwd=REPO_ROOT, env=_env(**extra_env), capture_output=True, text=True, timeout=180,
    )
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    failures = [line for line in result.stdout.splitlines() if line.startswith("[FAIL]")]
    report = "\n".join([*failures, summary, result.stderr[-2000:]])
    assert result.returncode == 0 and summary.endswith(" 0 failed"), report
    assert int(summary.split()[0]) >= 40  # the checks really ran


# ----------------------------------------------------------------------------------- the fixture


def test_fixture_points_the_client_at_the_server(hub_server, tmp_path: Path):
    from huggingface_hub import constants

    assert constants.ENDPOINT == hub_server.url == os.environ["HF_ENDPOINT"]
    assert hub_server.url.startswith("http://127.0.0.1:")
    assert Path(os.environ["HF_HOME"]) == Path(constants.HF_HOME) != Path.home() / ".cache" / "huggingface"
    assert os.environ["HF_HUB_DISABLE_TELEMETRY"] == "1" and os.environ["HF_TOKEN"]
    assert HfApi().whoami()["name"] == "local"  # the default client instance reaches this server
    HfApi().create_repo(REPO)
    assert (Path(hub_server.root) / "models" / REPO / "refs.json").is_file()


# ----------------------------------------------------------------------------------- revisions


def test_revision_pinning_returns_old_content(hub_server):
    api = HfApi(endpoint=hub_server.url)
    api.create_repo(REPO)
    first = api.upload_file(path_or_fileobj=b"version 1", path_in_repo="weights.bin", repo_id=REPO).oid
    second = api.upload_file(path_or_fileobj=b"version 2", path_in_repo="weights.bin", repo_id=REPO).oid
    assert first != second and len(first) == 40

    old = hf_hub_download(REPO, "weights.bin", revision=first, endpoint=hub_server.url)
    new = hf_hub_download(REPO, "weights.bin", endpoint=hub_server.url)
    assert Path(old).read_bytes() == b"version 1"
    assert Path(new).read_bytes() == b"version 2"
    assert [c.commit_id for c in api.list_repo_commits(REPO)][:2] == [second, first]
    assert api.list_repo_refs(REPO).branches[0].target_commit == second


def test_stale_parent_commit_is_refused_with_412_and_changes_nothing(hub_server):
    api = HfApi(endpoint=hub_server.url)
    api.create_repo(REPO)
    first = api.upload_file(path_or_fileobj=b"a", path_in_repo="a.txt", repo_id=REPO).oid
    second = api.upload_file(path_or_fileobj=b"b", path_in_repo="b.txt", repo_id=REPO).oid
    with pytest.raises(HfHubHTTPError) as caught:
        api.create_commit(REPO, [CommitOperationAdd("c.txt", b"c")], commit_message="stale", parent_commit=first)
    assert caught.value.response.status_code == 412
    assert _head(api) == second
    assert "c.txt" not in api.list_repo_files(REPO)
    # the right parent goes through
    third = api.create_commit(REPO, [CommitOperationAdd("c.txt", b"c")], commit_message="ok", parent_commit=second)
    assert _head(api) == third.oid


def test_failed_commit_leaves_the_repo_at_its_previous_commit(hub_server, monkeypatch):
    from hub import server as server_module

    api = HfApi(endpoint=hub_server.url)
    api.create_repo(REPO)
    before = api.upload_file(path_or_fileobj=b"kept", path_in_repo="kept.txt", repo_id=REPO).oid
    url = f"{hub_server.url}/api/models/{REPO}/commit/main"

    # A payload that breaks half-way (after a valid file line) is refused as a whole.
    body = _ndjson({"key": "header", "value": {"summary": "bad"}}, _add("new.txt", b"new"),
                   {"key": "file", "value": {"path": "x.txt", "content": "@@not base64@@", "encoding": "base64"}})
    status, _, answer = _http("POST", url, body, {"Content-Type": "application/x-ndjson"})
    assert status == 400 and b"base64" in answer
    assert _head(api) == before

    # A crash after the blobs are written but before the ref moves (e.g. disk full) leaves main alone.
    def crash(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(server_module.Repo, "store_commit", crash)
    status, _, _ = _http("POST", url, _ndjson({"key": "header", "value": {"summary": "x"}}, _add("new.txt", b"new")))
    assert status == 500
    monkeypatch.undo()
    assert _head(api) == before
    assert api.list_repo_files(REPO) == [".gitattributes", "kept.txt"]
    assert api.upload_file(path_or_fileobj=b"new", path_in_repo="new.txt", repo_id=REPO).oid != before


def test_concurrent_commits_all_land_in_one_linear_history(hub_server):
    from concurrent.futures import ThreadPoolExecutor

    api = HfApi(endpoint=hub_server.url)
    api.create_repo(REPO)

    def upload(i: int) -> str:
        return api.upload_file(path_or_fileobj=f"{i}".encode(), path_in_repo=f"f{i}.txt", repo_id=REPO).oid

    with ThreadPoolExecutor(8) as pool:
        shas = set(pool.map(upload, range(8)))
    commits = api.list_repo_commits(REPO)
    assert len(shas) == 8 and {c.commit_id for c in commits[:8]} == shas and len(commits) == 9
    assert sorted(api.list_repo_files(REPO)) == [".gitattributes"] + [f"f{i}.txt" for i in range(8)]


def test_branches_tags_and_short_shas(hub_server):
    api = HfApi(endpoint=hub_server.url)
    api.create_repo(REPO)
    first = api.upload_file(path_or_fileobj=b"1", path_in_repo="v.txt", repo_id=REPO).oid
    api.create_tag(REPO, tag="v1", revision=first)
    api.create_branch(REPO, branch="feat/x", revision=first)
    on_branch = api.upload_file(path_or_fileobj=b"branch", path_in_repo="v.txt", repo_id=REPO, revision="feat/x").oid
    api.upload_file(path_or_fileobj=b"2", path_in_repo="v.txt", repo_id=REPO)

    def read(revision: str) -> bytes:
        return Path(hf_hub_download(REPO, "v.txt", revision=revision, endpoint=hub_server.url)).read_bytes()

    assert (read("v1"), read("feat/x"), read(first[:7]), read("main")) == (b"1", b"branch", b"1", b"2")
    assert _head(api, revision="feat/x") == on_branch
    with pytest.raises(HfHubHTTPError) as caught:
        api.create_tag(REPO, tag="v1", revision="main")
    assert caught.value.response.status_code == 409
    api.delete_branch(REPO, branch="feat/x")
    api.delete_tag(REPO, tag="v1")
    refs = api.list_repo_refs(REPO)
    assert [b.name for b in refs.branches] == ["main"] and refs.tags == []


# ----------------------------------------------------------------------------------- uploads


@pytest.mark.parametrize("disable_xet", [False, True], ids=["xet-default", "xet-disabled"])
def test_create_commit_is_one_commit(hub_server, monkeypatch, disable_xet: bool):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", disable_xet)
    api = HfApi(endpoint=hub_server.url)
    api.create_repo(REPO)
    api.upload_file(path_or_fileobj=b"old", path_in_repo="old/file.txt", repo_id=REPO)
    n_before = len(api.list_repo_commits(REPO))
    info = api.create_commit(
        REPO,
        [CommitOperationAdd(f"file{i}.bin", os.urandom(1000 + i)) for i in range(5)]
        + [CommitOperationDelete("old/")],
        commit_message="five files, one folder gone",
    )
    commits = api.list_repo_commits(REPO)
    assert len(commits) == n_before + 1 and commits[0].commit_id == info.oid
    assert commits[0].title == "five files, one folder gone"
    assert sorted(api.list_repo_files(REPO)) == [".gitattributes"] + [f"file{i}.bin" for i in range(5)]


@pytest.mark.parametrize("disable_xet", [False, True], ids=["xet-default", "xet-disabled"])
def test_upload_folder(hub_server, monkeypatch, tmp_path: Path, disable_xet: bool):
    """upload_folder uploads every file; with hf_xet (default) the client pipelines it into several commits
    once a batch passes its content budget (~100 MiB, made tiny here), without hf_xet it is one commit."""
    from huggingface_hub import _upload_pipeline, constants
    from huggingface_hub.utils._runtime import is_package_available

    monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", disable_xet)
    monkeypatch.setattr(_upload_pipeline, "REGULAR_CONTENT_BYTES_BUDGET", 2000)
    files = {f"dir{i % 2}/f{i}.bin": os.urandom(1500) for i in range(4)}
    for name, data in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(data)
    api = HfApi(endpoint=hub_server.url)
    api.create_repo(REPO)
    info = api.upload_folder(repo_id=REPO, folder_path=tmp_path, commit_message="folder")

    commits = api.list_repo_commits(REPO)
    assert commits[0].commit_id == info.oid
    pipelined = not disable_xet and is_package_available("hf_xet")
    assert (len(commits) - 1 > 1) if pipelined else (len(commits) - 1 == 1)
    snapshot = Path(api.snapshot_download(REPO, revision=info.oid, cache_dir=tmp_path / "cache"))
    assert {n: (snapshot / n).read_bytes() for n in files} == files


def test_write_token_refuses_unauthenticated_writes(hub_server_factory, tmp_path: Path):
    server = hub_server_factory(token="s3cret")
    anonymous, wrong = HfApi(endpoint=server.url, token=False), HfApi(endpoint=server.url, token="nope")
    owner = HfApi(endpoint=server.url, token="s3cret")
    for api in (anonymous, wrong):
        with pytest.raises(HfHubHTTPError) as caught:
            api.create_repo(REPO)
        assert caught.value.response.status_code == 401
        assert "requires a write token" in str(caught.value)
    owner.create_repo(REPO)
    head = owner.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id=REPO).oid
    with pytest.raises(HfHubHTTPError) as caught:
        wrong.upload_file(path_or_fileobj=b"y", path_in_repo="x.txt", repo_id=REPO)
    assert caught.value.response.status_code == 401
    status, _, _ = _http("POST", f"{server.url}/api/models/{REPO}/commit/main",
                         _ndjson({"key": "header", "value": {"summary": "x"}}, _add("y.txt", b"y")))
    assert status == 401
    assert _head(owner) == head
    # reads stay open
    assert Path(hf_hub_download(REPO, "x.txt", endpoint=server.url, token=False)).read_bytes() == b"x"
    assert anonymous.model_info(REPO).sha == head


def test_bad_paths_and_unknown_repos_get_clear_errors(hub_server):
    api = HfApi(endpoint=hub_server.url)
    api.create_repo(REPO)
    url = f"{hub_server.url}/api/models/{REPO}/commit/main"
    for bad in ("../escape.txt", "a/../../b", "/abs", ".git/config"):
        status, _, answer = _http("POST", url, _ndjson({"key": "header", "value": {"summary": "x"}}, _add(bad, b"!")))
        assert status == 400 and b"invalid file path" in answer, bad
    assert not list(Path(hub_server.root).rglob("escape.txt"))
    status, headers, _ = _http("GET", f"{hub_server.url}/zoo/nope/resolve/main/x.txt")
    assert status == 404 and headers["X-Error-Code"] == "RepoNotFound"
    bad_name = b'{"name": "bad name!", "organization": "zoo"}'
    status, _, answer = _http("POST", f"{hub_server.url}/api/repos/create", bad_name)
    assert status == 400 and b"invalid repository id" in answer
    status, _, answer = _http("POST", url, _ndjson({"key": "header", "value": {"summary": "x"}},
                                                     {"key": "lfsFile", "value": {"path": "big.bin"}}))
    assert status == 400 and b"LFS" in answer


def test_range_requests(hub_server):
    api = HfApi(endpoint=hub_server.url)
    api.create_repo(REPO)
    commit = api.upload_file(path_or_fileobj=b"0123456789", path_in_repo="digits.txt", repo_id=REPO).oid
    url = f"{hub_server.url}/{REPO}/resolve/main/digits.txt"
    status, headers, body = _http("GET", url, headers={"Range": "bytes=2-4"})
    assert (status, body, headers["Content-Range"]) == (206, b"234", "bytes 2-4/10")
    assert headers["X-Repo-Commit"] == commit
    assert _http("GET", url, headers={"Range": "bytes=-3"})[2] == b"789"
    assert _http("GET", url, headers={"Range": "bytes=20-"})[0] == 416
    status, headers, body = _http("HEAD", url)
    assert (status, body, headers["Content-Length"]) == (200, b"", "10")
    assert headers["ETag"].strip('"') == api.model_info(REPO, files_metadata=True).siblings[-1].blob_id


def test_model_card_metadata_and_dataset_repos(hub_server):
    api = HfApi(endpoint=hub_server.url)
    api.create_repo(REPO)
    card = b"---\nlibrary_name: stable-baselines3\ntags:\n- CartPole-v1\ndate: 2024-01-31\n---\n# PPO\n"
    api.upload_file(path_or_fileobj=card, path_in_repo="README.md", repo_id=REPO)
    info = api.model_info(REPO)
    assert info.library_name == "stable-baselines3" and info.tags == ["CartPole-v1"]
    assert info.card_data["date"] == "2024-01-31"

    api.create_repo("zoo/episodes", repo_type="dataset")
    api.upload_file(path_or_fileobj=b"1,2\n", path_in_repo="data/ep.csv", repo_id="zoo/episodes", repo_type="dataset")
    path = hf_hub_download("zoo/episodes", "data/ep.csv", repo_type="dataset", endpoint=hub_server.url)
    assert Path(path).read_bytes() == b"1,2\n"
    assert not api.repo_exists("zoo/episodes")  # a model repo of that name does not exist
    assert api.repo_exists("zoo/episodes", repo_type="dataset")


def test_move_and_delete_repo(hub_server):
    api = HfApi(endpoint=hub_server.url)
    api.create_repo(REPO)
    head = api.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id=REPO).oid
    api.move_repo(REPO, "other/moved")
    assert not api.repo_exists(REPO) and api.model_info("other/moved").sha == head
    api.delete_repo("other/moved")
    assert not api.repo_exists("other/moved")
    assert sorted(p.name for p in (Path(hub_server.root) / "models").iterdir()) == []  # no empty namespaces left


def test_private_repos_need_the_token_when_the_server_has_one(hub_server_factory):
    server = hub_server_factory(token="s3cret")
    owner, anonymous = HfApi(endpoint=server.url, token="s3cret"), HfApi(endpoint=server.url, token=False)
    owner.create_repo("zoo/secret", private=True)
    owner.create_repo("zoo/open")
    assert owner.model_info("zoo/secret").private is True
    assert not anonymous.repo_exists("zoo/secret") and anonymous.repo_exists("zoo/open")
    assert [m.id for m in anonymous.list_models(author="zoo")] == ["zoo/open"]
    assert [m.id for m in owner.list_models(author="zoo")] == ["zoo/open", "zoo/secret"]


# ----------------------------------------------------------------------------------- seeding and offline


def test_seeded_from_fixtures_folder(hub_agents_server):
    def listing() -> list:
        return sorted((p.relative_to(FIXTURES_AGENTS), p.stat().st_mtime) for p in FIXTURES_AGENTS.rglob("*"))

    files_before = listing()
    path = hf_hub_download(repo_id="sb3/ppo-CartPole-v1", filename="ppo-CartPole-v1.zip")  # default endpoint
    assert Path(path).read_bytes() == (FIXTURES_AGENTS / "sb3" / "ppo-CartPole-v1" / "ppo-CartPole-v1.zip").read_bytes()

    api = HfApi()
    expected_repos = sorted(f"sb3/{p.name}" for p in (FIXTURES_AGENTS / "sb3").iterdir() if p.is_dir())
    assert sorted(m.id for m in api.list_models(author="sb3")) == expected_repos
    assert len(api.list_repo_commits("sb3/ppo-CartPole-v1")) == 1
    seed_files = sorted(p.name for p in (FIXTURES_AGENTS / "sb3" / "a2c-Pendulum-v1").iterdir())
    assert sorted(api.list_repo_files("sb3/a2c-Pendulum-v1")) == seed_files
    assert listing() == files_before  # the seed folder is only read


def test_restart_keeps_data_and_seeding_is_idempotent(tmp_path: Path):
    from hub.server import HubServer

    seed = tmp_path / "seed"
    (seed / "org" / "agent").mkdir(parents=True)
    (seed / "org" / "agent" / "model.zip").write_bytes(b"weights")
    with HubServer(tmp_path / "root", seed=seed) as server:
        api = HfApi(endpoint=server.url)
        head = api.upload_file(path_or_fileobj=b"more", path_in_repo="more.txt", repo_id="org/agent").oid
    with HubServer(tmp_path / "root", seed=seed) as server:  # same root, same seed: nothing re-seeded
        assert server.seeded == []
        assert HfApi(endpoint=server.url).model_info("org/agent").sha == head


def test_offline_mode_serves_from_cache(hub_server_factory, tmp_path: Path):
    server = hub_server_factory()
    api = HfApi(endpoint=server.url)
    api.create_repo(REPO)
    commit = api.upload_file(path_or_fileobj=b'{"v": 1}', path_in_repo="config.json", repo_id=REPO).oid
    cache = tmp_path / "cache"
    hf_hub_download(REPO, "config.json", cache_dir=cache, endpoint=server.url)
    server.stop()  # nothing to reach any more, kept-alive connections included
    with pytest.raises(Exception) as caught:
        api.model_info(REPO)
    assert not isinstance(caught.value, HfHubHTTPError), "a stopped server answered"
    code = (
        "from huggingface_hub import hf_hub_download\n"
        f"p = hf_hub_download({REPO!r}, 'config.json', cache_dir={str(cache)!r})\n"
        f"q = hf_hub_download({REPO!r}, 'config.json', revision={commit!r}, cache_dir={str(cache)!r})\n"
        "print(open(p).read(), p == q)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], env=_env(HF_HUB_OFFLINE="1", HF_ENDPOINT=server.url,
                                                                    HF_HOME=str(tmp_path / "home")),
                            capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == '{"v": 1} True', result.stderr[-2000:]


# ----------------------------------------------------------------------------------- command line


def test_cli_bad_input_is_one_line_and_exit_2(tmp_path: Path, capsys):
    from zoo.cli import main

    (tmp_path / "a-file").write_text("")
    (tmp_path / "read-only").mkdir(mode=0o555)
    (tmp_path / "agents" / "org" / "name").mkdir(parents=True)
    cases = {
        "cannot create --root": [str(tmp_path / "a-file" / "sub")],
        "is a file": [str(tmp_path / "a-file")],
        "is not writable": [str(tmp_path / "read-only" / "hub")],
        "is not a Hub storage folder": [str(tmp_path / "agents")],  # --root given the agents instead of --seed
        "--seed": [str(tmp_path / "hub"), "--seed", str(tmp_path / "missing")],
    }
    for root, *more in cases.values():
        assert main(["hub", "serve", "--port", "0", "--root", root, *more]) == 2
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        assert main(["hub", "serve", "--root", str(tmp_path / "root"), "--port", str(taken.getsockname()[1])]) == 2
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == len(cases) + 1 and all(line.startswith("zoo hub: error: ") for line in errors), errors
    for expected, line in zip([*cases, "is in use"], errors):
        assert expected in line, line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file", "agents", "read-only", "root"]
    assert list((tmp_path / "read-only").iterdir()) == [] and list((tmp_path / "agents").iterdir())[0].name == "org"


def test_cli_serves_until_ctrl_c(tmp_path: Path):
    port_file = tmp_path / "port"
    proc = subprocess.Popen(
        [sys.executable, "-m", "zoo", "hub", "serve", "--root", str(tmp_path / "root"), "--port", "0",
         "--port-file", str(port_file), "--seed", str(FIXTURES_AGENTS), "--token", "t"],
        cwd=REPO_ROOT, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        banner = proc.stdout.readline()  # printed once it listens
        assert "Hub server on http://127.0.0.1:" in banner and "seeded 10 repositories" in banner, banner
        url = f"http://127.0.0.1:{port_file.read_text()}"
        status, headers, body = _http("GET", f"{url}/api/models/sb3/ppo-CartPole-v1")
        assert status == 200 and json.loads(body)["id"] == "sb3/ppo-CartPole-v1"
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=20)
        assert proc.returncode == 0 and "stopped" in stderr
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()  # reaps it and closes the pipes
