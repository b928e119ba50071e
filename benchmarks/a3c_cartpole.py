"""A3C on CartPole-v1: wall-clock time to solve with 2 workers, steps/s with 1 vs 2 workers, A2C's steps/s.

All in one run, on this machine, one measurement after the other:

1. ``agents.A3C`` with ``configs/a3c.yml``'s CartPole-v1 entry (2 workers) until the mean return of
   the last 100 training episodes reaches 475, or 5 minutes of wall-clock time;
2. throughput: the same config with 1 worker, then 2 workers, ``--steps`` environment steps each,
   alternated ``--repeats`` times (a change of load then hits both);
   steps/s are measured between the first report and the end (process start-up excluded);
3. SB3's A2C with ``configs/a2c.yml``'s CartPole-v1 entry (8 envs) for 200,000 steps: steps/s and
   the mean of its last 100 training episodes.

Prints the figures and the ratios (2 workers / 1 worker; A3C 2 workers / A2C). The machine's load
(``os.getloadavg``) is printed before and after: other processes on the cores skew the ratios.
Usage::

    python benchmarks/a3c_cartpole.py [--steps 60000] [--repeats 2] [--solve-limit-s 300] [--start-method fork]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import torch as th
from stable_baselines3.common.callbacks import BaseCallback

SOLVED = 475.0


class Timer(BaseCallback):
    """Records wall-clock times; optionally stops once the last 100 training episodes average 475."""

    def __init__(self, stop_when_solved: bool = False, time_limit_s: float | None = None) -> None:
        super().__init__()
        self.stop_when_solved = stop_when_solved
        self.time_limit_s = time_limit_s
        self.t_start = self.t_first = self.t_last = 0.0
        self.first_steps = 0
        self.solved_after_s: float | None = None
        self.solved_at_steps: int | None = None

    def _on_training_start(self) -> None:
        self.t_start = time.perf_counter()

    def _on_step(self) -> bool:
        now = time.perf_counter()
        if not self.t_first:
            self.t_first, self.first_steps = now, self.num_timesteps
        self.t_last = now
        if self.stop_when_solved:
            buffer = self.model.ep_info_buffer
            if len(buffer) == buffer.maxlen and np.mean([info["r"] for info in buffer]) >= SOLVED:
                self.solved_after_s, self.solved_at_steps = now - self.t_start, self.num_timesteps
                return False
        return self.time_limit_s is None or now - self.t_start < self.time_limit_s

    def steps_per_s(self) -> float:
        return (self.num_timesteps - self.first_steps) / max(self.t_last - self.t_first, 1e-9)


def make_a3c(n_workers: int | None, seed: int, start_method: str | None):
    from agents import A3C
    from zoo.config import load_hyperparams
    from zoo.envs.factory import create_env

    hp = load_hyperparams("a3c", "CartPole-v1")
    kwargs = dict(hp.algo_kwargs)
    if n_workers is not None:
        kwargs["n_workers"] = n_workers
    if start_method is not None:
        kwargs["start_method"] = start_method
    return A3C(hp.policy, create_env("CartPole-v1", hp.n_envs, hyperparams=hp.raw, seed=seed), seed=seed, **kwargs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60_000, help="steps per throughput measurement")
    parser.add_argument("--solve-limit-s", type=float, default=300.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--start-method", default=None)
    parser.add_argument("--repeats", type=int, default=2, help="alternated 1-worker/2-worker measurements")
    parser.add_argument("--skip-solve", action="store_true")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "a3c_cartpole.json"))
    args = parser.parse_args()
    th.set_num_threads(1)
    results: dict[str, float | int | None | list] = {"load_before": list(os.getloadavg())}
    print(f"load average before: {os.getloadavg()}", flush=True)

    if not args.skip_solve:
        model = make_a3c(None, args.seed, args.start_method)
        timer = Timer(stop_when_solved=True, time_limit_s=args.solve_limit_s)
        model.learn(10**8, callback=timer)
        results.update(solve_s=timer.solved_after_s, solve_steps=timer.solved_at_steps, n_workers=model.n_workers)
        print(f"A3C ({model.n_workers} workers): 100-episode mean >= {SOLVED} after "
              f"{timer.solved_after_s and round(timer.solved_after_s)} s, {timer.solved_at_steps} steps "
              f"(limit {args.solve_limit_s:.0f} s)", flush=True)

    rates: dict[int, list[float]] = {1: [], 2: []}
    for _ in range(args.repeats):  # alternated, so a change in the machine's load hits both alike
        for n_workers in (1, 2):
            model = make_a3c(n_workers, args.seed, args.start_method)
            timer = Timer()
            model.learn(args.steps, callback=timer)
            rates[n_workers].append(timer.steps_per_s())
            print(f"A3C {n_workers} worker(s): {timer.steps_per_s():.0f} steps/s", flush=True)
    for n_workers in (1, 2):
        results[f"a3c_{n_workers}w_steps_per_s"] = float(np.mean(rates[n_workers]))
    ratio = results["a3c_2w_steps_per_s"] / results["a3c_1w_steps_per_s"]
    results["ratio_2w_1w"] = ratio
    results["ratio_2w_1w_each"] = [two / one for one, two in zip(rates[1], rates[2])]
    print(f"steps/s ratio 2 workers / 1 worker = {ratio:.2f} (means of {args.repeats}; each pair: "
          f"{', '.join(f'{r:.2f}' for r in results['ratio_2w_1w_each'])}; target >= 1.7)", flush=True)

    from stable_baselines3 import A2C

    from zoo.config import load_hyperparams
    from zoo.envs.factory import create_env

    hp = load_hyperparams("a2c", "CartPole-v1")
    a2c = A2C(hp.policy, create_env("CartPole-v1", hp.n_envs, hyperparams=hp.raw, seed=args.seed), seed=args.seed, **hp.algo_kwargs)
    timer = Timer()
    start = time.perf_counter()
    a2c.learn(200_000, callback=timer)
    a2c_mean = float(np.mean([info["r"] for info in a2c.ep_info_buffer]))
    results.update(a2c_steps_per_s=timer.steps_per_s(), a2c_s=time.perf_counter() - start, a2c_last100_mean=a2c_mean)
    print(f"A2C (8 envs): 200k steps in {results['a2c_s']:.0f} s, {timer.steps_per_s():.0f} steps/s, "
          f"last-100-episode mean {a2c_mean:.0f}", flush=True)
    print(f"steps/s ratio A3C 2 workers / A2C = {results['a3c_2w_steps_per_s'] / results['a2c_steps_per_s']:.2f}")
    results["load_after"] = list(os.getloadavg())
    print(f"load average after: {os.getloadavg()}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
