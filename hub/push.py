"""Publish an agent: evaluate it, write the repository's files, upload them as one commit.

The files (the layout of the Hub's ``sb3/ALGO-ENV_ID`` repositories, see :func:`write_repo_files`):

    ALGO-ENV_ID.zip      the checkpoint (``model.save``)
    config.yml           hyperparameters (plain YAML)
    env_kwargs.yml       keyword arguments for ``gym.make``
    vec_normalize.pkl    normalisation statistics, SB3's pickled form (when the agent normalises)
    vec_normalize.json   the same statistics, the zoo's pickle-free form
    results.json         evaluation at push time: mean/std return, episodes, is_deterministic, date (huggingface_sb3 keys)
    replay.mp4           one episode, when the env renders rgb_array frames
    README.md            the model card (:mod:`hub.card`)

``push_to_hub`` commits them to a Hub repository (one commit, whose sha it returns) or, with
``local_dir``, writes them into ``local_dir/ORG/NAME/`` (how the pretrained store is made).
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hub.normalization import JSON_NAME, PKL_NAME, NormalizationStats, to_json
from agents.errors import ZooError

#: Files a push owns: deleted from the repository when a new push does not write them.
MANAGED_FILES = ("config.yml", "env_kwargs.yml", PKL_NAME, JSON_NAME, "results.json", "replay.mp4", "README.md")


@dataclass
class PushResult:
    """What a push did.

    :param repo_id: ``ORG/NAME``
    :param commit: the commit sha on the Hub, or None when written to a local folder
    :param folder: the local folder holding the files (None once a Hub push's temporary folder is gone)
    :param results: the evaluation written to ``results.json``
    """

    repo_id: str
    commit: str | None
    folder: Path | None
    results: dict[str, Any]


def algo_name_of(model: Any) -> str:
    """The registry name of a model's class."""
    from agents.registry import ALGOS

    for spec in ALGOS.values():
        if spec.class_name == type(model).__name__ and spec.load() is type(model):
            return spec.name
    raise ZooError(f"{type(model).__name__} is not an algorithm of the zoo's registry; pass algo=")


def _stats_of(normalization: Any) -> NormalizationStats | None:
    if normalization is None or isinstance(normalization, NormalizationStats):
        return normalization
    return NormalizationStats.from_vec_normalize(normalization)


def evaluate(model: Any, env_id: str, hyperparams: dict[str, Any], env_kwargs: dict[str, Any],
             stats: NormalizationStats | None, n_eval_episodes: int, deterministic: bool, seed: int) -> dict[str, Any]:
    """Evaluate with SB3's ``evaluate_policy`` on a fresh env built like the training one."""
    from stable_baselines3.common.evaluation import evaluate_policy

    from zoo.envs.factory import create_env

    env = create_env(env_id, 1, hyperparams=hyperparams, env_kwargs=env_kwargs, seed=seed,
                     wrap_normalize=stats.wrap if stats else None, training=False)
    try:
        returns, lengths = evaluate_policy(model, env, n_eval_episodes=n_eval_episodes, deterministic=deterministic,
                                           return_episode_rewards=True)
    finally:
        env.close()
    return {
        "mean_reward": float(np.mean(returns)), "std_reward": float(np.std(returns)),
        "n_eval_episodes": int(n_eval_episodes), "is_deterministic": bool(deterministic),
        "mean_ep_length": float(np.mean(lengths)), "seed": int(seed),
        "eval_datetime": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


def evaluate_exactly(model: Any, env_id: str, hyperparams: dict[str, Any], env_kwargs: dict[str, Any]) -> dict[str, Any]:
    """For a tabular agent on an env with a transition table: its greedy policy's exact expected return and
    the optimum within the time limit (:func:`agents.tabular.exact.exact_evaluation`); otherwise nothing."""
    from agents.tabular.core import TabularPolicy

    if not isinstance(getattr(model, "policy", None), TabularPolicy):
        return {}
    from agents.tabular.exact import exact_evaluation
    from zoo.envs.factory import make_env

    env = make_env(env_id, hyperparams, env_kwargs)
    try:
        return exact_evaluation(model.policy, env) or {}
    finally:
        env.close()


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
    from zoo.config import to_plain
    from zoo.runs import write_yaml

    algo = get_spec(algo).name if algo else algo_name_of(model)
    hyperparams = to_plain(dict(hyperparams or {}))
    env_kwargs = to_plain(dict(env_kwargs or {}))
    stats = _stats_of(normalization)
    if stats is None and hyperparams.get("normalize") not in (None, False, "False", "false"):
        raise ZooError(f"the config of {repo_id} normalises observations, but no normalisation statistics were given")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name in MANAGED_FILES:
        (folder / name).unlink(missing_ok=True)
    name = repo_id.split("/", 1)[1]
    model.save(folder / f"{name}.zip")
    write_yaml(folder / "config.yml", hyperparams)
    write_yaml(folder / "env_kwargs.yml", env_kwargs)
    if stats is not None:
        (folder / JSON_NAME).write_text(to_json(stats))
        (folder / PKL_NAME).write_bytes(stats.to_sb3_pickle(env_id, env_kwargs))
    results = evaluate(model, env_id, hyperparams, env_kwargs, stats, n_eval_episodes, deterministic, seed)
    results = {"algo": algo, "env_id": env_id, **results, **evaluate_exactly(model, env_id, hyperparams, env_kwargs)}
    (folder / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    has_video = video and record_video(model, env_id, hyperparams, env_kwargs, stats, folder / "replay.mp4",
                                       video_length, seed)
    from hub.card import model_card

    (folder / "README.md").write_text(
        model_card(repo_id, algo, type(model).__name__, env_id, results, hyperparams, has_video, trained_with)
    )
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
