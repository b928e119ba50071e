"""Cliff Walking, Sutton & Barto Example 6.6 (Figure 6.4): SARSA, Q-learning and Expected SARSA online.

epsilon 0.1, alpha 0.5, gamma 1, 500 episodes per run, CliffWalking-v1 without a time limit as in
the book. The figure is the mean return per episode over episodes 400-500 (the reward collected
while learning and exploring, not the greedy policy's), averaged over the runs: SARSA walks the safe
path, Q-learning the optimal one along the edge and falls now and then. Reference values (measured
beforehand with plain-Python implementations): SARSA about -26, Q-learning about -49, Expected SARSA
about -20. Writes ``benchmarks/results/tabular_cliff_walking.png`` (the curves, as in the book).

    python benchmarks/tabular_cliff_walking.py [--runs 50]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch as th
from stable_baselines3.common.callbacks import BaseCallback, CallbackList, StopTrainingOnMaxEpisodes

from agents import SARSA, ExpectedSARSA, QLearning

REFERENCE = {"SARSA": -26.0, "QLearning": -49.0, "ExpectedSARSA": -20.0}
N_EPISODES = 500
RESULTS = Path(__file__).resolve().parent / "results"


class EpisodeReturns(BaseCallback):
    """Collects the return of every finished training episode (Monitor's ``episode`` info)."""

    def __init__(self) -> None:
        super().__init__()
        self.returns: list[float] = []

    def _on_step(self) -> bool:
        for info, done in zip(self.locals["infos"], self.locals["dones"]):
            if done:
                self.returns.append(info["episode"]["r"])
        return True


def one_run(cls: type, seed: int) -> np.ndarray:
    model = cls("TabularPolicy", gym.make("CliffWalking-v1"), alpha=0.5, gamma=1.0, epsilon=0.1, seed=seed)
    returns = EpisodeReturns()
    model.learn(10_000_000, callback=CallbackList([returns, StopTrainingOnMaxEpisodes(N_EPISODES)]))
    return np.array(returns.returns[:N_EPISODES])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50, help="independent runs per algorithm")
    args = parser.parse_args()
    th.set_num_threads(1)
    curves = {}
    start = time.time()
    for cls in (SARSA, QLearning, ExpectedSARSA):
        curves[cls.__name__] = np.mean([one_run(cls, seed) for seed in range(args.runs)], axis=0)
    print(f"Cliff Walking (S&B Example 6.6), {args.runs} runs x {N_EPISODES} episodes, {time.time() - start:.0f} s")
    print(f"{'algorithm':15s} {'mean return ep 400-500':>24s} {'reference':>10s} {'ratio':>7s}")
    for name, curve in curves.items():
        measured = float(curve[400:500].mean())
        print(f"{name:15s} {measured:24.1f} {REFERENCE[name]:10.1f} {measured / REFERENCE[name]:7.2f}")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    window = 10
    for name, curve in curves.items():
        smooth = np.convolve(curve, np.ones(window) / window, mode="valid")
        ax.plot(np.arange(window, N_EPISODES + 1), smooth, label=name)
    ax.set_ylim(-100, 0)
    ax.set_xlabel("Episodes")
    ax.set_ylabel(f"Sum of rewards during episode\n(mean of {args.runs} runs, {window}-episode moving average)")
    ax.set_title("Cliff Walking, epsilon = 0.1, alpha = 0.5 (Sutton & Barto Example 6.6)")
    ax.legend(loc="lower right")
    fig.tight_layout()
    RESULTS.mkdir(exist_ok=True)
    fig.savefig(RESULTS / "tabular_cliff_walking.png", dpi=120)
    print(f"plot: {RESULTS / 'tabular_cliff_walking.png'}")


if __name__ == "__main__":
    main()
