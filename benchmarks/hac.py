"""HAC benchmarks: goal MountainCar, goal Pendulum, PointMaze_UMaze-v3 beside SAC + HerReplayBuffer.

Every run uses ``configs/hac.yml`` (``zoo train``'s env factory and hyperparameter reader); each seed
writes ``benchmarks/results/hac/TASK_seedN.json`` (so seeds can run in parallel processes) and
``report`` gathers them into ``benchmarks/results/hac.txt``. Success is ``info["is_success"]`` at the
end of an episode, on deterministic evaluation episodes of a separate env (seed + 1000).

- ``mountaincar``: every 25 training episodes, 20 evaluation episodes; the figure is the number of
  training episodes until the evaluation success rate first reaches 95% (goal: within 300, every seed),
  then 100 more evaluation episodes of that agent. Reference (same run): the 95% target, as a ratio.
  Seed 0 also draws one evaluation episode's path and subgoals in the position-velocity plane
  (``benchmarks/results/hac_mountaincar_episode.png``).
- ``pendulum``: ``--episodes`` training episodes with 20 evaluation episodes every 50, then 100 final
  ones. Reference (same run): a uniformly random policy's success rate over 100 episodes.
- ``pointmaze``: HAC and SB3's SAC with ``HerReplayBuffer`` (n_sampled_goal 4, future) on the same
  env (``EndAtGoal``: one goal per episode) and the same step budget; 20 evaluation episodes every
  ``--eval-every`` steps; figures: the final success rate and the steps to 90% success.

Usage::

    python benchmarks/hac.py mountaincar --seeds 0 1 2 3 4 [--max-episodes 300] [--n-levels 3]
    python benchmarks/hac.py pendulum --seeds 0 1 2 3 4 [--episodes 300]
    python benchmarks/hac.py pointmaze --seeds 0 1 2 [--steps 30000] [--only hac|sac]
    python benchmarks/hac.py report
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch as th

RESULTS = Path(__file__).resolve().parent / "results"
PER_SEED = RESULTS / "hac"
MOUNTAIN_CAR, PENDULUM, MAZE = "GoalMountainCarContinuous-v0", "GoalPendulum-v1", "PointMaze_UMaze-v3"


def make(env_id: str, seed: int) -> tuple[Any, Any]:
    """``configs/hac.yml``'s entry and a one-env ``VecEnv`` built from it, as ``zoo train`` builds them."""
    from zoo.config import load_hyperparams
    from zoo.envs.factory import create_env

    hp = load_hyperparams("hac", env_id)
    return hp, create_env(env_id, 1, hyperparams=hp.raw, seed=seed)


def success_rate(model: Any, env: Any, episodes: int) -> tuple[float, float]:
    """Deterministic success rate and mean episode length over ``episodes`` episodes."""
    from stable_baselines3.common.evaluation import evaluate_policy

    finals: list[bool] = []

    def keep(local_vars: dict[str, Any], _: dict[str, Any]) -> None:
        if local_vars["done"]:
            finals.append(bool(local_vars["info"].get("is_success", False)))

    _, lengths = evaluate_policy(model, env, n_eval_episodes=episodes, deterministic=True, return_episode_rewards=True, callback=keep)
    return float(np.mean(finals)), float(np.mean(lengths))


def train_episodes(model: Any, episodes: int) -> None:
    """Train ``model`` for ``episodes`` more episodes (HAC's ``learn`` always finishes its episode)."""
    target = model._episode_num + episodes
    while model._episode_num < target:
        model.learn(1, reset_num_timesteps=model._episode_num == 0)


def save(name: str, data: dict[str, Any]) -> None:
    PER_SEED.mkdir(parents=True, exist_ok=True)
    (PER_SEED / f"{name}.json").write_text(json.dumps(data, indent=1))


# ---------------------------------------------------------------------- goal MountainCar


def mountain_car(seed: int, max_episodes: int, every: int = 25, n_levels: int | None = None) -> dict[str, Any]:
    """``n_levels`` 3: the config's entry with 3 levels of H = 10 (results ``mountaincar3_seedN.json``)."""
    from agents import HAC

    hp, env = make(MOUNTAIN_CAR, seed)
    _, eval_env = make(MOUNTAIN_CAR, seed + 1000)
    kwargs = {**hp.algo_kwargs, **({"n_levels": 3, "subgoal_horizon": 10} if n_levels == 3 else {})}
    name = f"mountaincar{'3' if n_levels == 3 else ''}_seed{seed}"
    model = HAC(hp.policy, env, seed=seed, **kwargs)
    start, curve, solved_at = time.time(), [], None
    while model._episode_num < max_episodes:
        train_episodes(model, every)
        rate, length = success_rate(model, eval_env, 20)
        curve.append({"episodes": model._episode_num, "steps": model.num_timesteps, "success": rate, "length": length})
        print(f"[mountaincar {seed}] {curve[-1]} {time.time() - start:.0f}s", flush=True)
        save(name, {"seed": seed, "episodes_to_95": None, "final_success_100": None, "steps": model.num_timesteps,
                                         "curve": curve, "seconds": time.time() - start, "unfinished": True})  # so far
        if rate >= 0.95:
            solved_at = model._episode_num
            break
    final, final_length = success_rate(model, eval_env, 100)
    if seed == 0 and n_levels != 3:
        draw_mountain_car_episode(model, make(MOUNTAIN_CAR, 2024)[1], RESULTS / "hac_mountaincar_episode.png")
    data = {"seed": seed, "episodes_to_95": solved_at, "final_success_100": final, "final_length": final_length,
            "steps": model.num_timesteps, "curve": curve, "seconds": time.time() - start}
    save(name, data)
    return data


def play_episode(model: Any, env: Any, obs: Any = None) -> tuple[np.ndarray, list[np.ndarray], bool]:
    """One deterministic episode (from ``obs``, the env's reset observation, or a fresh reset): the
    observations, the subgoal of level 1 at each step, success."""
    obs, state, start = env.reset() if obs is None else obs, None, np.ones(1, bool)
    path, subgoals, success = [obs["observation"][0].copy()], [], False
    while True:
        action, state = model.predict(obs, state=state, episode_start=start, deterministic=True)
        subgoals.append(state[0][0, 0].copy())
        obs, _, dones, infos = env.step(action)
        start = dones
        if dones[0]:
            path.append(infos[0]["terminal_observation"]["observation"].copy())
            return np.array(path), subgoals, bool(infos[0].get("is_success", False))
        path.append(obs["observation"][0].copy())


def draw_mountain_car_episode(model: Any, env: Any, out: Path) -> None:
    """The car's path in the position-velocity plane, the subgoals level 1 set (with their tolerance), the goal."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    path, subgoals, success = play_episode(model, env)
    distinct = [g for i, g in enumerate(subgoals) if i == 0 or not np.array_equal(g, subgoals[i - 1])]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.axvspan(0.45, 0.55, color="tab:green", alpha=0.15, label="goal region (position)")
    ax.plot(path[:, 0], path[:, 1], "-", color="tab:blue", lw=1.5, label=f"path ({len(path) - 1} steps)")
    ax.plot(path[0, 0], path[0, 1], "o", color="tab:blue")
    tol = model.subgoal_threshold
    for i, g in enumerate(distinct):
        ax.add_patch(Rectangle((g[0] - tol[0], g[1] - tol[1]), 2 * tol[0], 2 * tol[1], fill=False, color="tab:red", alpha=0.6))
        ax.plot(g[0], g[1], "x", color="tab:red", label="subgoals of level 1 (with tolerance)" if i == 0 else None)
        ax.annotate(str(i + 1), (g[0], g[1]), textcoords="offset points", xytext=(4, 4), fontsize=8, color="tab:red")
    ax.set_xlim(-1.2, 0.6)
    ax.set_ylim(-0.07, 0.07)
    ax.set_xlabel("position")
    ax.set_ylabel("velocity")
    ax.set_title(f"HAC (2 levels, H={model.subgoal_horizon}) on GoalMountainCarContinuous-v0: "
                 f"{'reached' if success else 'missed'} the flag")
    ax.legend(loc="lower left", fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    print(f"wrote {out}")


# ---------------------------------------------------------------------- goal Pendulum


def pendulum(seed: int, episodes: int, every: int = 50) -> dict[str, Any]:
    from agents import HAC

    hp, env = make(PENDULUM, seed)
    _, eval_env = make(PENDULUM, seed + 1000)
    model = HAC(hp.policy, env, seed=seed, **hp.algo_kwargs)
    start, curve = time.time(), []
    while model._episode_num < episodes:
        train_episodes(model, every)
        rate, length = success_rate(model, eval_env, 20)
        curve.append({"episodes": model._episode_num, "steps": model.num_timesteps, "success": rate, "length": length})
        print(f"[pendulum {seed}] {curve[-1]} {time.time() - start:.0f}s", flush=True)
    final, final_length = success_rate(model, eval_env, 100)
    data = {"seed": seed, "episodes": model._episode_num, "steps": model.num_timesteps, "final_success_100": final,
            "final_length": final_length, "random_success_100": random_success(PENDULUM, seed + 2000, 100),
            "curve": curve, "seconds": time.time() - start}
    save(f"pendulum_seed{seed}", data)
    return data


def random_success(env_id: str, seed: int, episodes: int) -> float:
    """Success rate of uniformly random actions (the chance reference)."""
    _, env = make(env_id, seed)
    env.action_space.seed(seed)
    env.reset()
    finals: list[bool] = []
    while len(finals) < episodes:
        _, _, dones, infos = env.step(np.array([env.action_space.sample()]))
        if dones[0]:
            finals.append(bool(infos[0].get("is_success", False)))
    return float(np.mean(finals))


# ---------------------------------------------------------------------- PointMaze: HAC beside SAC + HER


def point_maze(seed: int, algo: str, steps: int, every: int) -> dict[str, Any]:
    from stable_baselines3 import SAC, HerReplayBuffer

    from agents import HAC

    hp, env = make(MAZE, seed)
    _, eval_env = make(MAZE, seed + 1000)
    if algo == "hac":
        model = HAC(hp.policy, env, seed=seed, **hp.algo_kwargs)
    else:
        model = SAC("MultiInputPolicy", env, seed=seed, replay_buffer_class=HerReplayBuffer,
                    replay_buffer_kwargs={"n_sampled_goal": 4, "goal_selection_strategy": "future"}, learning_starts=1000)
    start, curve = time.time(), []
    while model.num_timesteps < steps:
        model.learn(every, reset_num_timesteps=model.num_timesteps == 0)
        rate, length = success_rate(model, eval_env, 20)
        curve.append({"steps": model.num_timesteps, "success": rate, "length": length})
        print(f"[pointmaze {algo} {seed}] {curve[-1]} {time.time() - start:.0f}s", flush=True)
    to_90 = next((point["steps"] for point in curve if point["success"] >= 0.9), None)
    if algo == "hac" and seed == 0:
        draw_maze_episode(model, make(MAZE, 2024)[1], RESULTS / "hac_pointmaze_episode.png")
    data = {"seed": seed, "algo": algo, "steps": model.num_timesteps, "final_success": curve[-1]["success"],
            "steps_to_90": to_90, "curve": curve, "seconds": time.time() - start}
    save(f"pointmaze_{algo}_seed{seed}", data)
    return data


def draw_maze_episode(model: Any, env: Any, out: Path) -> None:
    """The U-maze from above: walls, the ball's path, the subgoals level 1 set, the goal."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Circle, Rectangle

    obs = env.reset()
    desired = obs["desired_goal"][0].copy()
    path, subgoals, success = play_episode(model, env, obs)
    distinct = [g for i, g in enumerate(subgoals) if i == 0 or not np.array_equal(g, subgoals[i - 1])]
    maze = env.envs[0].unwrapped.maze.maze_map
    fig, ax = plt.subplots(figsize=(5, 5))
    rows, cols = len(maze), len(maze[0])
    for i, row in enumerate(maze):
        for j, cell in enumerate(row):
            if cell == 1:
                ax.add_patch(Rectangle((j - cols / 2, rows / 2 - i - 1), 1, 1, color="0.3"))
    ax.add_patch(Circle(desired, 0.45, color="tab:green", alpha=0.25, label="goal (success radius 0.45)"))
    ax.plot(path[:, 0], path[:, 1], "-", color="tab:blue", label=f"path ({len(path) - 1} steps)")
    ax.plot(path[0, 0], path[0, 1], "o", color="tab:blue")
    for i, g in enumerate(distinct):
        ax.plot(g[0], g[1], "x", color="tab:red", label="subgoals of level 1" if i == 0 else None)
        ax.annotate(str(i + 1), (g[0], g[1]), textcoords="offset points", xytext=(3, 3), fontsize=7, color="tab:red")
    ax.set_xlim(-cols / 2, cols / 2)
    ax.set_ylim(-rows / 2, rows / 2)
    ax.set_aspect("equal")
    ax.set_title(f"HAC on PointMaze_UMaze-v3: {'reached' if success else 'missed'} the goal", fontsize=10)
    ax.legend(loc="upper left", fontsize=7)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    print(f"wrote {out}")


# ---------------------------------------------------------------------- report


def report() -> str:
    def load(pattern: str) -> list[dict[str, Any]]:
        return [json.loads(p.read_text()) for p in sorted(PER_SEED.glob(pattern))]

    lines = ["HAC benchmarks (benchmarks/hac.py, configs/hac.yml); success = info['is_success'] on deterministic evaluation episodes", ""]
    cars = load("mountaincar_seed*.json")
    if cars:
        solved = [c for c in cars if c["episodes_to_95"] is not None and c["episodes_to_95"] <= 300]
        lines.append("GoalMountainCarContinuous-v0, 2 levels: training episodes until 20 evaluation episodes reach 95% success (goal: <= 300 on every seed)")
        for c in cars:
            if c.get("unfinished"):
                lines.append(f"  seed {c['seed']}: NOT reached after {c['curve'][-1]['episodes']} episodes ({c['steps']} steps, "
                             f"{c['seconds']:.0f} s; run stopped there); evaluation success " +
                             ", ".join(f"{p['episodes']}:{p['success']:.2f}" for p in c["curve"]))
                continue
            lines.append(f"  seed {c['seed']}: {c['episodes_to_95']} episodes ({c['steps']} steps, {c['seconds']:.0f} s); "
                         f"then success {c['final_success_100']:.2f} over 100 episodes, mean length {c['final_length']:.0f}")
        cars = [c for c in cars if not c.get("unfinished")]
        mean_final = float(np.mean([c["final_success_100"] for c in cars]))
        lines.append(f"  {len(solved)} of {len(load('mountaincar_seed*.json'))} seeds reached it; mean success over 100 episodes of those "
                     f"{mean_final:.3f}, ratio to the 95% target {mean_final / 0.95:.3f}")
        lines.append("")
    three = load("mountaincar3_seed*.json")
    if three:
        lines.append("GoalMountainCarContinuous-v0, 3 levels of H = 10 (otherwise the same config): episodes until 95% success")
        for c in three:
            lines.append(f"  seed {c['seed']}: {c['episodes_to_95']} episodes ({c['steps']} steps, {c['seconds']:.0f} s); then success "
                         f"{c['final_success_100']} over 100 episodes" if not c.get("unfinished") else
                         f"  seed {c['seed']}: NOT reached after {c['curve'][-1]['episodes']} episodes (run stopped there)")
        lines.append("")
    pends = load("pendulum_seed*.json")
    if pends:
        lines.append("GoalPendulum-v1, 2 levels: success over 100 evaluation episodes after training, beside random actions (same run)")
        for p in pends:
            lines.append(f"  seed {p['seed']}: {p['final_success_100']:.2f} after {p['episodes']} episodes ({p['steps']} steps, "
                         f"{p['seconds']:.0f} s); random {p['random_success_100']:.2f}; curve " +
                         ", ".join(f"{c['episodes']}:{c['success']:.2f}" for c in p["curve"]))
        hac, rnd = np.mean([p["final_success_100"] for p in pends]), np.mean([p["random_success_100"] for p in pends])
        lines.append(f"  mean {hac:.3f} vs random {rnd:.3f}" + (f" (ratio {hac / rnd:.1f})" if rnd > 0 else ""))
        lines.append("")
    mazes = load("pointmaze_*_seed*.json")
    if mazes:
        lines.append("PointMaze_UMaze-v3 (EndAtGoal): HAC beside SAC + HerReplayBuffer at the same step budget; 20 evaluation episodes")
        means = {}
        for algo in ("hac", "sac"):
            runs = [m for m in mazes if m["algo"] == algo]
            for m in runs:
                lines.append(f"  {algo} seed {m['seed']}: final success {m['final_success']:.2f} at {m['steps']} steps, "
                             f"steps to 90%: {m['steps_to_90']}, {m['seconds']:.0f} s; curve " +
                             ", ".join(f"{c['steps']}:{c['success']:.2f}" for c in m["curve"]))
            if runs:
                means[algo] = float(np.mean([m["final_success"] for m in runs]))
                lines.append(f"  {algo}: mean final success {means[algo]:.3f} over {len(runs)} seeds")
        paired = [(h, m) for h in mazes if h["algo"] == "hac" for m in mazes
                  if m["algo"] == "sac" and m["seed"] == h["seed"] and abs(m["steps"] - h["steps"]) <= 0.1 * m["steps"]]
        if paired and np.mean([m["final_success"] for _, m in paired]) > 0:
            ratio = np.mean([h["final_success"] for h, _ in paired]) / np.mean([m["final_success"] for _, m in paired])
            lines.append(f"  ratio HAC / SAC+HER (final success, seeds run to the same budget: "
                         f"{', '.join(str(h['seed']) for h, _ in paired)}): {ratio:.2f}")
        budget = min(m["steps"] for m in mazes)  # every run's success at the smallest budget any run had
        for algo in ("hac", "sac"):
            early = [max((c for c in m["curve"] if c["steps"] <= 1.05 * budget), key=lambda c: c["steps"], default=None)
                     for m in mazes if m["algo"] == algo]
            early = [c for c in early if c is not None]
            if early:
                lines.append(f"  {algo}: success at about {budget} steps (every run): "
                             + ", ".join(f"{c['success']:.2f}" for c in early))
        lines.append("")
    text = "\n".join(lines)
    (RESULTS / "hac.txt").write_text(text)
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("task", choices=["mountaincar", "pendulum", "pointmaze", "report"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--max-episodes", type=int, default=300)
    parser.add_argument("--episodes", type=int, default=300)
    parser.add_argument("--steps", type=int, default=30_000)
    parser.add_argument("--eval-every", type=int, default=3_000)
    parser.add_argument("--only", choices=["hac", "sac"], default=None)
    parser.add_argument("--n-levels", type=int, choices=[2, 3], default=2, help="mountaincar: 2 (the config) or 3 levels of H = 10")
    args = parser.parse_args()
    th.set_num_threads(1)
    for seed in args.seeds if args.task != "report" else []:
        if args.task == "mountaincar":
            mountain_car(seed, args.max_episodes, n_levels=args.n_levels)
        elif args.task == "pendulum":
            pendulum(seed, args.episodes)
        else:
            for algo in [args.only] if args.only else ["hac", "sac"]:
                point_maze(seed, algo, args.steps, args.eval_every)
    print(report())


if __name__ == "__main__":
    main()
