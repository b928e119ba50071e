"""REINFORCE on CartPole-v1: episodes until solved, ours (shipped config) next to a plain reference.

"Solved": the mean return of the last 100 training episodes reaches 475. For each seed the script runs

- the reference: the notes' REINFORCE written plainly (4-128-2 ReLU network, Adam 1e-2, gamma 0.99,
  returns standardised per episode, one update per episode), up to 3,000 episodes;
- ours: ``agents.REINFORCE`` with ``configs/reinforce.yml``'s CartPole-v1 entry, up to 1,000 episodes
  (``zoo train``'s env factory and hyperparameter reader),

and prints the episodes each needed, the number of seeds solved, and the ratio of the mean episodes
to solve (reference / ours; > 1: ours is faster). Usage::

    python benchmarks/reinforce_cartpole.py [--seeds 0 1 2 3 4] [--only ours|reference]
"""

from __future__ import annotations

import argparse
import json
import time
from collections import deque
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch as th
from stable_baselines3.common.callbacks import BaseCallback

SOLVED = 475.0
WINDOW = 100


def reference_reinforce(seed: int, max_episodes: int = 3_000) -> int | None:
    """The notes' REINFORCE, plainly: episodes until the 100-episode mean reaches 475 (``None``: never)."""
    th.manual_seed(seed)
    env = gym.make("CartPole-v1")
    net = th.nn.Sequential(th.nn.Linear(4, 128), th.nn.ReLU(), th.nn.Linear(128, 2))
    optimizer = th.optim.Adam(net.parameters(), lr=1e-2)
    recent: deque[float] = deque(maxlen=WINDOW)
    obs, _ = env.reset(seed=seed)
    for episode in range(1, max_episodes + 1):
        log_probs, rewards, done = [], [], False
        while not done:
            dist = th.distributions.Categorical(logits=net(th.as_tensor(obs)))
            action = dist.sample()
            log_probs.append(dist.log_prob(action))
            obs, reward, terminated, truncated, _ = env.step(action.item())
            rewards.append(float(reward))
            done = terminated or truncated
        obs, _ = env.reset()
        returns, g = [], 0.0
        for r in reversed(rewards):
            g = r + 0.99 * g
            returns.insert(0, g)
        returns_t = th.tensor(returns)
        returns_t = (returns_t - returns_t.mean()) / (returns_t.std() + 1e-8)
        loss = -th.sum(returns_t * th.stack(log_probs))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        recent.append(sum(rewards))
        if len(recent) == WINDOW and np.mean(recent) >= SOLVED:
            return episode
    return None


class StopWhenSolved(BaseCallback):
    """Stops training once the last 100 training episodes average 475, or after ``max_episodes``."""

    def __init__(self, max_episodes: int) -> None:
        super().__init__()
        self.max_episodes = max_episodes
        self.returns: deque[float] = deque(maxlen=WINDOW)
        self.episodes = 0
        self.solved_at: int | None = None

    def _on_step(self) -> bool:
        for info, done in zip(self.locals["infos"], self.locals["dones"]):
            if done and "episode" in info:
                self.episodes += 1
                self.returns.append(info["episode"]["r"])
                if len(self.returns) == WINDOW and np.mean(self.returns) >= SOLVED:
                    self.solved_at = self.episodes
                    return False
        return self.episodes < self.max_episodes


def ours(seed: int, max_episodes: int = 1_000) -> int | None:
    """``agents.REINFORCE`` with the shipped config: episodes until solved (``None``: not within ``max_episodes``)."""
    from agents import REINFORCE
    from zoo.config import load_hyperparams
    from zoo.envs.factory import create_env

    hp = load_hyperparams("reinforce", "CartPole-v1")
    env = create_env("CartPole-v1", hp.n_envs, hyperparams=hp.raw, seed=seed)
    model = REINFORCE(hp.policy, env, seed=seed, **hp.algo_kwargs)
    stopper = StopWhenSolved(max_episodes)
    model.learn(10**8, callback=stopper)
    return stopper.solved_at


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--only", choices=("ours", "reference"), default=None)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "reinforce_cartpole.json"))
    args = parser.parse_args()
    th.set_num_threads(1)
    results: dict[str, dict[int, int | None]] = {}
    runners = {"reference": (reference_reinforce, 3_000), "ours": (ours, 1_000)}
    for name, (runner, limit) in runners.items():
        if args.only and name != args.only:
            continue
        results[name] = {}
        for seed in args.seeds:
            start = time.time()
            results[name][seed] = runner(seed, limit)
            print(f"{name:9s} seed {seed}: solved after {results[name][seed]} episodes ({time.time() - start:.0f} s)", flush=True)
    for name, by_seed in results.items():
        solved = [n for n in by_seed.values() if n is not None]
        limit = runners[name][1]
        print(f"{name:9s}: solved in {len(solved)}/{len(by_seed)} seeds within {limit} episodes; episodes to solve {sorted(solved)}")
    if len(results) == 2:
        mean = {name: np.mean([n if n is not None else runners[name][1] for n in r.values()]) for name, r in results.items()}
        print(f"mean episodes to solve (unsolved counted at the limit): reference {mean['reference']:.0f}, "
              f"ours {mean['ours']:.0f}; ratio reference/ours = {mean['reference'] / mean['ours']:.2f}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({name: {str(k): v for k, v in r.items()} for name, r in results.items()}, indent=2))


if __name__ == "__main__":
    main()
