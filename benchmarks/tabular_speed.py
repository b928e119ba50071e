"""Speed of tabular Q-learning on Taxi-v4: the SB3-API agent and the NumPy vectorised path against a plain loop.

Three ways to run the same algorithm (alpha 0.5, gamma 0.99, epsilon 0.1, random tie-breaking), all in
this process, one after the other, so the ratios compare like with like on this machine:

1. ``plain``: the dictionary-based loop of the reference notes (``q_table[state][action]``,
   ``max(q_table[next_state].values())``, ties broken with ``np.random.choice(np.where(...))``),
   stepping one ``gym.make("Taxi-v4")`` env;
2. ``sb3``: ``QLearning("TabularPolicy", "Taxi-v4").learn(...)`` with SB3 callbacks attached
   (EvalCallback and CheckpointCallback in a CallbackList, as ``zoo train`` does), one env;
3. ``vectorized``: the same agent on ``TransitionTableVecEnv("Taxi-v4", n_envs=1024)`` (copies
   stepped together in NumPy from ``unwrapped.P``, batched updates), same callbacks.

Figures: throughput in env steps per second (ratio to ``plain``; the issue asks >= 1 for ``sb3``
and >= 20 for ``vectorized``) and time-to-optimal: wall seconds until the greedy policy's exact
mean return (from the transition table, not sampled) equals the optimum 7.93. The optimality checks
run every ``--check-every`` steps; their own time is not counted.

    python benchmarks/tabular_speed.py [--steps 300000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import defaultdict

import gymnasium as gym
import numpy as np
import torch as th
from stable_baselines3.common.callbacks import BaseCallback, CallbackList, CheckpointCallback, EvalCallback

from agents import QLearning
from agents.tabular.exact import optimal_return, policy_return, transition_table
from agents.tabular.vectorized import TransitionTableVecEnv

ALPHA, GAMMA, EPSILON = 0.5, 0.99, 0.1
N_COPIES = 1024
TABLE = transition_table("Taxi-v4")
OPTIMUM = optimal_return(TABLE)


class Clock:
    """Time of the training alone (checks of optimality are timed and taken out).

    ``cpu=True`` counts this process's CPU time (``time.process_time``) instead of wall time: on a
    machine shared with other jobs, wall time measures their load as much as ours.
    """

    def __init__(self, cpu: bool = False) -> None:
        self.now = time.process_time if cpu else time.perf_counter
        self.start = self.now()
        self.excluded = 0.0
        self.time_to_optimal: float | None = None

    def restart(self) -> None:
        self.start, self.excluded = self.now(), 0.0

    def elapsed(self) -> float:
        return self.now() - self.start - self.excluded

    def check(self, greedy_actions: np.ndarray) -> bool:
        """Record the time if the greedy policy is optimal; True when it is."""
        now = self.elapsed()
        check_start = self.now()
        optimal = policy_return(TABLE, greedy_actions) >= OPTIMUM - 1e-9
        self.excluded += self.now() - check_start
        if optimal and self.time_to_optimal is None:
            self.time_to_optimal = now
        return optimal


def plain_loop(n_steps: int, seed: int, check_every: int | None = None, cpu: bool = False) -> tuple[float, Clock, int]:
    """The notes' dictionary-based Q-learning; returns (steps per second, clock, steps done)."""
    np.random.seed(seed)
    env = gym.make("Taxi-v4")
    n_actions = env.action_space.n
    env.action_space.seed(seed)
    q_table: dict[int, dict[int, float]] = defaultdict(lambda: {a: 0.0 for a in range(n_actions)})
    state, _ = env.reset(seed=seed)
    clock = Clock(cpu)
    for step in range(1, n_steps + 1):
        if np.random.random() < EPSILON:
            action = int(env.action_space.sample())
        else:
            values = np.array([q_table[state][a] for a in range(n_actions)])
            action = int(np.random.choice(np.where(values == np.max(values))[0]))
        next_state, reward, terminated, truncated, _ = env.step(action)
        # Q-learning update, as in the notes; a terminal state has no value
        current_q = q_table[state][action]
        max_next_q = 0.0 if terminated else max(q_table[next_state].values())
        td_target = reward + GAMMA * max_next_q
        q_table[state][action] += ALPHA * (td_target - current_q)
        state = next_state
        if terminated or truncated:
            state, _ = env.reset()
        if check_every and step % check_every == 0:
            greedy = np.array([max(q_table[s], key=q_table[s].get) if s in q_table else 0 for s in range(TABLE.n_states)])
            if clock.check(greedy):
                return step / clock.elapsed(), clock, step
    return n_steps / clock.elapsed(), clock, n_steps


class CheckOptimal(BaseCallback):
    """Stops training once the greedy policy is optimal (checked every ``every`` steps)."""

    def __init__(self, clock: Clock, every: int) -> None:
        super().__init__()
        self.clock, self.every, self.next_check = clock, every, every

    def _on_step(self) -> bool:
        if self.num_timesteps < self.next_check:
            return True
        self.next_check += self.every
        return not self.clock.check(self.model.q_table.argmax(axis=1))


def sb3_run(n_steps: int, seed: int, vectorized: bool, check_every: int | None = None, cpu: bool = False) -> tuple[float, Clock, int]:
    """The SB3-API agent with callbacks; returns (steps per second, clock, steps done)."""
    env = TransitionTableVecEnv("Taxi-v4", n_envs=N_COPIES, seed=seed) if vectorized else gym.make("Taxi-v4")
    model = QLearning("TabularPolicy", env, alpha=ALPHA, gamma=GAMMA, epsilon=EPSILON, seed=seed)
    clock = Clock(cpu)
    with tempfile.TemporaryDirectory() as folder:
        callbacks = [
            EvalCallback(gym.make("Taxi-v4"), eval_freq=10**9, n_eval_episodes=1, verbose=0),
            CheckpointCallback(save_freq=10**9, save_path=folder),
        ]
        if check_every:
            callbacks.append(CheckOptimal(clock, check_every))
        clock.restart()
        model.learn(n_steps, callback=CallbackList(callbacks))
        elapsed = clock.elapsed()
    return model.num_timesteps / elapsed, clock, model.num_timesteps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300_000, help="env steps per throughput measurement (x10 vectorised)")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved repeats (the median is reported)")
    parser.add_argument("--max-steps", type=int, default=5_000_000, help="give up time-to-optimal after this many steps")
    parser.add_argument("--check-every", type=int, default=10_000, help="env steps between optimality checks (one env)")
    parser.add_argument("--seeds", type=int, default=3, help="seeds for time-to-optimal (the median is reported)")
    args = parser.parse_args()
    th.set_num_threads(1)
    paths = {
        "plain": lambda n, s, c=None, cpu=False: plain_loop(n, s, c, cpu),
        "sb3": lambda n, s, c=None, cpu=False: sb3_run(n, s, False, c, cpu),
        "vectorized": lambda n, s, c=None, cpu=False: sb3_run(n, s, True, c, cpu),
    }
    for cpu in (True, False):
        throughput: dict[str, list[float]] = {name: [] for name in paths}
        for repeat in range(args.repeats):  # interleaved, so a busy moment hurts every path alike
            for name, run in paths.items():
                steps = args.steps * (10 if name == "vectorized" else 1)
                throughput[name].append(run(steps, repeat, None, cpu)[0])
        plain = float(np.median(throughput["plain"]))
        unit = "CPU second (process time)" if cpu else "wall second"
        print(f"Taxi-v4 Q-learning throughput, env steps per {unit}, median of {args.repeats}")
        print(f"  {'path':12s} {'steps/s':>10s} {'ratio to plain':>15s} {'issue asks':>11s}")
        for name, wanted in (("plain", "-"), ("sb3", ">= 1"), ("vectorized", ">= 20")):
            value = float(np.median(throughput[name]))
            print(f"  {name:12s} {value:10.0f} {value / plain:15.2f} {wanted:>11s}")

    print(f"Time to an optimal greedy policy (exact mean return {OPTIMUM:.2f}), median of seeds 0..{args.seeds - 1}, CPU seconds")
    medians = {}
    for name, run in paths.items():
        every = args.check_every * (N_COPIES // 10 if name == "vectorized" else 1)
        times, steps_needed = [], []
        for seed in range(args.seeds):
            _, clock, steps = run(args.max_steps, seed, every, True)
            times.append(clock.time_to_optimal if clock.time_to_optimal is not None else np.inf)
            steps_needed.append(steps)
        medians[name] = float(np.median(times))
        shown = ", ".join(f"{t:.2f} s ({n:,} steps)" for t, n in zip(times, steps_needed))
        print(f"  {name:12s} median {medians[name]:7.2f} s   runs: {shown}")
    for name in ("sb3", "vectorized"):
        print(f"  speed-up to optimal, {name} vs plain: {medians['plain'] / medians[name]:.1f}x")


if __name__ == "__main__":
    main()
