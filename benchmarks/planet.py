"""PlaNet benchmarks: planner speed, learning from states (and pixels), open-loop predictions as a picture.

Each part writes ``benchmarks/results/planet_*.json``; ``report`` gathers them into ``planet.txt``::

    python benchmarks/planet.py speed                       # batched CEM vs the notes' loop, paper settings
    python benchmarks/planet.py learn --env Pendulum-v1 --seed 0
    python benchmarks/planet.py learn --env CartpoleSwingupPixels-v0 --conf-file configs/planet_pixels_cpu.yml --picture
    python benchmarks/planet.py report

Run with ``nice -n 10`` and ``OMP_NUM_THREADS=1`` on shared machines (one torch thread is used).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch as th

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "benchmarks" / "results"


def speed(repeats: int, loop_repeats: int) -> dict:
    """Seconds per planned action, batched CEM and the loop-per-sequence CEM, same model and draws."""
    from agents import PlaNet
    from agents.planet.planner import cem_plan, cem_plan_loop

    out = {}
    model = PlaNet("MlpPolicy", "Pendulum-v1", seed=0)  # the paper's model sizes (200 / 30 / 200)
    latent = th.randn(model.policy.rssm.latent_size)
    for name, (j, k, i) in {"paper J1000 K100 I10": (1000, 100, 10), "cpu config J300 K30 I5": (300, 30, 5)}.items():
        def timed(planner, n):
            planner(model.policy, latent, 1, 12, j, k, i, th.Generator().manual_seed(0))  # warm-up
            start, cpu = time.perf_counter(), time.process_time()
            for r in range(n):
                planner(model.policy, latent, 1, 12, j, k, i, th.Generator().manual_seed(r))
            return (time.perf_counter() - start) / n, (time.process_time() - cpu) / n

        (batched, batched_cpu), (loop, loop_cpu) = timed(cem_plan, repeats), timed(cem_plan_loop, loop_repeats)
        out[name] = {"batched_s": batched, "loop_s": loop, "ratio": batched / loop, "batched_cpu_s": batched_cpu, "loop_cpu_s": loop_cpu}
        print(f"{name}: batched {batched:.3f} s/action (CPU {batched_cpu:.3f}), loop {loop:.3f} s/action (CPU {loop_cpu:.3f}), "
              f"ratio {batched / loop:.4f}", flush=True)
    return out


def learn(env_id: str, seed: int, conf_file: str | None, episodes: int | None, eval_episodes: int, picture: bool, device: str) -> dict:
    """Train with the config's entry, record every training episode's return, evaluate the final model."""
    from stable_baselines3.common.callbacks import BaseCallback

    from agents.common.evaluation import EvaluationRequest, evaluate_agent
    from zoo.config import load_hyperparams
    from zoo.envs.factory import create_env, make_env

    hp = load_hyperparams("planet", env_id, conf_file)
    env = create_env(env_id, hyperparams=hp.raw, seed=seed)
    n_timesteps = hp.n_timesteps
    from agents import PlaNet

    model = PlaNet(hp.policy, env, seed=seed, device=device, verbose=0, **hp.algo_kwargs)
    curve: list[tuple[int, float]] = []

    class Curve(BaseCallback):
        def _on_step(self) -> bool:
            for info in self.locals["infos"]:
                if "episode" in info:
                    curve.append((self.num_timesteps, float(info["episode"]["r"])))
                    print(f"episode {len(curve)} steps {self.num_timesteps} return {info['episode']['r']:.1f} "
                          f"loss {model.loss_total:.2f} ({time.strftime('%H:%M:%S')})", flush=True)
            return episodes is None or len(curve) < episodes

    start = time.perf_counter()
    model.learn(n_timesteps, callback=Curve())
    train_seconds = time.perf_counter() - start
    tag = f"{env_id}_seed{seed}" + ("_cpu" if conf_file else "")
    (ROOT / "logs").mkdir(exist_ok=True)
    model.save(ROOT / "logs" / f"planet_benchmark_{tag}.zip")  # not committed (the Adam state of a pixel model is 15 MB)
    request = EvaluationRequest(env_id, lambda: create_env(env_id, hyperparams=hp.raw, seed=seed + 10_000, training=False),
                                lambda: make_env(env_id, hp.raw), n_eval_episodes=eval_episodes, seed=seed + 10_000)
    figures = evaluate_agent(model, request)
    print(json.dumps(figures), flush=True)
    result = {"env_id": env_id, "seed": seed, "conf_file": conf_file, "episodes": len(curve), "steps": model.num_timesteps,
              "train_seconds": train_seconds, "curve": curve, "evaluation": figures, "planner": hp.algo_kwargs}
    if picture:
        result["picture"] = open_loop_picture(model, env_id, hp, seed, RESULTS / f"planet_open_loop_{tag}.png")
    (RESULTS / f"planet_learn_{tag}.json").write_text(json.dumps(result, indent=1))
    return result


def open_loop_picture(model, env_id: str, hp, seed: int, path: Path, context: int = 5, steps: int = 50) -> str:
    """One episode with the planner: real frames (top) beside the model's open-loop predictions (bottom)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from agents.planet.world_model import postprocess_pixels
    from zoo.envs.factory import create_env

    env = create_env(env_id, hyperparams=hp.raw, seed=seed + 20_000, training=False)
    obs, state, start = env.reset(), None, np.ones(1, bool)
    frames, actions = [np.transpose(obs[0], (2, 0, 1))], []
    for _ in range(steps - 1):
        _, state = model.predict(obs, state, start, deterministic=True)
        actions.append(state[2][0])
        obs, _, start, _ = env.step(model._to_env_action(state[2]))
        frames.append(np.transpose(obs[0], (2, 0, 1)))
    env.close()
    tensor = lambda x: th.as_tensor(np.stack(x), device=model.device)  # noqa: E731
    predicted = postprocess_pixels(model.policy.open_loop(tensor(frames), tensor(actions), context), model.policy.bit_depth).cpu().numpy()
    shown = list(range(0, steps, max(steps // 10, 1)))[:10]
    fig, axes = plt.subplots(2, len(shown), figsize=(1.5 * len(shown), 3.4))
    for col, t in enumerate(shown):
        axes[0, col].imshow(np.transpose(frames[t], (1, 2, 0)))
        axes[1, col].imshow(np.transpose(predicted[t], (1, 2, 0)))
        axes[0, col].set_title(f"t={t}", fontsize=8)
        for row in (0, 1):
            axes[row, col].axis("off")
    axes[0, 0].text(-8, 32, "real", rotation=90, va="center", ha="right", fontsize=8)
    axes[1, 0].text(-8, 32, "model", rotation=90, va="center", ha="right", fontsize=8)
    fig.suptitle(f"PlaNet {env_id}: real frames (top), open-loop predictions after {context} observed frames (bottom)", fontsize=8)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return str(path.relative_to(ROOT))


def report() -> str:
    """planet.txt from the json files of the parts that were run."""
    lines = ["PlaNet benchmarks (benchmarks/planet.py); one torch thread on the shared 2-core CPU machine, no GPU."]
    speed_file = RESULTS / "planet_speed.json"
    if speed_file.is_file():
        lines.append("\nPlanner seconds per action (H 12, paper model sizes): batched CEM vs the notes' loop-per-sequence CEM, same run")
        for name, row in json.loads(speed_file.read_text()).items():
            cpu = f"   (CPU time: batched {row['batched_cpu_s']:.3f} s, loop {row['loop_cpu_s']:.3f} s)" if "batched_cpu_s" in row else ""
            lines.append(f"  {name:24s} batched {row['batched_s']:.3f} s   loop {row['loop_s']:.3f} s   ratio {row['ratio']:.4f}{cpu}")
    runs = sorted(RESULTS.glob("planet_learn_*.json"))
    by_env: dict[str, list[dict]] = {}
    for path in runs:
        result = json.loads(path.read_text())
        by_env.setdefault(result["env_id"] + (" (" + result["conf_file"] + ")" if result["conf_file"] else ""), []).append(result)
    for env, results in by_env.items():
        lines.append(f"\n{env}: final evaluation (deterministic planner) after training, per seed")
        for r in results:
            ev = r["evaluation"]
            last = [ret for _, ret in r["curve"][-5:]]
            lines.append(f"  seed {r['seed']}: {r['episodes']} episodes ({r['steps']} agent steps), {r['train_seconds'] / 60:.0f} min; "
                         f"eval {ev['mean_reward']:.1f} +/- {ev['std_reward']:.1f} over {ev['n_eval_episodes']} episodes; "
                         f"last 5 training episodes {np.mean(last):.1f}; planner {ev['planner_seconds_per_action']:.3f} s/action; "
                         f"model loss obs {ev.get('model_loss/observation', float('nan')):.2f} reward {ev.get('model_loss/reward', float('nan')):.3f} "
                         f"kl {ev.get('model_loss/kl', float('nan')):.2f}")
            if "picture" in r:
                lines.append(f"  picture: {r['picture']}")
        means = [r["evaluation"]["mean_reward"] for r in results]
        lines.append(f"  mean over {len(means)} seeds: {np.mean(means):.1f}")
    text = "\n".join(lines) + "\n"
    (RESULTS / "planet.txt").write_text(text)
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="part", required=True)
    p = sub.add_parser("speed")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--loop-repeats", type=int, default=1)
    p = sub.add_parser("learn")
    p.add_argument("--env", default="Pendulum-v1")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--conf-file", default=None)
    p.add_argument("--episodes", type=int, default=None, help="stop after this many episodes (default: the config's n_timesteps)")
    p.add_argument("--eval-episodes", type=int, default=5)
    p.add_argument("--picture", action="store_true", help="save real frames beside open-loop predictions (pixel envs)")
    p.add_argument("--device", default="cpu")
    sub.add_parser("report")
    args = parser.parse_args()
    th.set_num_threads(1)
    RESULTS.mkdir(parents=True, exist_ok=True)
    if args.part == "speed":
        (RESULTS / "planet_speed.json").write_text(json.dumps(speed(args.repeats, args.loop_repeats), indent=1))
    elif args.part == "learn":
        learn(args.env, args.seed, args.conf_file, args.episodes, args.eval_episodes, args.picture, args.device)
    print(report())


if __name__ == "__main__":
    main()
