"""``zoo hub serve``: run a Hugging Face Hub-compatible server over a folder (see ``hub/server.py``).

    zoo hub serve --root ./hub-data --port 8000 [--host 127.0.0.1] [--token T] [--seed FOLDER]

Point a client at it with ``HF_ENDPOINT=http://127.0.0.1:8000`` (set before ``huggingface_hub`` is imported)
or ``endpoint=`` arguments. Ctrl-C stops it; the repositories stay in ``--root``.
"""

from __future__ import annotations

import argparse
import errno
import os
import signal
import stat
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="hub_command", metavar="HUB_COMMAND")
    serve = sub.add_parser(
        "serve",
        help="serve a folder as a Hugging Face Hub (regular files, commits, branches, tags)",
        description="Serve a folder as a Hugging Face Hub-compatible HTTP server for offline and self-hosted use. "
        "Clients connect with HF_ENDPOINT=http://HOST:PORT.",
    )
    serve.add_argument("--root", required=True, help="folder holding the repositories (created if missing)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default: loopback only)")
    serve.add_argument("--port", type=int, default=8000, help="TCP port; 0 picks a free one (default: 8000)")
    serve.add_argument(
        "--token",
        default=None,
        help="require 'Authorization: Bearer TOKEN' for writes (clients: HF_TOKEN=TOKEN); "
        "default: the ZOO_HUB_TOKEN environment variable, else no token",
    )
    serve.add_argument(
        "--seed",
        default=None,
        help="folder laid out as ORG/NAME/files: each ORG/NAME becomes a model repository (the folder is only read)",
    )
    serve.add_argument(
        "--max-body-mb",
        type=float,
        default=512,
        help="largest request body in MiB (a commit carries its files inline, base64: about 4/3 of their size); "
        "larger ones are refused with 413 before they are read (default: 512)",
    )
    serve.add_argument("--port-file", default=None, help="write the port number here once listening")
    serve.add_argument("--quiet", action="store_true", help="do not log each request")


def run(args: argparse.Namespace) -> int:
    from zoo.errors import ZooError

    if args.hub_command != "serve":
        raise ZooError("missing hub command: use `zoo hub serve --root FOLDER`")
    if not 0 <= args.port <= 65535:
        raise ZooError(f"--port {args.port} is not a TCP port: use 0-65535 (0 picks a free one)")
    if not 0 < args.max_body_mb <= 1 << 20:  # also refuses nan
        raise ZooError(f"--max-body-mb {args.max_body_mb:g} is not a size: give a number of MiB above 0 "
                       "(e.g. 512)")
    root = Path(args.root)
    if root.exists() and not root.is_dir():
        raise ZooError(f"--root {root} is a file: give a folder")
    if args.seed is not None and not Path(args.seed).is_dir():
        raise ZooError(f"--seed {args.seed} is not a folder: give a folder laid out as ORG/NAME/files")
    # The folder, or the nearest one above it that exists (where it would be created), must be writable.
    # Mode bits count even for root, who may write anywhere: a folder marked read-only stays untouched.
    existing = next(p for p in (root.absolute(), *root.absolute().parents) if p.exists())
    if not existing.is_dir():
        raise ZooError(f"cannot create --root {root}: {existing} is a file")
    if not os.access(existing, os.W_OK | os.X_OK) or not existing.stat().st_mode & stat.S_IWUSR:
        raise ZooError(f"--root {root} is not writable ({existing} is read-only): choose a folder you can write to")
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ZooError(f"cannot create --root {root}: {error.strerror}") from None

    from hub.server import HubServer, RootInUse  # here, so `zoo --help` stays instant

    token = args.token if args.token is not None else os.environ.get("ZOO_HUB_TOKEN") or None
    try:
        server = HubServer(root, host=args.host, port=args.port, token=token, seed=args.seed,
                           log_requests=not args.quiet, max_body=int(args.max_body_mb * (1 << 20)))
    except RootInUse as error:
        raise ZooError(f"--root {root} is in use by another Hub server (PID {error.pid}): stop that one, or "
                       "choose another --root") from None
    except ValueError as error:  # --root holds other things, or seed names that cannot be repository ids
        raise ZooError(str(error)) from None
    except OSError as error:
        raise ZooError(f"cannot set up the Hub in --root {root}: {error}") from None
    try:
        server.bind()
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            raise ZooError(f"port {args.port} on {args.host} is in use: pick another --port (0 picks a free one)")
        raise ZooError(f"cannot listen on {args.host}:{args.port}: {error.strerror or error}") from None
    if args.port_file:
        tmp = Path(f"{args.port_file}.tmp")
        tmp.write_text(str(server.port))
        os.replace(tmp, args.port_file)
    seeded = f", seeded {len(server.seeded)} repositories from {args.seed}" if server.seeded else ""
    if server.cleaned.get("files"):
        n = server.cleaned["files"]
        size = server.cleaned["bytes"] / 1e6
        seeded += f", removed {n} file{'s' * (n != 1)} ({size:.1f} MB) left by interrupted writes"
    # SIGTERM (e.g. from a process manager) stops it as cleanly as Ctrl-C; set before the banner, which tells
    # a waiting client that the server is up and may now be stopped.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        print(
            f"Hub server on {server.url} (root {root}{seeded}; writes "
            f"{'need the token' if token else 'are open'}). Clients: HF_ENDPOINT={server.url}. Ctrl-C stops it.",
            flush=True,
        )
        if not token and args.host not in ("127.0.0.1", "localhost", "::1"):
            print(f"Warning: listening on {args.host} without --token: anyone who can reach it can write.", file=sys.stderr)
        server.serve_forever()
    except KeyboardInterrupt:
        print("Hub server stopped.", file=sys.stderr)
    finally:
        server.stop()
    return 0
