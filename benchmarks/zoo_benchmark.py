"""``zoo benchmark``'s local pool: wall-clock of 4 short runs in the pool vs one after the other.

Both go through :func:`zoo.benchmark.benchmark` in the same run of this script, each into a fresh folder:
the same 4 runs (``--algos`` x seeds 0..1 on CartPole-v1, ``-n`` steps each) with ``workers=1`` (in this
process, one after the other: no process start-up to pay) and with the pool (``workers=2``: two forked
processes, whose start-up is included). The order alternates over ``--repeats`` rounds so that a
change of the machine's load hits both. The goal: pool / one-after-the-other <= 0.6.

    python benchmarks/zoo_benchmark.py [--steps 30000] [--repeats 2]

Writes ``benchmarks/results/zoo_benchmark.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

from zoo.benchmark import BenchmarkOptions, benchmark  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


def timed(workers: int, steps: int, algos: list[str]) -> float:
    with tempfile.TemporaryDirectory() as folder:
        options = BenchmarkOptions(algos=algos, envs=["CartPole-v1"], seeds=2, folder=folder, n_timesteps=steps,
                                   workers=workers, eval_episodes=5, eval_points=5, progress=False)
        start = time.perf_counter()
        results = benchmark(options)
        elapsed = time.perf_counter() - start
        assert results["ran"] == 4
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30_000)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--algos", nargs=2, default=["ppo", "a2c"])
    args = parser.parse_args()
    load_before = os.getloadavg()
    rounds = []
    for i in range(args.repeats):
        order = (1, 2) if i % 2 == 0 else (2, 1)
        times = {workers: timed(workers, args.steps, args.algos) for workers in order}
        rounds.append({"sequential_s": round(times[1], 2), "pool_s": round(times[2], 2),
                       "ratio": round(times[2] / times[1], 3)})
        print(f"round {i + 1}: one after the other {times[1]:.1f} s, pool of 2 {times[2]:.1f} s, "
              f"ratio {times[2] / times[1]:.3f} (goal <= 0.6)")
    sequential = sum(r["sequential_s"] for r in rounds)
    pool = sum(r["pool_s"] for r in rounds)
    result = {
        "runs": f"{' and '.join(args.algos)} x seeds 0, 1 on CartPole-v1, {args.steps} steps each",
        "cores": os.cpu_count(), "load_before": load_before, "load_after": os.getloadavg(), "rounds": rounds,
        "sequential_s": round(sequential, 2), "pool_s": round(pool, 2), "ratio": round(pool / sequential, 3),
        "goal": 0.6,
    }
    print(f"all rounds: pool / one after the other = {pool:.1f} / {sequential:.1f} s = {pool / sequential:.3f} "
          f"(goal <= 0.6); load average before {load_before[0]:.1f}, after {os.getloadavg()[0]:.1f}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "zoo_benchmark.json").write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
