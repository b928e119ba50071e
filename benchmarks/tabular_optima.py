"""Exact returns of the pretrained tabular agents' greedy policies against the optimum.

For each agent of the pretrained store (``pretrained/agent-zoo/ALGO-ENV_ID``, loaded pickle-free) on
an env that publishes its transition table, the greedy policy (``deterministic=True``: the first best
action) is evaluated exactly from ``env.unwrapped.P``, not by sampling: the expected undiscounted
return from the initial-state distribution within the env's time limit. Two yardsticks:

- ``optimum``: finite-horizon value iteration, the best any policy can do within the time limit.
  Reference (measured beforehand): Taxi-v4 7.93, FrozenLake-v1 (slippery 4x4, 100 steps) 0.744,
  FrozenLake8x8-v1 (200 steps) 0.913. The issue asks for the agents to be within 1% of these.
- ``best stationary``: the best return of a policy of the state alone that we could find (value
  iteration's policy, then single-state changes while they help). Within a time limit the optimum is
  not stationary: on FrozenLake8x8 no policy of the state alone we found gets within 1% of 0.913
  (0.8936, 97.8%). The FrozenLake8x8 agents therefore observe the time too
  (``zoo.envs.wrappers.ObserveTime``, 10 bins of 20 steps) and their greedy policy is judged as the
  time-dependent policy it is (:func:`agents.tabular.exact.greedy_actions`).

    python benchmarks/tabular_optima.py [--store pretrained/agent-zoo | --log-folder logs | --train]

``--train`` trains every judged (algo, env) pair afresh with its config (``zoo train``'s code, seed 0,
into a temporary folder) instead of reading the store.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch as th

from agents.tabular.exact import (
    TransitionTable,
    greedy_actions,
    optimal_return,
    policy_return,
    transition_table,
    value_iteration,
)

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = {"Taxi-v4": 7.93, "FrozenLake-v1": 0.744, "FrozenLake8x8-v1": 0.913}
#: envs judged exactly, and over how many steps: the env's time limit (None), CliffWalking's from its
#: config; DynaMaze-v0 over 14 steps, so that only the shortest path scores 1
HORIZONS = {"Taxi-v4": None, "FrozenLake-v1": None, "FrozenLake8x8-v1": None, "CliffWalking-v1": 200, "DynaMaze-v0": 14}
ALGOS = ("qlearning", "sarsa", "expected_sarsa", "dynaq", "exploration_bot")


def best_stationary(table: TransitionTable, horizon: int | None) -> float:
    """The best stationary deterministic policy found: value iteration's, improved one state at a time."""
    best_value, best_policy = -np.inf, None
    for gamma in (0.9, 0.95, 0.99, 0.995, 0.999):
        policy = value_iteration(table, gamma, max_iterations=20_000).argmax(axis=1)
        value = policy_return(table, policy, horizon)
        if value > best_value:
            best_value, best_policy = value, policy
    improved = True
    while improved:
        improved = False
        for s in range(table.n_states):
            for a in range(table.n_actions):
                if a == best_policy[s]:
                    continue
                candidate = best_policy.copy()
                candidate[s] = a
                value = policy_return(table, candidate, horizon)
                if value > best_value + 1e-12:
                    best_value, best_policy, improved = value, candidate, True
    return best_value


def trained_models(store: Path, train: bool, log_folder: str | None = None) -> dict[tuple[str, str], object]:
    models = {}
    if log_folder:
        from hub.loading import load_folder
        from zoo.runs import find_run

        for algo in ALGOS:
            for env_id in HORIZONS:
                run = find_run(log_folder, algo, env_id)
                if run is not None:
                    models[(algo, env_id)] = load_folder(run, name=f"{algo}-{env_id}").model
        return models
    if train:
        from zoo.config import config_path, configured_envs
        from zoo.train import TrainOptions, train as zoo_train

        folder = tempfile.mkdtemp(prefix="tabular_optima_")
        for algo in ALGOS:
            for env_id in configured_envs(config_path(algo)):
                if env_id in HORIZONS:
                    result = zoo_train(TrainOptions(algo=algo, env_id=env_id, log_folder=folder, seed=0, verbose=0, eval_freq=-1))
                    models[(algo, env_id)] = result.model
        return models
    from hub.loading import load_folder

    for algo in ALGOS:
        for env_id in HORIZONS:
            path = store / f"{algo}-{env_id}"
            if path.is_dir():
                models[(algo, env_id)] = load_folder(path).model
    return models


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", default=str(ROOT / "pretrained" / "agent-zoo"), help="the pretrained store's organisation folder")
    parser.add_argument("--train", action="store_true", help="train each pair with its config instead of reading the store")
    parser.add_argument("--log-folder", help="read the latest run of each pair from this log folder instead of the store")
    args = parser.parse_args()
    th.set_num_threads(1)
    start = time.time()
    models = trained_models(Path(args.store), args.train, args.log_folder)
    if not models:
        print(f"no tabular agents in {args.store} (use --train)")
        return
    tables = {env_id: transition_table(env_id) for env_id in {env for _, env in models}}
    optimum = {env_id: optimal_return(table, HORIZONS[env_id]) for env_id, table in tables.items()}
    stationary = {env_id: best_stationary(table, HORIZONS[env_id]) for env_id, table in tables.items()}
    source = "trained now" if args.train else (args.log_folder or args.store)
    print(f"Exact returns of greedy policies (from env.unwrapped.P), {source}")
    print(f"{'agent':34s} {'greedy':>8s} {'optimum':>8s} {'ratio':>6s} {'best stationary':>15s} {'ratio':>6s}  {'reference':>9s}")
    for (algo, env_id), model in sorted(models.items(), key=lambda item: (item[0][1], item[0][0])):
        table = tables[env_id]
        horizon = HORIZONS[env_id] or table.horizon
        value = policy_return(table, greedy_actions(model.policy, table.n_states, horizon), horizon)
        reference = f"{REFERENCE[env_id]:9.3f}" if env_id in REFERENCE else f"{'-':>9s}"
        print(
            f"{algo + '-' + env_id:34s} {value:8.4f} {optimum[env_id]:8.4f} {value / optimum[env_id]:6.3f} "
            f"{stationary[env_id]:15.4f} {value / stationary[env_id]:6.3f}  {reference}"
        )
    print(f"({time.time() - start:.0f} s)")


if __name__ == "__main__":
    main()
