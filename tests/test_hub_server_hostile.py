"""`zoo hub serve` against hostile or broken clients (issue 10, "The Hub server").

Raw sockets on loopback, so that the requests are exactly what an attacker on the same machine could send; every
loop is bounded in count and every socket has a timeout.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
import tracemalloc
from pathlib import Path

import pytest

from hub.server import HubServer, Storage

REPO_ROOT = Path(__file__).resolve().parent.parent
REPO = "zoo/agent"
TOKEN = "s3cret"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


def _request(server: HubServer, method: str, path: str, body: bytes = b"",
             headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    """One request with http.client (the path goes out exactly as given, nothing normalised)."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        connection.request(method, path, body=body or None, headers=headers or {})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def _raw(server: HubServer, head: bytes, body: bytes = b"", timeout: float = 5.0) -> tuple[int, dict[str, str], bytes]:
    """Send ``head`` (request line and headers, without the final empty line) and ``body`` on a raw socket;
    returns the answer. The answer may come before (or without) the body being sent."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=timeout) as sock:
        sock.sendall(head + b"\r\n\r\n" + body)
        response = http.client.HTTPResponse(sock)
        response.begin()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()


def _ndjson(*items: object) -> bytes:
    return b"".join(json.dumps(item).encode() + b"\n" for item in items)


def _add(path: str, data: bytes) -> dict:
    return {"key": "file", "value": {"path": path, "content": base64.b64encode(data).decode(), "encoding": "base64"}}


def _commit(server: HubServer, *files: tuple[str, bytes], repo: str = REPO, extra: tuple = ()) -> tuple[int, bytes]:
    body = _ndjson({"key": "header", "value": {"summary": "test"}}, *(_add(p, d) for p, d in files), *extra)
    status, _, answer = _request(server, "POST", f"/api/models/{repo}/commit/main", body,
                                 {"Content-Type": "application/x-ndjson", **AUTH})
    return status, answer


@pytest.fixture
def server(tmp_path: Path):
    """A running server with a write token and one repository holding ``README.md`` and ``weights.bin``."""
    with HubServer(tmp_path / "root", token=TOKEN) as running:
        running.storage.create("models", REPO, files={"README.md": b"# agent\n", "weights.bin": b"w" * 100})
        yield running


def _snapshot(folder: Path) -> list:
    return sorted((str(p.relative_to(folder)), p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*"))


# ----------------------------------------------------------------------------------- 1. repository ids


def test_repository_ids_never_leave_the_root_on_any_route(tmp_path: Path):
    """A %2F or .. inside a repository id, in the URL or in a JSON body, is refused (400) on every route; the
    neighbouring root's private repository is neither read nor changed."""
    other = Storage(tmp_path / "rootB")
    other.create("models", "org/secret", private=True, files={"secret.txt": b"private"})
    other.close()
    before = _snapshot(tmp_path / "rootB")
    with HubServer(tmp_path / "root") as server:  # no token: every write is open, which must not matter
        server.storage.create("models", "zoo/mine")
        ns, name = "..%2F..%2FrootB%2Fmodels%2Forg", "secret"
        escapes = [(ns, name), ("org", "..%2F..%2F..%2FrootB%2Fmodels%2Forg%2Fsecret"), ("%2E%2E", "secret"),
                   ("zoo", "%2E%2E"), ("zoo%2F..", "mine")]
        json_body = {"Content-Type": "application/json"}
        for ns, name in escapes:
            api = f"/api/models/{ns}/{name}"
            routes = [
                ("GET", f"/{ns}/{name}/resolve/main/secret.txt", b"", {}),
                ("HEAD", f"/{ns}/{name}/resolve/main/secret.txt", b"", {}),
                ("GET", f"/datasets/{ns}/{name}/resolve/main/secret.txt", b"", {}),
                ("GET", api, b"", {}),
                ("GET", f"{api}/revision/main", b"", {}),
                ("GET", f"{api}/tree/main", b"", {}),
                ("GET", f"{api}/refs", b"", {}),
                ("GET", f"{api}/commits/main", b"", {}),
                ("POST", f"{api}/paths-info/main", b'{"paths": ["secret.txt"]}', json_body),
                ("POST", f"{api}/preupload/main", b'{"files": [{"path": "x", "size": 1}]}', json_body),
                ("POST", f"{api}/commit/main", _ndjson({"key": "header", "value": {"summary": "x"}},
                                                       _add("planted.txt", b"!")), {}),
                ("POST", f"{api}/branch/planted", b"{}", json_body),
                ("DELETE", f"{api}/branch/main", b"", {}),
                ("POST", f"{api}/tag/main", b'{"tag": "planted"}', json_body),
                ("DELETE", f"{api}/tag/v1", b"", {}),
                ("PUT", f"{api}/settings", b'{"private": false}', json_body),
            ]
            for method, path, body, headers in routes:
                status, _, answer = _request(server, method, path, body, headers)
                assert status == 400, (method, path, status, answer[:200])
                assert method == "HEAD" or b"invalid repository id" in answer, (method, path, answer[:200])
        bodies = [
            ("POST", "/api/repos/move", {"fromRepo": "../../rootB/models/org/secret", "toRepo": "zoo/stolen"}),
            ("POST", "/api/repos/move", {"fromRepo": "zoo/mine", "toRepo": "../../rootB/models/org/planted"}),
            ("POST", "/api/repos/move", {"fromRepo": "zoo/mine", "toRepo": "zoo/../../../rootB"}),
            ("DELETE", "/api/repos/delete", {"organization": "../../rootB/models/org", "name": "secret"}),
            ("DELETE", "/api/repos/delete", {"organization": "org", "name": "../../../rootB/models/org/secret"}),
            ("POST", "/api/repos/create", {"organization": "../../rootB/models/org", "name": "planted"}),
            ("POST", "/api/repos/create", {"organization": "zoo", "name": ".."}),
        ]
        for method, path, body in bodies:
            status, _, answer = _request(server, method, path, json.dumps(body).encode(), json_body)
            assert status == 400 and b"invalid repository id" in answer, (method, path, body, answer[:200])
        assert server.storage.get("models", "zoo/mine")  # still there, not moved or deleted
        assert sorted(p.name for p in (tmp_path / "root" / "models").iterdir()) == ["zoo"]
    assert _snapshot(tmp_path / "rootB") == before


# ----------------------------------------------------------------------------------- 2. model-card YAML


def _alias_bomb(levels: int = 9) -> str:
    lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, levels)]
    return "\n".join(lines)


def test_alias_bomb_model_card_answers_quickly_and_small(server):
    bomb = _alias_bomb()
    readme = f"---\n{bomb}\nlibrary_name: stable-baselines3\n---\n# agent\n".encode()
    assert len(readme) < 700  # expands to 10**9 'lol's
    assert _commit(server, ("README.md", readme))[0] == 200
    tracemalloc.start()  # the server runs in this process: its allocations are traced too
    try:
        started = time.monotonic()
        status, _, answer = _request(server, "GET", f"/api/models/{REPO}")
        elapsed = time.monotonic() - started
        grown_mb = tracemalloc.get_traced_memory()[1] / 2**20  # the peak
    finally:
        tracemalloc.stop()
    info = json.loads(answer)
    assert status == 200 and "cardData" not in info and [s["rfilename"] for s in info["siblings"]][0] == "README.md"
    assert len(answer) < 10_000 and elapsed < 3 and grown_mb < 50, (len(answer), elapsed, grown_mb)
    # validate-yaml refuses it with a message
    status, _, answer = _request(server, "POST", "/api/validate-yaml",
                                 json.dumps({"content": readme.decode(), "repoType": "model"}).encode(),
                                 {"Content-Type": "application/json"})
    assert status == 400 and b"aliases count as copies" in answer
    # a card with a few harmless aliases still reads
    card = b"---\nbase: &b {env: CartPole-v1}\nlibrary_name: stable-baselines3\nmodel: *b\n---\n"
    assert _commit(server, ("README.md", card))[0] == 200
    info = json.loads(_request(server, "GET", f"/api/models/{REPO}")[2])
    assert info["cardData"]["model"] == {"env": "CartPole-v1"} and info["library_name"] == "stable-baselines3"


def test_self_referring_and_deep_cards_are_dropped(server):
    for front in ("a: &a [*a]", "a: " + "[" * 5000 + "]" * 5000, "2024-01-01: date key\nok: 1"):
        assert _commit(server, ("README.md", f"---\n{front}\n---\n".encode()))[0] == 200
        status, _, answer = _request(server, "GET", f"/api/models/{REPO}")
        assert status == 200, answer[:300]
    assert json.loads(answer)["cardData"] == {"ok": 1}  # the date key is dropped: the answer stays JSON


def test_client_side_yaml_refuses_alias_bombs(tmp_path: Path):
    from agents.errors import ZooError
    from hub.safe_yaml import load_yaml

    (tmp_path / "config.yml").write_text(_alias_bomb())
    with pytest.raises(ZooError, match="aliases count as copies"):
        load_yaml(tmp_path / "config.yml")
    (tmp_path / "args.yml").write_text("a: &x {n: 1}\nb: *x\n")
    assert load_yaml(tmp_path / "args.yml") == {"a": {"n": 1}, "b": {"n": 1}}


# ----------------------------------------------------------------------------------- 3. bodies


def _post_head(server: HubServer, path: str, length: int | str, token: str | None = None, extra: str = "") -> bytes:
    auth = f"\r\nAuthorization: Bearer {token}" if token else ""
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nContent-Type: application/x-ndjson"
            f"\r\nContent-Length: {length}{auth}{extra}").encode()


def test_token_and_declared_length_are_checked_before_the_body_is_read(server):
    """Headers only, no body sent: the answer comes at once (the socket timeout is 5 s), and ends the connection."""
    commit = f"/api/models/{REPO}/commit/main"
    started = time.monotonic()
    status, headers, answer = _raw(server, _post_head(server, commit, 64 << 20))  # no token, 64 MiB, nothing sent
    assert status == 401 and headers["connection"] == "close" and b"write token" in answer
    status, _, _ = _raw(server, _post_head(server, "/api/repos/create", 64 << 20, token="wrong"))
    assert status == 401
    status, _, answer = _raw(server, _post_head(server, commit, 10**10, token=TOKEN))  # the token is right
    assert status == 413 and b"--max-body-mb" in answer
    status, _, answer = _raw(server, _post_head(server, commit, 10**30, token=TOKEN))
    assert status == 413
    # an API request other than a commit has a small limit of its own
    status, _, answer = _raw(server, _post_head(server, f"/api/models/{REPO}/paths-info/main", 20 << 20))
    assert status == 413 and b"limit" in answer
    for bad in ("-1", "abc", "1e3", "0x10", "5, 6"):
        status, _, answer = _raw(server, _post_head(server, commit, bad, token=TOKEN))
        assert status == 400 and b"Content-Length" in answer, bad
    assert time.monotonic() - started < 5  # nothing waited for a body


def test_expect_100_continue_is_answered_after_the_token_check(server):
    commit = f"/api/models/{REPO}/commit/main"
    status, _, _ = _raw(server, _post_head(server, commit, 1 << 20, extra="\r\nExpect: 100-continue"))
    assert status == 401  # a final answer instead of "100 Continue": the client never sends its body
    body = _ndjson({"key": "header", "value": {"summary": "x"}}, _add("c.txt", b"c"))
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(_post_head(server, commit, len(body), TOKEN, "\r\nExpect: 100-continue") + b"\r\n\r\n")
        assert sock.recv(100).startswith(b"HTTP/1.1 100")
        sock.sendall(body)
        response = http.client.HTTPResponse(sock)
        response.begin()
        assert response.status == 200 and json.loads(response.read())["success"] is True


def test_chunked_bodies_are_limited_and_checked(tmp_path: Path):
    with HubServer(tmp_path / "root", token=TOKEN, max_body=1 << 20) as server:
        server.storage.create("models", REPO)
        head = (f"POST /api/models/{REPO}/commit/main HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}"
                "\r\nTransfer-Encoding: chunked").encode()
        chunk = b"%x\r\n%s\r\n" % (600_000, b"x" * 600_000)
        status, _, answer = _raw(server, head, chunk * 2 + b"0\r\n\r\n")
        assert status == 413
        body = _ndjson({"key": "header", "value": {"summary": "chunked"}}, _add("c.txt", b"c"))
        status, _, answer = _raw(server, head, b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body))
        assert status == 200, answer
        assert _raw(server, _post_head(server, "/", 2 << 20, TOKEN))[0] == 413  # the --max-body-mb limit itself


def test_open_reads_share_a_body_budget(server):
    """Bodies sent without the token (paths-info is open) share 32 MiB: a fifth 8 MiB one waiting gets 503."""
    from hub.server.handler import MAX_API_BODY, UNAUTHENTICATED_BODIES

    paths_info, ask = f"/api/models/{REPO}/paths-info/main", b'{"paths": ["README.md"]}'
    held = [socket.create_connection(("127.0.0.1", server.port), timeout=5)
            for _ in range(UNAUTHENTICATED_BODIES // MAX_API_BODY)]
    try:
        for sock in held:  # headers only: the server waits for 8 MiB on each
            sock.sendall(_post_head(server, paths_info, MAX_API_BODY) + b"\r\n\r\n")
        deadline = time.monotonic() + 5
        while server._httpd._reserved < UNAUTHENTICATED_BODIES and time.monotonic() < deadline:
            time.sleep(0.01)
        status, _, answer = _raw(server, _post_head(server, paths_info, len(ask)), ask)
        assert status == 503 and b"retry" in answer
        status, _, _ = _raw(server, _post_head(server, paths_info, len(ask), token=TOKEN), ask)
        assert status == 200  # with the token, no budget
    finally:
        for sock in held:
            sock.close()
    deadline = time.monotonic() + 5
    while server._httpd._reserved and time.monotonic() < deadline:  # the closed connections give theirs back
        time.sleep(0.01)
    assert _raw(server, _post_head(server, paths_info, len(ask)), ask)[0] == 200


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


@pytest.mark.skipif(not Path("/proc/self/status").is_file(), reason="needs /proc (Linux)")
def test_unauthenticated_large_bodies_do_not_grow_the_server(tmp_path: Path):
    """Four 32 MiB bodies sent in full without a token: refused, and the server's peak memory barely moves."""
    port_file = tmp_path / "port"
    proc = subprocess.Popen([sys.executable, "-m", "zoo", "hub", "serve", "--root", str(tmp_path / "root"),
                             "--port", "0", "--port-file", str(port_file), "--token", TOKEN, "--quiet"],
                            cwd=REPO_ROOT, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert "Hub server on" in proc.stdout.readline()
        port = int(port_file.read_text())
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:  # warm up: a first answer
            sock.sendall(b"GET /api/models HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            while sock.recv(65536):
                pass
        before = _peak_rss_mb(proc.pid)
        size, statuses = 32 << 20, []

        def send() -> None:
            with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
                sock.sendall(f"POST /api/models/{REPO}/commit/main HTTP/1.1\r\nHost: x\r\n"
                             f"Content-Length: {size}\r\n\r\n".encode())
                try:
                    block = b"x" * (1 << 20)
                    for _ in range(size >> 20):
                        sock.sendall(block)
                except OSError:  # the server may end the connection before all of it is sent
                    pass
                statuses.append(sock.recv(100)[:12])

        threads = [threading.Thread(target=send) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert statuses == [b"HTTP/1.1 401"] * 4
        assert _peak_rss_mb(proc.pid) - before < 20, (before, _peak_rss_mb(proc.pid))
    finally:
        proc.terminate()
        proc.communicate(timeout=20)


# ----------------------------------------------------------------------------------- 4. one server per root


@pytest.mark.skipif(sys.platform == "win32", reason="the root lock is an flock (POSIX)")
def test_a_second_server_on_the_same_root_is_refused(tmp_path: Path, capsys):
    from hub.server import RootInUse
    from zoo.cli import main

    root = tmp_path / "root"
    port_file = tmp_path / "port"
    proc = subprocess.Popen([sys.executable, "-m", "zoo", "hub", "serve", "--root", str(root), "--port", "0",
                             "--port-file", str(port_file), "--quiet"],
                            cwd=REPO_ROOT, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert "Hub server on" in proc.stdout.readline()
        assert (root / ".lock").read_text().strip() == str(proc.pid)
        leftover = root / ".tmp" / "in-flight-upload"  # what the live server is writing must stay
        leftover.write_bytes(b"...")
        assert main(["hub", "serve", "--root", str(root), "--port", "0"]) == 2
        error = capsys.readouterr().err.strip().splitlines()
        assert len(error) == 1 and f"in use by another Hub server (PID {proc.pid})" in error[0], error
        assert leftover.is_file()
        with pytest.raises(RootInUse) as caught:
            HubServer(root)
        assert caught.value.pid == str(proc.pid)
    finally:
        proc.terminate()
        proc.communicate(timeout=20)
    assert proc.returncode == 0
    # the lock of a dead server is taken over (its file still names the dead PID)
    (root / ".lock").write_text("999999999\n")
    with HubServer(root) as server:
        assert (root / ".lock").read_text().strip() == str(os.getpid())
        assert not leftover.exists()  # cleaned once the root is ours
        with pytest.raises(RootInUse):  # in this process too
            HubServer(root)
    with HubServer(root) as again:  # stop() unlocked it
        assert again.url.startswith("http://127.0.0.1:")


def test_cli_max_body_flag_is_checked(tmp_path: Path, capsys):
    from zoo.cli import main

    for bad in ("0", "-5", "nan"):
        assert main(["hub", "serve", "--root", str(tmp_path / "r"), "--port", "0", "--max-body-mb", bad]) == 2
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 3 and all("--max-body-mb" in line and "MiB" in line for line in errors), errors


# ----------------------------------------------------------------------------------- 5. Nagle


def test_kept_alive_answers_do_not_wait_for_delayed_acks(server):
    """Nagle's algorithm held each second write of a kept-alive answer ~40 ms (until the client's delayed ACK)."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        times = []
        for i in range(30):
            path = f"/{REPO}/resolve/main/weights.bin" if i % 2 else f"/api/models/{REPO}"
            started = time.perf_counter()
            connection.request("GET", path)
            response = connection.getresponse()
            response.read()
            times.append(time.perf_counter() - started)
            assert response.status == 200
    finally:
        connection.close()
    assert sorted(times)[len(times) // 2] < 0.02, times  # the median; a stalled answer takes >= 40 ms


# ----------------------------------------------------------------------------------- 6. malformed requests


def _malformed() -> list[tuple[str, str, str, bytes, dict[str, str]]]:
    commit, nd = f"/api/models/{REPO}/commit/main", {"Content-Type": "application/x-ndjson"}
    js = {"Content-Type": "application/json"}
    header = json.dumps({"key": "header", "value": {"summary": "x"}}).encode() + b"\n"
    deep = b"[" * 100_000 + b"]" * 100_000
    return [
        ("commit line is a list", "POST", commit, header + b"[1, 2]\n", nd),
        ("commit line is a string", "POST", commit, header + b'"file"\n', nd),
        ("commit value is a string", "POST", commit, header + b'{"key": "file", "value": "x.txt"}\n', nd),
        ("commit header is a list", "POST", commit, b'{"key": "header", "value": []}\n', nd),
        ("commit path is a number", "POST", commit, header + b'{"key": "file", "value": {"path": 5}}\n', nd),
        ("commit delete path is null", "POST", commit, header + b'{"key": "deletedFile", "value": {}}\n', nd),
        ("commit content is a number", "POST", commit,
         header + b'{"key": "file", "value": {"path": "a", "content": 5}}\n', nd),
        ("commit parent is a list", "POST", commit, b'{"key": "header", "value": {"summary": "x", '
                                                    b'"parentCommit": [1]}}\n', nd),
        ("commit parent is 0", "POST", commit, b'{"key": "header", "value": {"summary": "x", "parentCommit": 0}}\n',
         nd),
        ("commit line 100,000 deep", "POST", commit, header + deep + b"\n", nd),
        ("commit line not UTF-8", "POST", commit, header + b'{"key": "\xff\xfe"}\n', nd),
        ("commit path not Unicode", "POST", commit, header + b'{"key": "file", "value": {"path": "\\ud800", '
                                                             b'"content": ""}}\n', nd),
        ("preupload files not a list", "POST", f"/api/models/{REPO}/preupload/main", b'{"files": 5}', js),
        ("preupload file not an object", "POST", f"/api/models/{REPO}/preupload/main", b'{"files": [1]}', js),
        ("preupload path a number", "POST", f"/api/models/{REPO}/preupload/main", b'{"files": [{"path": 3}]}', js),
        ("paths-info form not UTF-8", "POST", f"/api/models/{REPO}/paths-info/main", b"paths=\xff\xfe",
         {"Content-Type": "application/x-www-form-urlencoded"}),
        ("paths-info paths a number", "POST", f"/api/models/{REPO}/paths-info/main", b'{"paths": 5}', js),
        ("paths-info path a list", "POST", f"/api/models/{REPO}/paths-info/main", b'{"paths": [[1]]}', js),
        ("create body 100,000 deep", "POST", "/api/repos/create", deep, js),
        ("create body not JSON", "POST", "/api/repos/create", b"{name: x}", js),
        ("create body a list", "POST", "/api/repos/create", b'["x"]', js),
        ("create name a number", "POST", "/api/repos/create", b'{"name": 5}', js),
        ("create type an object", "POST", "/api/repos/create", b'{"name": "x", "type": {"a": 1}}', js),
        ("move ids numbers", "POST", "/api/repos/move", b'{"fromRepo": 5, "toRepo": 6}', js),
        ("settings body deep", "PUT", f"/api/models/{REPO}/settings", deep, js),
        ("tag name a number", "POST", f"/api/models/{REPO}/tag/main", b'{"tag": 5}', js),
        ("branch name invalid", "POST", f"/api/models/{REPO}/branch/..", b"{}", js),
        ("validate-yaml body not UTF-8", "POST", "/api/validate-yaml", b'{"content": "\xff"}', js),
    ]


def _raw_malformed() -> list[tuple[str, bytes]]:
    commit = f"POST /api/models/{REPO}/commit/main HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}"
    return [
        ("Content-Length: abc", f"{commit}\r\nContent-Length: abc\r\n\r\n".encode()),
        ("Content-Length: -1", f"{commit}\r\nContent-Length: -1\r\n\r\n".encode()),
        ("two Content-Lengths", f"{commit}\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nx".encode()),
        ("Content-Length and chunked", f"{commit}\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n".encode()),
        ("Transfer-Encoding: gzip", f"{commit}\r\nTransfer-Encoding: gzip\r\n\r\n".encode()),
        ("bad chunk size", f"{commit}\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n".encode()),
        ("negative chunk size", f"{commit}\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\nabc\r\n0\r\n\r\n".encode()),
        ("chunk not ended by CRLF", f"{commit}\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcdef\r\n0\r\n\r\n".encode()),
        ("chunk size line too long", f"{commit}\r\nTransfer-Encoding: chunked\r\n\r\n{'1' * 2000}\r\n".encode()),
    ]


def test_malformed_requests_answer_400_with_a_message(server):
    root = str(server.storage.root.resolve())
    for name, method, path, body, headers in _malformed():
        status, answer_headers, answer = _request(server, method, path, body, {**headers, **AUTH})
        assert status == 400, (name, status, answer[:300])
        message = json.loads(answer)["error"]
        assert message and root not in message and root not in json.dumps(answer_headers), (name, message)
    for name, request in _raw_malformed():
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            sock.sendall(request)
            response = http.client.HTTPResponse(sock)
            response.begin()
            assert response.status == 400, (name, response.status)
            assert json.loads(response.read())["error"], name
    status, _, answer = _request(server, "GET", f"/api/models/{REPO}")  # still serving, nothing changed
    assert status == 200 and [s["rfilename"] for s in json.loads(answer)["siblings"]] == ["README.md", "weights.bin"]


def test_internal_errors_do_not_show_the_servers_paths(server, monkeypatch):
    from hub.server import storage

    root = server.storage.root.resolve()

    def disk_error(*args, **kwargs):
        raise OSError(5, "Input/output error", str(root / "models" / REPO / "commits" / "x.json"))

    monkeypatch.setattr(storage.Repo, "store_commit", disk_error)
    status, answer = _commit(server, ("new.txt", b"new"))
    assert status == 500 and str(root) not in answer.decode() and b"server's log" in answer


# ----------------------------------------------------------------------------------- 7. trees


def test_trees_a_client_cannot_write_are_refused(server):
    assert _commit(server, ("x", b"file"), ("x/y", b"under the file"))[0] == 400
    assert _commit(server, ("weights.bin/inside", b"!"))[0] == 400  # weights.bin is a file already
    assert _commit(server, ("d/e/f", b"deep"))[0] == 200
    status, answer = _commit(server, ("d/e", b"file where a folder is"))
    assert status == 400 and b"both a file and a folder" in answer
    for bad in ("n" * 256, f"dir/{'n' * 300}.zip", "a//b", "a/./b", "a/../b", "./a", "a/", "/a", "a\\b"):
        status, answer = _commit(server, (bad, b"!"))
        assert status == 400 and b"invalid file path" in answer and len(answer) < 500, bad
    assert _commit(server, ("n" * 255, b"longest name allowed"))[0] == 200
    # replacing a file by a folder in one commit is fine: the tree it leaves is writable
    extra = ({"key": "deletedFile", "value": {"path": "weights.bin"}},)
    assert _commit(server, ("weights.bin/part1", b"1"), extra=extra)[0] == 200


# ----------------------------------------------------------------------------------- 8. start-up cleaning


def _die_during(root: Path, where: str) -> subprocess.CompletedProcess:
    """In a child process: open the root and commit 3 files of 200 kB, dying (``os._exit``) at ``where``."""
    code = f"""
import os
from hub.server import HubServer, storage
server = HubServer({str(root)!r})
die = lambda *a, **k: os._exit(9)
if {where!r} == "before the commit record":
    storage.Repo.store_commit = die
elif {where!r} == "writing a blob":
    real = storage.write_atomic
    def half(path, data):
        if "blobs" in str(path) and len(data) > 1000:
            tmp = path.with_name("." + path.name + "." + "ab" * 16 + ".tmp")
            tmp.write_bytes(data[:len(data) // 2])
            os._exit(9)
        real(path, data)
    storage.write_atomic = half
repo = server.storage.get("models", {REPO!r})
server.storage.commit(repo, "main", [("file", f"f{{i}}.bin", os.urandom(200_000)) for i in range(3)], "doomed")
"""
    return subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, env=_env(), capture_output=True, timeout=60)


def test_leftovers_of_interrupted_commits_are_cleaned_at_start(tmp_path: Path):
    root = tmp_path / "root"
    with HubServer(root) as server:
        server.storage.create("models", REPO, files={"kept.bin": b"k" * 5000, "README.md": b"# kept\n"})
        head = server.storage.get("models", REPO).resolve("main")
    blobs = root / "models" / REPO / "blobs"
    kept = sorted(p for p in blobs.rglob("*") if p.is_file())

    def orphans() -> list[Path]:
        return sorted(p for p in blobs.rglob("*") if p.is_file() and p not in kept)

    assert _die_during(root, "writing a blob").returncode == 9
    assert [p.name.endswith(".tmp") for p in orphans()] == [True]  # half a blob, in its temporary file
    assert _die_during(root, "before the commit record").returncode == 9  # its start cleaned the first one
    assert len(orphans()) == 3 and not any(p.name.endswith(".tmp") for p in orphans())  # 3 whole blobs
    (root / ".tmp" / ("0" * 32) / "commits").mkdir(parents=True)  # a create_repo killed half-way
    (root / ".tmp" / ("0" * 32) / "repo.json").write_text("{}")
    (root / "models" / REPO / f".refs.json.{'cd' * 16}.tmp").write_text("{}")

    with HubServer(root) as server:
        assert server.cleaned["files"] == 5 and server.cleaned["bytes"] > 600_000, server.cleaned
        assert sorted(p for p in blobs.rglob("*") if p.is_file()) == kept  # referenced blobs stay
        assert list((root / ".tmp").iterdir()) == []
        assert not list((root / "models" / REPO).glob(".*.tmp"))
        repo = server.storage.get("models", REPO)
        assert repo.resolve("main") == head  # the interrupted commits never became visible
        status, _, answer = _request(server, "GET", f"/{REPO}/resolve/main/kept.bin")
        assert status == 200 and answer == b"k" * 5000
    with HubServer(root) as server:  # nothing left to clean
        assert server.cleaned["files"] == 0


def test_kill_9_during_commits_loses_no_acknowledged_commit(tmp_path: Path):
    """Three rounds: a client commits in a loop to `zoo hub serve`, which is killed (SIGKILL) with a commit in
    flight. Every acknowledged commit is in the history with its content; the restart leaves no leftovers."""
    root, port_file, acknowledged = tmp_path / "root", tmp_path / "port", []

    def post(port: int, body: bytes, path: str = f"/api/models/{REPO}/commit/main") -> tuple[int, bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            connection.request("POST", path, body=body, headers={"Content-Type": "application/x-ndjson"})
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    for round_ in range(3):
        port_file.unlink(missing_ok=True)
        proc = subprocess.Popen([sys.executable, "-m", "zoo", "hub", "serve", "--root", str(root), "--port", "0",
                                 "--port-file", str(port_file), "--quiet"],
                                cwd=REPO_ROOT, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            assert b"Hub server on" in proc.stdout.readline()
            port = int(port_file.read_text())
            if round_ == 0:
                assert post(port, json.dumps({"organization": "zoo", "name": "agent"}).encode(),
                            "/api/repos/create")[0] == 200
            deadline = time.monotonic() + 0.5
            for i in range(40):
                if time.monotonic() > deadline:
                    break
                path, data = f"r{round_}/f{i}.bin", os.urandom(50_000)
                status, answer = post(port, _ndjson({"key": "header", "value": {"summary": path}}, _add(path, data)))
                assert status == 200, answer
                acknowledged.append((json.loads(answer)["commitOid"], path, data))
            in_flight = _ndjson({"key": "header", "value": {"summary": "in flight"}},
                                *(_add(f"big{round_}/{j}.bin", os.urandom(1 << 20)) for j in range(4)))
            threading.Thread(target=lambda: _ignore_errors(post, port, in_flight), daemon=True).start()
            time.sleep(0.15 + 0.1 * round_)
        finally:
            proc.kill()
            proc.communicate(timeout=20)
    assert len(acknowledged) >= 3
    with HubServer(root) as server:
        repo = server.storage.get("models", REPO)
        history = {sha for sha, _ in repo.history(repo.resolve("main"))}
        for sha, path, data in acknowledged:
            assert sha in history and repo.blob_path(repo.files(sha)[path]["oid"]).read_bytes() == data
        head_files = repo.files(repo.resolve("main"))
        assert {p for _, p, _ in acknowledged} <= set(head_files)
        for entry in head_files.values():
            assert repo.blob_path(entry["oid"]).is_file()
        records = [json.loads(c.read_text()) for c in (repo.path / "commits").glob("*.json")]
        used = {entry["oid"] for record in records for entry in record["files"].values()}
        blobs = {p.parent.name + p.name for p in (repo.path / "blobs").glob("*/*")}
        assert blobs == used  # no temporary files, no blob without a commit
        assert list((root / ".tmp").iterdir()) == []


def _ignore_errors(function, *args) -> None:
    try:
        function(*args)
    except OSError:  # the server was killed under it
        pass
