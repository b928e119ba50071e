"""Run a trained agent: find it (a run folder, the pretrained store or the Hub), make its env, play it."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.vec_env import VecEnv

from agents.registry import get_spec
from zoo import runs
from zoo.envs.factory import create_env, load_normalize
from zoo.errors import ZooError


@dataclass
class Agent:
    """A model with what it needs to be played: its env id, config and normalisation statistics.

    :param model: the trained algorithm
    :param algo: registry name of the algorithm
    :param env_id: env id it was trained on
    :param hyperparams: its config entry (``env_wrapper``, ``frame_stack``, ``normalize`` matter here)
    :param env_kwargs: keyword arguments for ``gym.make``
    :param wrap_normalize: applies its saved normalisation statistics to a ``VecEnv``, or ``None``
    :param origin: where it was loaded from, for messages
    """

    model: BaseAlgorithm
    algo: str
    env_id: str
    hyperparams: dict[str, Any] = field(default_factory=dict)
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    wrap_normalize: Any = None
    origin: str = ""


def load_run(run_folder: str | Path, load_best: bool = False, checkpoint: int | None = None, device: str = "auto") -> Agent:
    """Load an agent from a local run folder (SB3's own ``load``: these are files this user wrote)."""
    from zoo.pull import check_pulled_run

    run_folder = Path(run_folder)
    check_pulled_run(run_folder)  # a pulled run stays a download: its config is checked like one
    args = runs.read_run_yaml(run_folder, "args.yml")
    algo, env_id = args["algo"], args["env_id"]
    path = runs.model_path(run_folder, env_id, load_best, checkpoint)
    model = get_spec(algo).load().load(path, device=device)
    stats = run_folder / "vecnormalize.pkl"
    if path.parent.name == "checkpoints":
        stats = runs.checkpoint_files(run_folder, model.num_timesteps)["vecnormalize"]
    env_kwargs_file = run_folder / "env_kwargs.yml"
    return Agent(
        model=model, algo=algo, env_id=env_id,
        hyperparams=runs.read_run_yaml(run_folder, "config.yml") or {},
        env_kwargs=(runs.read_run_yaml(run_folder, "env_kwargs.yml") if env_kwargs_file.is_file() else None) or {},
        wrap_normalize=load_normalize(str(stats)) if stats.is_file() else None,
        origin=str(path),
    )


def find_agent(algo: str, env_id: str, log_folder: str = "logs", exp_id: int = 0, load_best: bool = False,
               checkpoint: int | None = None, device: str = "auto") -> Agent:
    """The latest local run of ``algo`` on ``env_id`` that holds a model, else the zoo's pretrained agent for it.

    Newer runs without a model (failed, or killed before their first checkpoint) are passed over, with a line on
    stderr naming them.
    """
    spec = get_spec(algo)
    run_folder = runs.find_run(log_folder, spec.name, env_id, exp_id, load_best=load_best and exp_id == 0)
    passed_over = [f.name for f in runs.runs_without_model(log_folder, spec.name, env_id, newer_than=run_folder)] if exp_id == 0 else []
    empty = f"{', '.join(passed_over)} {'holds' if len(passed_over) == 1 else 'hold'} no model (failed or stopped before a checkpoint)"
    if run_folder is not None:
        if passed_over:
            print(f"Using {run_folder}, the latest run with a model: {empty}", file=sys.stderr)
        return load_run(run_folder, load_best, checkpoint, device)
    looked = runs.algo_folder(log_folder, spec.name) / f"{runs.safe_env_name(env_id)}_{exp_id or 'N'}"
    if exp_id == 0 and not load_best and checkpoint is None:
        from hub.store import find_pretrained

        folder = find_pretrained(spec.name, env_id)
        if folder is not None:
            if passed_over:
                print(f"Using the pretrained agent: {empty}", file=sys.stderr)
            return load_hub_agent(str(folder), device=device)
        if not needs_training(algo):
            return planner_agent(algo, env_id, device)
    raise ZooError(
        f"no run of {spec.name} on {env_id}" + (f" with a model ({empty})" if passed_over else "")
        + f": looked for {looked}"
        + (" and in the pretrained store" if exp_id == 0 else "")
        + f"; train one with `zoo train --algo {spec.name} --env {env_id}` or pass --folder"
    )


def needs_training(algo: str) -> bool:
    """Whether an algorithm must be trained before it plays (a planner such as MCTS declares it does not)."""
    return bool(getattr(get_spec(algo).load(), "needs_training", True))


def planner_agent(algo: str, env_id: str, device: str = "auto", seed: int = 0) -> Agent:
    """An algorithm that plays without training, built from its config entry for ``env_id`` and ``seed``.

    The env is passed by id: the algorithm makes it, so ids it knows beyond gymnasium's work too.
    """
    from zoo.config import config_path, load_hyperparams

    spec = get_spec(algo)
    hyperparams = load_hyperparams(spec.name, env_id)
    kwargs = {"seed": seed, **hyperparams.algo_kwargs}
    model = spec.load()(hyperparams.policy, env_id, device=device, **kwargs)
    return Agent(model=model, algo=spec.name, env_id=env_id, hyperparams=hyperparams.raw,
                 origin=f"{config_path(spec.name).name} (a planner: nothing to train)")


def is_gym_env(env_id: str) -> bool:
    """Whether gymnasium knows ``env_id`` (an algorithm may know other ids, e.g. PettingZoo games)."""
    import gymnasium as gym

    return env_id in gym.registry


def evaluate_by_hook(agent: Agent, n_episodes: int, deterministic: bool = True, seed: int = 0) -> dict[str, Any]:
    """An agent's figures from its algorithm's evaluation hook (:func:`agents.common.evaluation.evaluate_agent`):
    on a gymnasium env, with envs built as it was trained; on another id (a PettingZoo game), the hook plays it."""
    from agents.common.evaluation import EvaluationRequest, evaluate_agent
    from zoo.envs.factory import make_env

    if not is_gym_env(agent.env_id):
        return evaluate_own_env(agent.model, agent.env_id, n_episodes, deterministic, seed)

    def vec_env() -> VecEnv:
        return create_env(agent.env_id, 1, hyperparams=agent.hyperparams, env_kwargs=agent.env_kwargs, seed=seed,
                          wrap_normalize=agent.wrap_normalize, training=False)

    request = EvaluationRequest(agent.env_id, make_vec_env=vec_env,
                                make_env=lambda: make_env(agent.env_id, agent.hyperparams, agent.env_kwargs),
                                n_eval_episodes=n_episodes, deterministic=deterministic, seed=seed)
    return evaluate_agent(agent.model, request)


def evaluate_own_env(model: BaseAlgorithm, env_id: str, n_episodes: int, deterministic: bool = True,
                     seed: int = 0) -> dict[str, Any]:
    """The evaluation hook's figures for a model that plays ``env_id``, an id gymnasium does not know, by itself."""
    from agents.common.evaluation import EvaluationRequest, evaluate_agent

    def no_gym_env() -> Any:
        raise ZooError(f"{env_id} is not a gymnasium env: {type(model).__name__} has no evaluation hook for it")

    request = EvaluationRequest(env_id, make_vec_env=no_gym_env, make_env=no_gym_env, n_eval_episodes=n_episodes,
                                deterministic=deterministic, seed=seed)
    return evaluate_agent(model, request)


def has_own_figures(agent: Agent) -> bool:
    """Whether the agent's algorithm reports figures of its own through the evaluation hook."""
    return callable(getattr(agent.model, "evaluation_figures", None))


def figure_lines(figures: dict[str, Any]) -> list[str]:
    """An evaluation's figures as lines: mean +- std first, then the family's own, grouped by prefix."""
    from agents.common.evaluation import extra_figures

    lines = [f"{figures['n_eval_episodes']} episodes, mean return {figures['mean_reward']:.2f} +/- {figures['std_reward']:.2f}"]
    groups: dict[str, list[str]] = {}
    for key, value in extra_figures(figures).items():
        group, _, name = key.rpartition("/")
        text = f"{value:.3g}" if isinstance(value, float) else str(value)
        groups.setdefault(group, []).append(f"{name} {text}" if group else f"{name}: {text}")
    for group, items in groups.items():
        lines.append(f"{group}: {', '.join(items)}" if group else "; ".join(items))
    return lines


def load_hub_agent(repo_id_or_folder: str, revision: str | None = None, endpoint: str | None = None,
                   device: str = "auto") -> Agent:
    """An agent from the Hub (or a folder laid out like a Hub repository), loaded without unpickling."""
    from hub.loading import load_agent

    loaded = load_agent(repo_id_or_folder, revision=revision, endpoint=endpoint)
    return Agent(
        model=loaded.model, algo=loaded.algo, env_id=loaded.env_id, hyperparams=loaded.hyperparams or {},
        env_kwargs=loaded.env_kwargs or {}, wrap_normalize=loaded.wrap_normalize, origin=repo_id_or_folder,
    )


def _first_episode(episode_id: int) -> bool:
    return episode_id == 0


def make_play_env(agent: Agent, render: bool = False, record_dir: str | None = None, seed: int | None = None,
                  env_kwargs: dict[str, Any] | None = None, video_length: int = 1000) -> VecEnv:
    """One env as the agent was trained on it, with frozen normalisation; optionally rendered or recorded.

    :param record_dir: write one mp4 of the first ``video_length`` steps (across episodes) into this folder
    """
    hyperparams = dict(agent.hyperparams)
    render_mode = "rgb_array" if record_dir else ("human" if render else None)
    if record_dir:
        check_record_folder(record_dir)
        try:
            import moviepy  # noqa: F401  (gymnasium's RecordVideo writes mp4 files through it)
        except ImportError:
            raise ZooError("--record needs moviepy: pip install moviepy") from None
        recorder = ("gymnasium.wrappers.RecordVideo", {
            "video_folder": record_dir, "episode_trigger": _first_episode, "video_length": video_length,
            "name_prefix": f"{agent.algo}-{runs.safe_env_name(agent.env_id)}",
        })
        hyperparams["env_wrapper"] = [*_as_list(hyperparams.get("env_wrapper")), {recorder[0]: recorder[1]}]
    return create_env(
        agent.env_id, 1, hyperparams=hyperparams, env_kwargs={**agent.env_kwargs, **(env_kwargs or {})},
        seed=seed, render_mode=render_mode, wrap_normalize=agent.wrap_normalize, training=False,
    )


def check_record_folder(record_dir: str | Path) -> None:
    """``--record DIR``: a one-line error unless DIR is (or can become) a folder videos can be written to."""
    import tempfile

    folder = Path(record_dir)
    if folder.exists() and not folder.is_dir():
        raise ZooError(f"--record {folder} is a file: pass a folder for the video")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise ZooError(f"--record {folder}: cannot write a video there: {error.strerror or error}") from None


def _as_list(value: Any) -> list[Any]:
    return [] if value is None else (value if isinstance(value, list) else [value])


def play(model: BaseAlgorithm, env: VecEnv, n_steps: int, deterministic: bool = True) -> list[float]:
    """Run ``model`` for ``n_steps`` steps and return the returns of the episodes that finished.

    Returns are the Monitor's, i.e. raw rewards even when the agent sees normalised ones. A model whose
    ``predict`` takes action masks gets the env's (see :func:`agents.common.masking.passes_action_masks`).
    """
    from agents.common.masking import passes_action_masks

    masked = passes_action_masks(model, env)
    obs = env.reset()
    state = None
    episode_start = np.ones(env.num_envs, dtype=bool)
    returns: list[float] = []
    for _ in range(n_steps):
        masks = {"action_masks": np.stack(env.env_method("action_masks"))} if masked else {}
        action, state = model.predict(obs, state=state, episode_start=episode_start, deterministic=deterministic, **masks)
        obs, _, dones, infos = env.step(action)
        episode_start = dones
        returns.extend(float(info["episode"]["r"]) for info in infos if "episode" in info)
    return returns


def can_open_window() -> bool:
    """Whether a ``human`` render can open a window here."""
    return not sys.platform.startswith("linux") or bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))

