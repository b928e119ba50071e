"""A Hugging Face Hub-compatible HTTP server backed by a directory (``zoo hub serve``).

It speaks the regular-file part of the Hub protocol that the ``huggingface_hub`` client uses
(``/work/shared/hub-conformance/PROTOCOL.md``): repositories with real commit history, branches, tags and
revision pinning; every file is uploaded inline (base64 in the commit), so there is no Git LFS and no Xet.
It is meant for offline and self-hosted use and for tests; only the standard library is needed.

Storage layout and atomicity: ``hub/server/storage.py``; request routing: ``hub/server/handler.py``.

Python use::

    with HubServer("hub-data", seed="shared/fixtures/sb3-zoo-agents") as server:
        hf_hub_download("sb3/ppo-CartPole-v1", "ppo-CartPole-v1.zip", endpoint=server.url)
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from hub.server.handler import DEFAULT_MAX_BODY, HTTPServer
from hub.server.storage import HubError, Repo, RootInUse, Storage, git_blob_oid

__all__ = ["DEFAULT_MAX_BODY", "HubServer", "HubError", "Repo", "RootInUse", "Storage", "git_blob_oid"]


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
        max_body: largest request body in bytes (a commit carries its files inline, base64); larger ones get 413
            before they are read.

    One server per root: the root is locked while a server holds it (``ROOT/.lock`` names its PID); a second
    one raises :class:`RootInUse` (a ``ValueError``). Opening a root removes what interrupted commits left
    (temporary files, blobs no commit refers to): ``.cleaned`` says how much.

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
        max_body: int = DEFAULT_MAX_BODY,
    ):
        self.root = Path(root)
        self.host, self.requested_port, self.token, self.log_requests = host, port, token or None, log_requests
        self.max_body = max_body
        self.storage = Storage(self.root)  # locks the root, then cleans it
        self.cleaned = self.storage.cleaned
        try:
            self.seeded = self.storage.seed(seed) if seed is not None else []
        except BaseException:
            self.storage.close()
            raise
        self._httpd: HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._url: str | None = None
        self._port: int | None = None

    def bind(self) -> HubServer:
        """Open the listening socket (raises OSError if the port is taken)."""
        if self._httpd is None:
            self.storage.open()  # again after a stop()
            self._httpd = HTTPServer((self.host, self.requested_port), self.storage, self.token, self.log_requests,
                                     self.max_body)
            self._url, self._port = self._httpd.base_url(), self._httpd.server_address[1]
        return self

    @property
    def port(self) -> int:
        """The port it listens (or, once stopped, listened) on; binds first if it has not yet."""
        if self._port is None:
            self.bind()
        return self._port

    @property
    def url(self) -> str:
        """``http://HOST:PORT``, the endpoint for clients; binds first if it has not yet."""
        if self._url is None:
            self.bind()
        return self._url

    def start(self) -> HubServer:
        """Serve in a daemon thread; returns self."""
        self.bind()
        if self._thread is None:
            self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.1,), name="hub-server",
                                            daemon=True)
            self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in this thread until ``stop()`` is called from another thread (or an exception, e.g. Ctrl-C)."""
        self.bind()._httpd.serve_forever(poll_interval=0.1)

    def stop(self) -> None:
        """Stop serving, close the socket, let running commits finish, unlock the root; the data stays."""
        if self._httpd is not None:
            if self._thread is not None:
                self._httpd.shutdown()
                self._thread.join()
            self._httpd.server_close()
            self._httpd.close_connections()
        self.storage.close()
        self._httpd, self._thread = None, None

    def __enter__(self) -> HubServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
