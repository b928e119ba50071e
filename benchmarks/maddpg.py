"""MADDPG and the multi-agent adapter: learning score on simple_spread, adapter overhead, batched update speed.

Parts (each writes its figures into ``benchmarks/results/maddpg.json``; ``benchmarks/results/maddpg.txt`` is
rewritten from all parts recorded so far):

``speed``
    - adapter overhead: steps per second of mpe2 ``simple_spread_v3`` (N=3, continuous) stepped raw as a
      PettingZoo parallel env against the same env through ``MultiAgentEnv`` (same pre-drawn random actions),
      as a ratio (goal: at most 10% slower);
    - one MADDPG gradient step (batch 1024, critics and actors of 3 agents) batched, against the per-agent loop
      of the notes' code (``agents.maddpg.reference``) on the same batch, as a ratio.
``train``
    one seed of MADDPG (``configs/maddpg.yml``) or the centralised PPO (``configs/ppo.yml``) on
    ``mpe2/simple_spread_v3`` (N=3, 25 steps, local_ratio 0.5), trained until ``--steps`` env steps or
    ``--minutes`` of wall time, whichever comes first; then 100 deterministic evaluation episodes. Measured in
    the same run: a random policy and a scripted one (each agent heads for its own landmark, greedy axis
    moves), 100 episodes each. Reported: the per-agent episode return (team return / 3) and the score
    ``(R - R_random) / (R_scripted - R_random)`` (the issue's goal: at least 0.7 on each of 5 seeds within 2M
    steps).

Usage::

    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/maddpg.py speed
    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/maddpg.py train --algo maddpg --seed 0 --minutes 15 [--continuous]
    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/maddpg.py train --algo ppo --seed 0 --minutes 15
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch as th

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import zoo.envs  # noqa: E402,F401  (registers mpe2/... ids)
from agents.multiagent.adapter import MultiAgentEnv  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
ENV_ID = "mpe2/simple_spread_v3"
N_AGENTS = 3
EVAL_EPISODES = 100
#: the issue's per-agent returns of a random and a scripted policy (its own measurement), for a second score
ISSUE_RANDOM, ISSUE_SCRIPTED = -27.4, -9.3


# ---------------------------------------------------------------- reference policies
def scripted_action(obs: np.ndarray, agent: int, continuous: bool) -> Any:
    """Agent ``agent`` heads for landmark ``agent``: ``obs = [vel(2), pos(2), landmark_rel(2N), ...]``."""
    # damped with the velocity so as to stop on the landmark (0.3: the best of 0, 0.1, 0.2, 0.3, 0.5, 1 we tried)
    rel = obs[4 + 2 * agent : 6 + 2 * agent] - 0.3 * obs[0:2]
    if continuous:  # [no_action, left, right, down, up] in [0, 1]
        x, y = np.clip(rel * 4.0, -1.0, 1.0)
        return np.array([0.0, max(-x, 0.0), max(x, 0.0), max(-y, 0.0), max(y, 0.0)], dtype=np.float32)
    if np.max(np.abs(rel)) < 0.02:
        return 0
    if abs(rel[0]) > abs(rel[1]):
        return 2 if rel[0] > 0 else 1
    return 4 if rel[1] > 0 else 3


def reference_returns(policy: str, continuous: bool, episodes: int = EVAL_EPISODES, seed: int = 1000) -> list[float]:
    """Per-agent episode returns (team return / N) of the random or scripted policy on the raw parallel env."""
    from mpe2 import simple_spread_v3

    env = simple_spread_v3.parallel_env(N=N_AGENTS, local_ratio=0.5, max_cycles=25, continuous_actions=continuous)
    returns = []
    for episode in range(episodes):
        obs, _ = env.reset(seed=seed + episode)
        for agent in env.agents:
            env.action_space(agent).seed(seed + episode)
        total = 0.0
        while env.agents:
            if policy == "random":
                actions = {a: env.action_space(a).sample() for a in env.agents}
            else:
                actions = {a: scripted_action(obs[a], i, continuous) for i, a in enumerate(env.agents)}
            obs, rewards, _, _, _ = env.step(actions)
            total += sum(rewards.values())
        returns.append(total / N_AGENTS)
    env.close()
    return returns


# ---------------------------------------------------------------- speed
def adapter_overhead(steps: int = 5000) -> dict[str, float]:
    """Steps per second (CPU time of this process: the cores are shared) raw and through the adapter."""
    from mpe2 import simple_spread_v3

    rng = np.random.default_rng(0)
    joint = rng.uniform(-1, 1, size=(steps, 5 * N_AGENTS)).astype(np.float32)
    raw_actions = [{f"agent_{i}": (a[5 * i : 5 * i + 5] + 1) / 2 for i in range(N_AGENTS)} for a in joint]

    def run_raw() -> float:
        env = simple_spread_v3.parallel_env(N=N_AGENTS, continuous_actions=True)
        env.reset(seed=0)
        start = time.process_time()
        for action in raw_actions:
            if not env.agents:
                env.reset()
            env.step(action)
        return steps / (time.process_time() - start)

    def run_adapted() -> float:
        env = MultiAgentEnv(simple_spread_v3.parallel_env(N=N_AGENTS, continuous_actions=True), use_env_state=False)
        env.reset(seed=0)
        start = time.process_time()
        done = False
        for action in joint:
            if done:
                env.reset()
            _, _, terminated, truncated, _ = env.step(action)
            done = terminated or truncated
        return steps / (time.process_time() - start)

    def own_cost(calls: int = 20000) -> float:
        """Microseconds per step of the adapter alone, around a parallel env whose step does nothing."""
        from gymnasium import spaces
        from pettingzoo.utils.env import ParallelEnv

        class NoOp(ParallelEnv):
            metadata = {"name": "no-op"}

            def __init__(self):
                self.possible_agents = self.agents = [f"agent_{i}" for i in range(N_AGENTS)]
                self.out = ({a: np.zeros(18, np.float32) for a in self.agents}, {a: 0.0 for a in self.agents},
                            {a: False for a in self.agents}, {a: False for a in self.agents}, {a: {} for a in self.agents})

            def observation_space(self, agent):
                return spaces.Box(-np.inf, np.inf, (18,), np.float32)

            def action_space(self, agent):
                return spaces.Box(0.0, 1.0, (5,), np.float32)

            def reset(self, seed=None, options=None):
                return self.out[0], self.out[4]

            def step(self, actions):
                return self.out

        env = MultiAgentEnv(NoOp())
        env.reset(seed=0)
        start = time.process_time()
        for action in joint[:calls] if calls <= steps else joint:
            env.step(action)
        return (time.process_time() - start) / min(calls, steps) * 1e6

    raw, adapted = [], []
    for _ in range(5):  # interleaved, best of five: the cores are shared
        raw.append(run_raw())
        adapted.append(run_adapted())
    return {"raw_steps_per_s": max(raw), "adapted_steps_per_s": max(adapted),
            "adapter_overhead": max(raw) / max(adapted) - 1.0, "adapter_own_us_per_step": min(own_cost() for _ in range(3))}


def update_speed(repeats: int = 20, batch: int = 1024) -> dict[str, float]:
    """Milliseconds (CPU time of this process) of one MADDPG step, batched and as the notes' per-agent loop."""
    from mpe2 import simple_spread_v3
    from stable_baselines3.common.logger import configure

    from agents import MADDPG
    from agents.maddpg.maddpg import MultiAgentSamples
    from agents.maddpg.reference import per_agent_update, split_networks

    model = MADDPG("MlpPolicy", simple_spread_v3.parallel_env(N=N_AGENTS, continuous_actions=True), seed=0,
                   batch_size=batch, max_grad_norm=None, action_reg=0.0)
    model.set_logger(configure(None, []))
    policy = model.policy
    loop = split_networks(policy, lr=1e-2)
    g = th.Generator().manual_seed(0)
    obs, next_obs = th.randn(batch, 54, generator=g), th.randn(batch, 54, generator=g)
    actions = th.rand(batch, 15, generator=g) * 2 - 1
    rewards, dones = th.randn(batch, N_AGENTS, generator=g), th.zeros(batch, N_AGENTS)
    samples = MultiAgentSamples(obs, actions, next_obs, dones, rewards)
    model.replay_buffer.sample = lambda *_a, **_k: samples  # the same batch for both: only the update is timed

    def timed(step) -> float:
        step()  # warm-up
        best = float("inf")
        for _ in range(3):
            start = time.process_time()
            for _ in range(repeats):
                step()
            best = min(best, (time.process_time() - start) / repeats)
        return best * 1000

    batched_ms = timed(lambda: model.train(1, batch))
    loop_ms = timed(lambda: per_agent_update(policy, loop, obs, actions, next_obs, rewards, dones, 0.95, 0.01))
    return {"batched_update_ms": batched_ms, "per_agent_loop_update_ms": loop_ms, "loop_over_batched": loop_ms / batched_ms}


# ---------------------------------------------------------------- training
def train(algo: str, seed: int, steps: int, minutes: float, continuous: bool,
          overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.evaluation import evaluate_policy

    from agents.registry import get_spec
    from zoo.config import load_hyperparams, make_action_noise
    from zoo.envs.factory import create_env

    env_kwargs = {"N": N_AGENTS, "local_ratio": 0.5, "max_cycles": 25, "continuous_actions": continuous}
    hp = load_hyperparams(algo, ENV_ID, overrides=overrides or None)
    venv = create_env(ENV_ID, hp.n_envs, hyperparams=hp.raw, env_kwargs=env_kwargs, seed=seed)
    kwargs = dict(hp.algo_kwargs)
    if hp.action_noise is not None and continuous:
        kwargs["action_noise"] = make_action_noise(hp.action_noise, int(np.prod(venv.action_space.shape)))
    model = get_spec(algo).load()(hp.policy, venv, seed=seed, verbose=0, **kwargs)

    class Deadline(BaseCallback):
        def __init__(self, seconds: float):
            super().__init__()
            self.deadline = time.time() + seconds

        def _on_step(self) -> bool:
            return time.time() < self.deadline

    start = time.time()
    model.learn(min(steps, hp.n_timesteps), callback=Deadline(minutes * 60))
    train_seconds = time.time() - start
    eval_env = create_env(ENV_ID, 1, hyperparams=hp.raw, env_kwargs=env_kwargs, seed=10_000 + seed, training=False)
    team, _ = evaluate_policy(model, eval_env, n_eval_episodes=EVAL_EPISODES, deterministic=True, return_episode_rewards=True)
    per_agent = float(np.mean(team)) / N_AGENTS
    random_r = float(np.mean(reference_returns("random", continuous)))
    scripted_r = float(np.mean(reference_returns("scripted", continuous)))
    return {
        "algo": algo, "seed": seed, "continuous": continuous, "overrides": overrides or {},
        "env_steps": int(model.num_timesteps),
        "train_minutes": round(train_seconds / 60, 2), "per_agent_return": per_agent,
        "random_per_agent_return": random_r, "scripted_per_agent_return": scripted_r,
        "score": (per_agent - random_r) / (scripted_r - random_r),
    }


# ---------------------------------------------------------------- report
def write_report(results: dict[str, Any]) -> str:
    lines = ["MADDPG and the multi-agent adapter (benchmarks/maddpg.py); 2 shared CPU cores, torch 1 thread", ""]
    speed = results.get("speed")
    if speed:
        lines += [
            "speed (mpe2 simple_spread_v3, N=3, continuous)",
            f"  raw parallel env      {speed['raw_steps_per_s']:8.0f} steps/s",
            f"  through the adapter   {speed['adapted_steps_per_s']:8.0f} steps/s   overhead {100 * speed['adapter_overhead']:+.1f}% (goal <= 10%)",
            f"  the adapter's own cost around a no-op parallel env: {speed['adapter_own_us_per_step']:.1f} us/step "
            f"({100 * speed['adapter_own_us_per_step'] * speed['raw_steps_per_s'] / 1e6:.1f}% of a raw step)",
            f"  MADDPG update, batch 1024: batched {speed['batched_update_ms']:.1f} ms, per-agent loop (notes) "
            f"{speed['per_agent_loop_update_ms']:.1f} ms: loop / batched = {speed['loop_over_batched']:.2f}x",
            f"  MADDPG update, batch 256:  batched {speed['batched_update_ms_batch256']:.1f} ms, per-agent loop (notes) "
            f"{speed['per_agent_loop_update_ms_batch256']:.1f} ms: loop / batched = {speed['loop_over_batched_batch256']:.2f}x",
            "  (CPU time of the benchmark process, best of 3 interleaved repeats)",
            "",
        ]
    runs = results.get("train", {})
    if runs:
        lines += ["simple_spread_v3 (N=3, 25 steps, local_ratio 0.5): per-agent episode return, 100 eval episodes",
                  "score = (R - R_random) / (R_scripted - R_random), random and scripted measured in the same run",
                  f"score_issue: the same with the issue's references (random {ISSUE_RANDOM}, scripted {ISSUE_SCRIPTED})",
                  f"  {'run':46s} {'steps':>9s} {'minutes':>8s} {'R':>8s} {'R_random':>9s} {'R_scripted':>10s} {'score':>6s} {'score_issue':>11s}"]
        for name, run in sorted(runs.items()):
            issue_score = (run["per_agent_return"] - ISSUE_RANDOM) / (ISSUE_SCRIPTED - ISSUE_RANDOM)
            lines.append(f"  {name:46s} {run['env_steps']:9d} {run['train_minutes']:8.1f} {run['per_agent_return']:8.2f} "
                         f"{run['random_per_agent_return']:9.2f} {run['scripted_per_agent_return']:10.2f} {run['score']:6.2f} {issue_score:11.2f}")
        lines += ["", "shipped config (configs/maddpg.yml, train_freq 25) unless the name says otherwise; one seed per row,",
                  "each trained for the minutes shown on the shared cores (so far fewer steps than the issue's 2M).",
                  "issue goal: MADDPG >= 0.7 on each of 5 seeds within 2M steps (goal 0.8); runs above are what fit here."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="part", required=True)
    sub.add_parser("speed")
    t = sub.add_parser("train")
    t.add_argument("--algo", choices=["maddpg", "ppo"], default="maddpg")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--steps", type=int, default=2_000_000)
    t.add_argument("--minutes", type=float, default=15.0)
    t.add_argument("--continuous", action="store_true")
    t.add_argument("--hyperparams", nargs="*", default=[], metavar="KEY=VALUE",
                   help="config overrides (a variant of the shipped config, named in the results)")
    args = parser.parse_args()
    th.set_num_threads(1)
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / "maddpg.json"
    if args.part == "speed":
        small = update_speed(batch=256)
        figures = {**adapter_overhead(), **update_speed(),
                   **{f"{key}_batch256": value for key, value in small.items()}}
        print(json.dumps(figures, indent=2))
        key, value = "speed", figures
    else:
        from zoo.config import parse_assignments

        overrides = parse_assignments(args.hyperparams, "--hyperparams") if args.hyperparams else {}
        run = train(args.algo, args.seed, args.steps, args.minutes, args.continuous, overrides)
        print(json.dumps(run, indent=2))
        key, value = "train", run
    results = json.loads(path.read_text()) if path.is_file() else {}  # re-read: other parts may have finished
    if key == "train":
        name = f"{value['algo']}-{'continuous' if value['continuous'] else 'discrete'}-seed{value['seed']}"
        if value["overrides"]:
            name += " " + " ".join(f"{k}={v}" for k, v in value["overrides"].items())
        results.setdefault("train", {})[name] = value
    else:
        results[key] = value
    path.write_text(json.dumps(results, indent=2) + "\n")
    report = write_report(results)
    (RESULTS / "maddpg.txt").write_text(report)
    print(report)


if __name__ == "__main__":
    main()
