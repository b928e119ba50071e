"""Publish an agent: evaluate it, write its repository's files, upload them as one commit (``zoo push``).

Evaluating is the application's part (it builds envs as the config says, and asks the algorithm's evaluation
hook, :func:`agents.common.evaluation.evaluate_agent`, for its figures); writing the files in the layout of the
Hub's ``sb3/ALGO-ENV_ID`` repositories and committing them is the Hub layer's (:mod:`hub.push`).

``push_to_hub`` commits them to a Hub repository (one commit, whose sha it returns) or, with ``local_dir``,
writes them into ``local_dir/ORG/NAME/`` (how the pretrained store is made); ``refresh`` re-evaluates a stored
agent.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from agents.common.evaluation import STANDARD_KEYS, EvaluationRequest, evaluate_agent, extra_figures
from agents.common.hyperparams import to_plain
from agents.errors import ZooError
from hub.normalization import NormalizationStats
from hub.push import MANAGED_FILES, PushResult

def _stats_of(normalization: Any) -> NormalizationStats | None:
    if normalization is None or isinstance(normalization, NormalizationStats):
        return normalization
    return NormalizationStats.from_vec_normalize(normalization)


def evaluation_request(env_id: str, hyperparams: dict[str, Any], env_kwargs: dict[str, Any],
                       stats: NormalizationStats | None, n_eval_episodes: int, deterministic: bool,
                       seed: int) -> EvaluationRequest:
    """What the evaluation hook needs: fresh envs built like the training ones (frozen normalisation)."""
    from zoo.envs.factory import create_env, make_env

    def make_vec_env() -> Any:
        return create_env(env_id, 1, hyperparams=hyperparams, env_kwargs=env_kwargs, seed=seed,
                          wrap_normalize=stats.wrap if stats else None, training=False)

    return EvaluationRequest(env_id=env_id, make_vec_env=make_vec_env,
                             make_env=lambda: make_env(env_id, hyperparams, env_kwargs),
                             n_eval_episodes=n_eval_episodes, deterministic=deterministic, seed=seed)


def evaluate(model: Any, env_id: str, hyperparams: dict[str, Any], env_kwargs: dict[str, Any],
             stats: NormalizationStats | None, n_eval_episodes: int, deterministic: bool, seed: int) -> dict[str, Any]:
    """The figures of ``results.json``: the standard ones and the family's own (its evaluation hook), then the
    seed and the date."""
    request = evaluation_request(env_id, hyperparams, env_kwargs, stats, n_eval_episodes, deterministic, seed)
    figures = evaluate_agent(model, request)
    standard = {key: figures[key] for key in STANDARD_KEYS if key in figures}
    when = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    return {**standard, "seed": int(seed), "eval_datetime": when, **extra_figures(figures)}


def record_video(model: Any, env_id: str, hyperparams: dict[str, Any], env_kwargs: dict[str, Any],
                 stats: NormalizationStats | None, path: Path, length: int, seed: int) -> bool:
    """Record ``length`` steps of the agent to ``path`` (mp4); False when the env draws no rgb_array frames."""
    import gymnasium as gym
    from stable_baselines3.common.vec_env import VecVideoRecorder

    from zoo.envs.factory import create_env

    try:
        modes = gym.spec(env_id).kwargs.get("render_modes") or gym.make(env_id, **env_kwargs).metadata.get("render_modes", [])
    except Exception:
        return False
    if "rgb_array" not in modes:
        return False
    env = create_env(env_id, 1, hyperparams=hyperparams, env_kwargs=env_kwargs, seed=seed, render_mode="rgb_array",
                     wrap_normalize=stats.wrap if stats else None, training=False)
    with tempfile.TemporaryDirectory() as tmp:
        recorder = VecVideoRecorder(env, tmp, record_video_trigger=lambda step: step == 0, video_length=length,
                                    name_prefix="replay")
        with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet), contextlib.redirect_stderr(quiet):
            obs = recorder.reset()  # moviepy reports on stdout/stderr as it writes the file
            for _ in range(length):
                action, _ = model.predict(obs, deterministic=True)
                obs, _, _, _ = recorder.step(action)
            recorder.close()
        videos = sorted(Path(tmp).glob("*.mp4"))
        if not videos:
            return False
        shutil.move(str(videos[0]), path)
    return True


def write_repo_files(
    model: Any,
    folder: str | Path,
    repo_id: str,
    *,
    env_id: str,
    algo: str | None = None,
    hyperparams: dict[str, Any] | None = None,
    env_kwargs: dict[str, Any] | None = None,
    normalization: Any = None,
    n_eval_episodes: int = 10,
    deterministic: bool = True,
    seed: int = 0,
    video: bool = True,
    video_length: int = 500,
    trained_with: str | None = None,
) -> dict[str, Any]:
    """Evaluate ``model`` and write every file of its repository into ``folder``; returns the results.

    :param model: the agent (any ``BaseAlgorithm`` of the registry)
    :param folder: where to write (created; files of an earlier push there are replaced)
    :param repo_id: ``ORG/NAME``, named in the model card
    :param env_id: the env it plays
    :param algo: registry name (default: found from the model's class)
    :param hyperparams: the config it was trained with (written to ``config.yml``)
    :param env_kwargs: keyword arguments for ``gym.make``
    :param normalization: a ``VecNormalize`` or :class:`NormalizationStats` when it normalises, else None
    :param n_eval_episodes: episodes of the evaluation written to ``results.json``
    :param deterministic: evaluate the deterministic policy
    :param seed: seed of the evaluation env
    :param video: record ``replay.mp4`` when the env renders
    :param video_length: steps in the video
    :param trained_with: how it was trained (Markdown), for the model card
    """
    from agents.registry import get_spec
    from hub.push import algo_name_of, write_agent_files

    algo = get_spec(algo).name if algo else algo_name_of(model)
    hyperparams = to_plain(dict(hyperparams or {}))
    env_kwargs = to_plain(dict(env_kwargs or {}))
    stats = _stats_of(normalization)
    if stats is None and hyperparams.get("normalize") not in (None, False, "False", "false"):
        raise ZooError(f"the config of {repo_id} normalises observations, but no normalisation statistics were given")
    results = evaluate(model, env_id, hyperparams, env_kwargs, stats, n_eval_episodes, deterministic, seed)
    results = {"algo": algo, "env_id": env_id, **results}
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "replay.mp4").unlink(missing_ok=True)
    has_video = video and record_video(model, env_id, hyperparams, env_kwargs, stats, folder / "replay.mp4",
                                       video_length, seed)
    write_agent_files(model, folder, repo_id, algo=algo, env_id=env_id, results=results, hyperparams=hyperparams,
                      env_kwargs=env_kwargs, normalization=stats, has_video=has_video, trained_with=trained_with)
    return results


def push_to_hub(
    model: Any,
    repo_id: str,
    *,
    env_id: str,
    algo: str | None = None,
    hyperparams: dict[str, Any] | None = None,
    env_kwargs: dict[str, Any] | None = None,
    normalization: Any = None,
    n_eval_episodes: int = 10,
    deterministic: bool = True,
    seed: int = 0,
    video: bool = True,
    endpoint: str | None = None,
    token: str | None = None,
    commit_message: str | None = None,
    private: bool = False,
    local_dir: str | Path | None = None,
    trained_with: str | None = None,
) -> PushResult:
    """Evaluate ``model``, write its repository files and upload them as ONE commit.

    Parameters as :func:`write_repo_files`, plus:

    :param endpoint: Hub address (default: ``HF_ENDPOINT``, else huggingface.co)
    :param token: access token (default: the client's usual places)
    :param commit_message: default ``"Upload ALGO agent for ENV_ID (mean ± std)"``
    :param private: create the repository private
    :param local_dir: instead of uploading, write the files into ``local_dir/ORG/NAME/``
    :param trained_with: how it was trained (Markdown), for the model card
    """
    from hub.client import check_repo_id, commit_files

    check_repo_id(repo_id)
    options = dict(env_id=env_id, algo=algo, hyperparams=hyperparams, env_kwargs=env_kwargs,
                   normalization=normalization, n_eval_episodes=n_eval_episodes, deterministic=deterministic,
                   seed=seed, video=video, trained_with=trained_with)
    if local_dir is not None:
        folder = Path(local_dir) / repo_id
        results = write_repo_files(model, folder, repo_id, **options)
        return PushResult(repo_id, None, folder, results)
    with tempfile.TemporaryDirectory(prefix="zoo-push-") as tmp:
        results = write_repo_files(model, tmp, repo_id, **options)
        message = commit_message or (
            f"Upload {results['algo']} agent for {env_id} "
            f"({results['mean_reward']:.2f} +/- {results['std_reward']:.2f})"
        )
        commit = commit_files(tmp, repo_id, endpoint=endpoint, token=token, commit_message=message, private=private,
                              delete_missing=MANAGED_FILES)
    return PushResult(repo_id, commit, None, results)


def push_run(run_folder: str | Path, repo_id: str, *, load_best: bool = False, device: str = "auto",
             **options: Any) -> PushResult:
    """Push the model of a local run folder (``LOG/ALGO/ENV_ID_N``); other options as :func:`push_to_hub`.

    The run was trained here, so its zip is read with SB3's own ``load``; its normalisation statistics
    go through the restricted reader all the same.
    """
    from agents.registry import get_spec
    from hub.normalization import load_stats
    from zoo import runs

    run_folder = Path(run_folder)
    args = runs.read_run_yaml(run_folder, "args.yml")
    algo, env_id = args.get("algo"), args.get("env_id") or args.get("env")
    if not algo or not env_id:
        raise ZooError(f"{run_folder}/args.yml does not name the algorithm and env")
    spec = get_spec(algo)
    path = runs.model_path(run_folder, env_id, load_best=load_best)
    model = spec.load().load(path, device=device)
    env_kwargs = runs.read_run_yaml(run_folder, "env_kwargs.yml") if (run_folder / "env_kwargs.yml").is_file() else {}
    command = None
    if "seed" in args:
        command = f"zoo train --algo {spec.name} --env {env_id} --seed {args['seed']}"
        command += f" -n {args['n_timesteps']}" if args.get("n_timesteps") else ""
        command = f"`{command}`" + (" (its best_model.zip, from the periodic evaluations)" if load_best else "")
    options.setdefault("trained_with", command)
    return push_to_hub(
        model, repo_id, env_id=env_id, algo=spec.name, hyperparams=runs.read_run_yaml(run_folder, "config.yml"),
        env_kwargs=env_kwargs or {}, normalization=load_stats(run_folder), **options,
    )


def refresh(folder: str | Path, org: str = "agent-zoo") -> dict[str, Any]:
    """Evaluate a stored agent afresh and rewrite its repository files with ``zoo push``'s code.

    The checkpoint is kept byte for byte; the evaluation keeps the settings of the published one
    (episodes, seed, deterministic or not) and the card keeps how the agent was trained; ``results.json``,
    the card and the video are made anew (for instance to add the exact figures of a tabular agent).
    Returns the new results.
    """
    from hub.loading import load_folder

    folder = Path(folder)
    published = json.loads((folder / "results.json").read_text())
    trained = re.search(r"^Trained with (.+)\.$", (folder / "README.md").read_text(), re.MULTILINE)
    checkpoint = folder / f"{folder.name}.zip"
    saved = checkpoint.read_bytes()
    agent = load_folder(folder, device="cpu")
    results = write_repo_files(
        agent.model, folder, f"{org}/{folder.name}", env_id=agent.env_id, algo=agent.algo,
        hyperparams=agent.hyperparams, env_kwargs=agent.env_kwargs, normalization=agent.normalization,
        n_eval_episodes=published["n_eval_episodes"], deterministic=published["is_deterministic"],
        seed=published["seed"], video=(folder / "replay.mp4").is_file(), trained_with=trained.group(1) if trained else None,
    )
    checkpoint.write_bytes(saved)
    return results
