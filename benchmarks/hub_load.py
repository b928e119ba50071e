"""Load time of a pretrained agent from the local Hub, cold and warm cache, next to SB3's own ``load``.

All in one run, on this machine: a Hub server (``hub.server.HubServer``) on loopback serves the
fixtures folder ``tests/data/sb3-zoo-agents``; the agent is ``sb3/a2c-CartPole-v1`` (re-saved
with gymnasium, so SB3's own ``A2C.load`` can read the same zip for reference).

- reference: ``A2C.load(zip)`` from the local file (unpickles ``data``; median of ``--repeats``);
- cold: ``hub.load_from_hub`` into an empty Hugging Face cache (download, hash check, pickle-free load);
- warm: the same call again (two metadata requests: resolve ``main``, file sizes/hashes; files from the cache);
- pinned: the same call with ``revision=<commit sha>`` (no request: cached blobs are checked against their names).

Every variant includes the hash check of the files and the pickle-free rebuild of the model.

Prints each median in milliseconds and its ratio to the reference. Usage::

    python benchmarks/hub_load.py [--repeats 7] [--repo-id sb3/a2c-CartPole-v1]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
FIXTURES = ROOT / "tests" / "data" / "sb3-zoo-agents"


def timed(function, repeats: int) -> float:
    """Median wall time in ms of ``repeats`` calls, after one untimed warm-up call (imports, caches)."""
    function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--repo-id", default="sb3/a2c-CartPole-v1")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="hub-load-"))
    os.environ.update(HF_HUB_DISABLE_TELEMETRY="1", HF_HUB_DISABLE_PROGRESS_BARS="1")
    import torch as th

    th.set_num_threads(1)
    from agents.registry import get_class
    from hub.loading import load_agent
    from hub.server import HubServer

    server = HubServer(work / "root", port=0, seed=FIXTURES).start()
    algo = args.repo_id.split("/")[1].split("-")[0]
    name = args.repo_id.split("/")[1]
    zip_path = FIXTURES / args.repo_id / f"{name}.zip"
    cls = get_class(algo)
    try:
        reference = timed(lambda: cls.load(zip_path, device="cpu"), args.repeats)

        def cold() -> None:  # a fresh, empty cache each time
            load_agent(args.repo_id, endpoint=server.url, device="cpu", cache_dir=tempfile.mkdtemp(dir=work))

        cold_ms = timed(cold, args.repeats)
        cache = tempfile.mkdtemp(dir=work)
        sha = load_agent(args.repo_id, endpoint=server.url, device="cpu", cache_dir=cache).commit
        warm_ms = timed(lambda: load_agent(args.repo_id, endpoint=server.url, device="cpu", cache_dir=cache),
                        args.repeats)
        pinned_ms = timed(lambda: load_agent(args.repo_id, revision=sha, endpoint=server.url, device="cpu",
                                             cache_dir=cache), args.repeats)
    finally:
        server.stop()
    print(f"agent: {args.repo_id}, median of {args.repeats}, local Hub at {server.url}")
    print(f"{'SB3 load (reference)':<28}{reference:9.1f} ms   ratio 1.00")
    for label, value in (("hub cold cache", cold_ms), ("hub warm cache", warm_ms), ("hub warm, pinned sha", pinned_ms)):
        print(f"{label:<28}{value:9.1f} ms   ratio {value / reference:.2f}")


if __name__ == "__main__":
    main()
