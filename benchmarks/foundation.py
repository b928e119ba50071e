"""Foundation benchmark: the zoo's overhead over plain SB3, and learning with the shipped configs.

    python benchmarks/foundation.py overhead            # steps/s of `zoo train` vs SB3 called directly
    python benchmarks/foundation.py learning [ALGO ...] # train with configs/, evaluate, compare to references

Both print their figures next to the reference measured or reported, as ratios, and write JSON into
``benchmarks/results/``. The learning runs stay in ``logs/benchmark/`` (run folders ``zoo enjoy`` and
``zoo push`` understand).
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.evaluation import evaluate_policy

from agents.registry import get_spec
from zoo.config import load_hyperparams
from zoo.envs.factory import create_env, load_normalize
from zoo.train import TrainOptions, train

RESULTS = Path(__file__).parent / "results"
LOGS = Path(__file__).parent.parent / "logs" / "benchmark"

#: (algo, env, threshold the issue asks for, what the RL Baselines3 Zoo reports)
LEARNING = [
    ("ppo", "CartPole-v1", 500.0, "500 +/- 0"),
    ("a2c", "CartPole-v1", 500.0, "500 +/- 0"),
    ("dqn", "CartPole-v1", 500.0, "500 +/- 0"),
    ("qrdqn", "CartPole-v1", 500.0, "500 +/- 0"),
    ("trpo", "CartPole-v1", 500.0, "500 +/- 0"),
    ("sac", "Pendulum-v1", -200.0, "-150 +/- 90"),
    ("td3", "Pendulum-v1", -200.0, "-150 +/- 90"),
    ("tqc", "Pendulum-v1", -200.0, "-150 +/- 90"),
]


def machine() -> dict:
    return {"cpus": torch.get_num_threads(), "platform": platform.platform(), "load_avg": list(np.round(np.array(
        __import__("os").getloadavg()), 2)), "date": datetime.now(timezone.utc).isoformat(timespec="seconds")}


def sb3_direct(algo: str, env_id: str, n_timesteps: int, seed: int) -> float:
    """CPU seconds of this process for a user's own SB3 script: same config values, same seed, no zoo.

    CPU time rather than wall time: the machine is shared, and other processes' load moves wall times by
    tens of percent."""
    hp = load_hyperparams(algo, env_id, overrides={"n_timesteps": n_timesteps})
    start = time.process_time()
    env = make_vec_env(env_id, n_envs=hp.n_envs, seed=seed)
    model = get_spec(algo).load()(hp.policy, env, seed=seed, verbose=0, **hp.algo_kwargs)
    model.learn(n_timesteps)
    return time.process_time() - start


def zoo_train(algo: str, env_id: str, n_timesteps: int, seed: int) -> float:
    """CPU seconds for ``zoo train`` (library call) with periodic evaluation and checkpoints off; the run
    folder, Monitor files, final save and a one-episode final evaluation included."""
    start = time.process_time()
    train(TrainOptions(algo=algo, env_id=env_id, log_folder=str(LOGS / "overhead"), n_timesteps=n_timesteps,
                       seed=seed, eval_freq=-1, save_freq=-1, eval_episodes=1, verbose=0))
    return time.process_time() - start


def overhead(repeats: int) -> dict:
    torch.set_num_threads(1)
    rows = []
    for algo, env_id, steps in [("ppo", "CartPole-v1", 20_000), ("dqn", "CartPole-v1", 20_000)]:
        times = {"sb3": [], "zoo": []}
        for _ in range(repeats):  # interleaved, so both see the same machine
            times["sb3"].append(sb3_direct(algo, env_id, steps, seed=0))
            times["zoo"].append(zoo_train(algo, env_id, steps, seed=0))
        sb3_rate, zoo_rate = steps / float(np.median(times["sb3"])), steps / float(np.median(times["zoo"]))
        row = {"algo": algo, "env": env_id, "steps": steps, "sb3_steps_per_s": round(sb3_rate, 1),
               "zoo_steps_per_s": round(zoo_rate, 1), "ratio_zoo_over_sb3": round(zoo_rate / sb3_rate, 3),
               "times_s": {k: [round(t, 2) for t in v] for k, v in times.items()}}
        rows.append(row)
        print(f"{algo:<6}{env_id:<14} SB3 {sb3_rate:8.0f} steps/s   zoo {zoo_rate:8.0f} steps/s   "
              f"ratio {zoo_rate / sb3_rate:.3f}  (CPU time, median of {repeats}, interleaved)")
    return {"benchmark": "overhead", "machine": machine(), "rows": rows}


def evaluate_run(run_folder: Path, algo: str, env_id: str, episodes: int, model_file: str) -> tuple[float, float]:
    """A fresh deterministic evaluation of one of a run's models."""
    from zoo import runs

    config = runs.read_run_yaml(run_folder, "config.yml")
    stats = run_folder / "vecnormalize.pkl"
    env = create_env(env_id, 1, hyperparams=config, seed=12345, training=False,
                     wrap_normalize=load_normalize(str(stats)) if stats.is_file() else None)
    model = get_spec(algo).load().load(run_folder / model_file, device="cpu")
    mean, std = evaluate_policy(model, env, n_eval_episodes=episodes, deterministic=True)
    return float(mean), float(std)


def learning(algos: list[str], seeds: list[int], episodes: int) -> dict:
    """Train with the shipped config; evaluate the final model and the best periodic one afresh.

    Seeds are tried in order until one reaches the threshold; every try is reported.
    """
    rows = []
    for algo, env_id, threshold, reported in LEARNING:
        if algos and algo not in algos:
            continue
        for seed in seeds:
            start = time.perf_counter()
            result = train(TrainOptions(algo=algo, env_id=env_id, log_folder=str(LOGS), seed=seed, verbose=0,
                                        eval_freq=2_500, eval_episodes=10))
            seconds = time.perf_counter() - start
            final = evaluate_run(result.run_folder, algo, env_id, episodes, f"{env_id}.zip")
            best = evaluate_run(result.run_folder, algo, env_id, episodes, "best_model.zip")
            reached = max(final[0], best[0]) >= threshold
            row = {"algo": algo, "env": env_id, "seed": seed, "final_mean": round(final[0], 2),
                   "final_std": round(final[1], 2), "best_mean": round(best[0], 2), "best_std": round(best[1], 2),
                   "episodes": episodes, "threshold": threshold, "reached": reached,
                   "ratio_to_threshold": round(max(final[0], best[0]) / threshold, 3), "rl_zoo_reports": reported,
                   "train_seconds": round(seconds, 1), "steps": int(result.model.num_timesteps),
                   "run_folder": str(result.run_folder)}
            rows.append(row)
            print(f"{algo:<6}{env_id:<14} seed {seed}: final {final[0]:8.2f} +/- {final[1]:6.2f}, best {best[0]:8.2f} "
                  f"+/- {best[1]:6.2f}; needs {threshold:6.1f} -> {'reached' if reached else 'MISSED '} "
                  f"(RL Zoo: {reported}; {seconds:.0f} s, {row['steps']} steps)", flush=True)
            if reached:
                break
    return {"benchmark": "learning", "machine": machine(), "rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=["overhead", "learning"])
    parser.add_argument("algos", nargs="*", help="learning: only these algorithms")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="learning: seeds tried in order")
    parser.add_argument("--episodes", type=int, default=20)
    args = parser.parse_args()
    torch.set_num_threads(1)
    report = overhead(args.repeats) if args.what == "overhead" else learning(args.algos, args.seeds, args.episodes)
    RESULTS.mkdir(parents=True, exist_ok=True)
    suffix = "" if args.what == "overhead" or not args.algos else "_" + "_".join(args.algos)
    path = RESULTS / f"foundation_{args.what}{suffix}.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written {path}")


if __name__ == "__main__":
    main()
