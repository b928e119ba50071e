"""TRPO (sb3-contrib) with the shipped configs: train as ``zoo train --algo trpo`` does, then evaluate.

For each env (CartPole-v1, Pendulum-v1 by default) it runs ``zoo.train.train`` (the function behind
``zoo train``) with ``configs/trpo.yml``, in a temporary log folder, and prints the final model's mean
return over ``--eval-episodes`` deterministic episodes next to the issue's target and the RL Baselines3
Zoo's published score for the same config (a cited figure, not measured here).

Usage::

    python benchmarks/trpo.py [--envs CartPole-v1 Pendulum-v1] [--seed 0] [--eval-episodes 20]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import torch as th

#: env id -> (target of the issue, RL Baselines3 Zoo's published mean, its std)
REFERENCE = {"CartPole-v1": (500.0, 500.0, 0.0), "Pendulum-v1": (-200.0, -175.0, 128.0)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--envs", nargs="+", default=list(REFERENCE))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--eval-episodes", type=int, default=20)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "trpo.json"))
    args = parser.parse_args()
    th.set_num_threads(1)
    from zoo.train import TrainOptions, train

    results = {"load_before": list(os.getloadavg())}
    with tempfile.TemporaryDirectory() as log_folder:
        for env_id in args.envs:
            start = time.time()
            result = train(TrainOptions(algo="trpo", env_id=env_id, log_folder=log_folder, seed=args.seed,
                                        eval_freq=-1, save_freq=-1, eval_episodes=args.eval_episodes, verbose=0))
            target, zoo_mean, zoo_std = REFERENCE.get(env_id, (float("nan"),) * 3)
            results[env_id] = {"mean": result.mean_reward, "std": result.std_reward, "train_s": time.time() - start,
                               "steps": result.model.num_timesteps, "target": target, "rl_zoo_mean": zoo_mean}
            print(f"TRPO {env_id}: {result.mean_reward:.1f} +/- {result.std_reward:.1f} over {args.eval_episodes} episodes "
                  f"after {result.model.num_timesteps} steps ({time.time() - start:.0f} s); target >= {target:g}; "
                  f"RL Zoo published {zoo_mean:g} +/- {zoo_std:g}; "
                  f"ours - RL Zoo = {result.mean_reward - zoo_mean:+.1f}", flush=True)
    results["load_after"] = list(os.getloadavg())
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
