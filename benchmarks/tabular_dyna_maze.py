"""Dyna Maze, Sutton & Barto Figure 8.2: steps per episode of Dyna-Q with k = 0, 5 and 50 planning steps.

DynaMaze-v0 (the book's 6 x 9 maze, shortest path 14 steps), alpha 0.1, epsilon 0.1, gamma 0.95,
Q starting at 0 with ties broken at random, 50 episodes per run, 30 runs. k = 0 is plain
Q-learning. Reference (measured beforehand with plain-Python implementations, as in the book):
k = 50 is down to about 17 steps per episode by episode 3, k = 0 needs about 50 episodes to get there.
The figures printed: the mean steps of episode 3 for k = 50, and for each k the first episode whose
mean length, averaged with the next 4 episodes, is within 18 steps, i.e. about the k = 50 level (the shortest
path is 14; with epsilon-greedy exploration about 16-17 is the best mean), and within 20 steps (the
book's "about 25 episodes" for k = 0 in the text of Example 8.1 is this looser level).
Writes ``benchmarks/results/tabular_dyna_maze.png`` (the curves from episode 2, as in the book).

    python benchmarks/tabular_dyna_maze.py [--runs 30]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch as th
from stable_baselines3.common.callbacks import StopTrainingOnMaxEpisodes

import zoo.envs  # noqa: F401  (registers DynaMaze-v0)
from agents import DynaQ

N_EPISODES = 50
PLANNING_STEPS = (0, 5, 50)
NEAR_OPTIMAL = (18.0, 20.0)
SMOOTHING = 5
REFERENCE_K50_EPISODE3 = 17.0
REFERENCE_K0_EPISODES = 50
RESULTS = Path(__file__).resolve().parent / "results"


def one_run(k: int, seed: int) -> np.ndarray:
    model = DynaQ("TabularPolicy", gym.make("DynaMaze-v0"), n_planning_steps=k, alpha=0.1, gamma=0.95, epsilon=0.1, seed=seed)
    model.learn(10_000_000, callback=StopTrainingOnMaxEpisodes(N_EPISODES))
    lengths = [info["l"] for info in model.ep_info_buffer]  # the last 100 episodes: all 50
    return np.array(lengths[:N_EPISODES], dtype=float)


def first_episode_within(curve: np.ndarray, steps: float) -> int | None:
    """First episode from which the mean over it and the next SMOOTHING - 1 episodes is <= steps."""
    smooth = np.convolve(curve, np.ones(SMOOTHING) / SMOOTHING, mode="valid")  # smooth[i]: episodes i+1..i+SMOOTHING
    hits = np.flatnonzero(smooth <= steps)
    return int(hits[0]) + 1 if len(hits) else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30, help="independent runs per k")
    args = parser.parse_args()
    th.set_num_threads(1)
    start = time.time()
    curves = {k: np.mean([one_run(k, seed) for seed in range(args.runs)], axis=0) for k in PLANNING_STEPS}
    print(f"Dyna Maze (S&B Figure 8.2), {args.runs} runs x {N_EPISODES} episodes, {time.time() - start:.0f} s")
    print("mean steps per episode:")
    for k, curve in curves.items():
        print(f"  k = {k:2d}: " + " ".join(f"{x:.0f}" for x in curve[:10]) + f" ... last 10: {curve[-10:].mean():.1f}")
    measured = curves[50][2]
    print(f"k = 50, steps in episode 3: {measured:.1f}  reference {REFERENCE_K50_EPISODE3:.0f}  ratio {measured / REFERENCE_K50_EPISODE3:.2f}")
    for threshold in NEAR_OPTIMAL:
        for k, curve in curves.items():
            episode = first_episode_within(curve, threshold)
            text = str(episode) if episode else f">{N_EPISODES}"
            line = f"k = {k:2d}, first episode from which {SMOOTHING} episodes average within {threshold:.0f} steps: {text}"
            if k == 0 and threshold == NEAR_OPTIMAL[0]:
                ratio = f"{episode / REFERENCE_K0_EPISODES:.2f}" if episode else "n/a"
                line += f"  reference about {REFERENCE_K0_EPISODES}  ratio {ratio}"
            print(line)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    episodes = np.arange(2, N_EPISODES + 1)
    for k, curve in curves.items():
        ax.plot(episodes, curve[1:], label=f"{k} planning steps" + (" (direct RL only)" if k == 0 else ""))
    ax.set_ylim(0, 800)
    ax.set_xlabel("Episodes")
    ax.set_ylabel(f"Steps per episode (mean of {args.runs} runs)")
    ax.set_title("Dyna Maze (Sutton & Barto Fig. 8.2): alpha 0.1, epsilon 0.1, gamma 0.95")
    ax.legend()
    fig.tight_layout()
    RESULTS.mkdir(exist_ok=True)
    fig.savefig(RESULTS / "tabular_dyna_maze.png", dpi=120)
    print(f"plot: {RESULTS / 'tabular_dyna_maze.png'}")


if __name__ == "__main__":
    main()
