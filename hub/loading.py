"""Load an agent by Hub repository id (or from a folder in the Hub layout) without unpickling anything.

``load_agent("sb3/ppo-CartPole-v1", revision=...)`` downloads (or finds in the cache) one verified commit
of the repository, then reads:

- ``ALGO-ENV_ID.zip`` with :func:`hub.safe_load.load_sb3_zip` (JSON + ``weights_only`` tensors),
- ``config.yml``/``env_kwargs.yml``/``args.yml`` with the safe YAML loader (rl-zoo3's OrderedDict form too),
- normalisation statistics from ``vec_normalize.json`` or, restricted, ``vec_normalize.pkl``.

A downloaded config names classes (env wrappers, callbacks, a replay buffer, a policy, activation functions):
:func:`check_downloaded_config` looks every one up in the allow-lists of :mod:`agents.common.untrusted`, and
refuses the agent, with one line, when one is not there; nothing a download names is ever imported. Its env id
is checked to be a plain gymnasium id (``module:Env`` would make gymnasium import ``module``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hub.normalization import NormalizationStats, load_stats
from hub.safe_load import UnsafeCheckpointError, load_sb3_zip
from hub.safe_yaml import load_yaml
from agents.common.hyperparams import NOISE_TYPES, ZOO_KEYS, constructor_parameters, make_action_noise, to_plain
from agents.common.untrusted import (
    allowed_table, is_known_foreign_callback, parse_python_literal, resolve_untrusted,
)
from agents.errors import ZooError

#: Files never needed to load an agent (skipped when downloading).
NOT_NEEDED = ["*.mp4", "*.gif", "*.png", "*.jpg"]


@dataclass
class LoadedAgent:
    """An agent ready to run.

    :param model: the policy, as an ordinary ``BaseAlgorithm``
    :param algo: the zoo's algorithm name (``ppo``)
    :param env_id: the environment id it was trained on
    :param hyperparams: the config it was trained with (plain values; unknown keys dropped)
    :param env_kwargs: keyword arguments for ``gym.make``
    :param wrap_normalize: ``(venv) -> VecNormalize`` with the saved statistics, frozen, raw rewards; or None
    :param folder: where its files are
    :param repo_id: the repository it came from, or None for a local folder
    :param commit: the commit sha it came from, or None for a local folder
    :param results: the evaluation published with it (``results.json``), or None
    :param normalization: the saved normalisation statistics, or None
    :param notes: what loading changed or dropped (old keys, callbacks), one line each, for the user
    """

    model: Any
    algo: str
    env_id: str
    hyperparams: dict[str, Any]
    env_kwargs: dict[str, Any]
    wrap_normalize: Callable[[Any], Any] | None
    folder: Path
    repo_id: str | None = None
    commit: str | None = None
    results: dict[str, Any] | None = None
    normalization: NormalizationStats | None = field(default=None, repr=False)
    notes: list[str] = field(default_factory=list)


def repo_name(algo: str, env_id: str) -> str:
    """The repository name of an agent: ``ALGO-ENV_ID`` with ``/`` of the env id as ``-``."""
    return f"{algo}-{env_id.replace('/', '-')}"


def _yaml_dict(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    data = load_yaml(path)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ZooError(f"{path.name} must hold a mapping, got {type(data).__name__}")
    return data


_ENV_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_./-]*$")
_DOTTED = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)+$")
#: ``replay_buffer_kwargs`` keys of HerReplayBuffer before SB3 2.0, dropped with a note
_OLD_HER_KEYS = ("online_sampling", "max_episode_length")


def check_env_id(env_id: Any, source: str) -> str:
    """A downloaded env id, refused unless it is a plain gymnasium id (no ``module:`` prefix, no odd characters)."""
    if not isinstance(env_id, str) or not _ENV_ID.match(env_id) or ".." in env_id or len(env_id) > 200:
        raise UnsafeCheckpointError(
            f"{source} names the env {env_id!r}, which is not a plain gymnasium id (letters, digits, _ . / -)"
        )
    return env_id


def _names(value: Any) -> list[Any]:
    """The class names of an ``env_wrapper``-like value: a name, a ``{name: kwargs}``, or a list of those."""
    items = value if isinstance(value, list) else [] if value is None else [value]
    return [next(iter(item)) if isinstance(item, dict) and len(item) == 1 else item for item in items]


def _check_kwargs(value: Any, source: str, top: bool = True) -> Any:
    """A ``*_kwargs`` value: its string form parsed (allowed names only); dotted strings must be allowed classes."""
    if top and isinstance(value, str):
        value = parse_python_literal(value, source)
    if isinstance(value, dict):
        return {k: _check_kwargs(v, f"{source}.{k}", False) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_check_kwargs(v, source, False) for v in value]
    if isinstance(value, str) and _DOTTED.match(value) and value not in allowed_table("policy_kwargs"):
        resolve_untrusted(value, "policy_kwargs", source)  # raises: a class name outside the allow-list
    return value


def check_downloaded_config(raw: dict[str, Any], algo_class: type, source: str) -> tuple[dict[str, Any], list[str]]:
    """Check every name a downloaded config holds against the allow-lists; return it cleaned, with notes.

    - ``env_wrapper``/``vec_env_wrapper``: each class must be in its allow-list (kept);
    - ``callback``: each must be a Stable-Baselines3 callback or one of the RL Baselines3 Zoo's (then dropped:
      callbacks are the author's training-time choices);
    - ``replay_buffer_class``: one of SB3's buffers; ``policy``: one of the algorithm's policy names;
    - ``*_kwargs``: names inside must be allow-listed classes; HerReplayBuffer's keys of SB3 < 2.0
      (``online_sampling``, ``max_episode_length``) are dropped with a note.

    :param raw: the config as downloaded
    :param algo_class: the algorithm it is for
    :param source: ``ORG/NAME/config.yml``, for messages
    :return: the config with dropped keys removed, and one note for each thing dropped
    """
    config, notes = dict(raw), []
    for key in ("env_wrapper", "vec_env_wrapper"):
        for name in _names(config.get(key)):
            resolve_untrusted(name, key, source)
    if "callback" in config:
        for name in _names(config.get("callback")):
            if not is_known_foreign_callback(name):
                resolve_untrusted(name, "callback", source)
        del config["callback"]
        notes.append(f"{source}: its callbacks are not used (they are the author's training-time choices)")
    if config.get("replay_buffer_class") is not None:
        resolve_untrusted(config["replay_buffer_class"], "replay_buffer_class", source)
    policy = config.get("policy")
    aliases = getattr(algo_class, "policy_aliases", {}) or {}
    if policy is not None and (not isinstance(policy, str) or (aliases and policy not in aliases)):
        raise UnsafeCheckpointError(
            f"{source}: policy {policy!r} is not one of {algo_class.__name__}'s policies ({', '.join(sorted(aliases))})"
        )
    for key in [k for k in config if k.endswith("_kwargs")]:
        checked = _check_kwargs(config[key], f"{source}: {key}")
        if key == "replay_buffer_kwargs" and isinstance(checked, dict):
            old = [k for k in _OLD_HER_KEYS if k in checked]
            if old:
                checked = {k: v for k, v in checked.items() if k not in old}
                notes.append(f"{source}: replay_buffer_kwargs {', '.join(old)} dropped (HerReplayBuffer of SB3 < 2.0)")
                config[key] = to_plain(checked)
    if config.get("noise_type") is not None and config["noise_type"] not in NOISE_TYPES:
        raise ZooError(f"{source}: noise_type must be one of {', '.join(NOISE_TYPES)}, got {config['noise_type']!r}")
    return config, notes


def translate_old_keys(raw: dict[str, Any], source: str) -> dict[str, Any]:
    """Config keys of Stable-Baselines3 < 1.0 rewritten as Stable-Baselines3 2.x takes them.

    ``train_freq: -1`` with ``n_episodes_rollout: N`` (train after every N episodes) becomes
    ``train_freq: [N, episode]``; ``n_episodes_rollout`` is dropped. A combination that has no 2.x form is
    refused with a one-line error naming the key (``train_freq: -1`` alone would train on nothing, forever).
    """
    if "n_episodes_rollout" not in raw and raw.get("train_freq") != -1:
        return raw
    config = dict(raw)
    episodes = config.pop("n_episodes_rollout", -1)
    train_freq = config.get("train_freq", -1)
    if isinstance(episodes, bool) or not isinstance(episodes, int):
        raise ZooError(f"{source}: n_episodes_rollout must be an integer (SB3 < 1.0), got {episodes!r}")
    if train_freq == -1:
        if episodes <= 0:
            raise ZooError(
                f"{source}: train_freq is -1 with no positive n_episodes_rollout (SB3 < 1.0 keys); "
                "set train_freq to a number of steps or to [N, episode]"
            )
        config["train_freq"] = [episodes, "episode"]
    elif episodes > 0:
        raise ZooError(
            f"{source}: n_episodes_rollout={episodes} (SB3 < 1.0) together with train_freq={train_freq!r}; "
            "remove n_episodes_rollout or set train_freq to [N, episode]"
        )
    return config


def clean_hyperparams(raw: dict[str, Any], algo_class: type, source: str) -> dict[str, Any]:
    """The config keys the zoo understands for ``algo_class``, every name checked; others (old rl-zoo3 keys)
    are dropped. Keys of SB3 < 1.0 that have a 2.x form are translated (:func:`translate_old_keys`)."""
    return _known_keys(translate_old_keys(check_downloaded_config(raw, algo_class, source)[0], source), algo_class)


def _known_keys(config: dict[str, Any], algo_class: type) -> dict[str, Any]:
    known = set(ZOO_KEYS) | set(constructor_parameters(algo_class))
    return {key: value for key, value in config.items() if key in known}


def restore_action_noise(model: Any, hyperparams: dict[str, Any]) -> None:
    """Give an off-policy model the action noise its config names (``noise_type``/``noise_std``): SB3 keeps
    the noise object only pickled, so a pickle-free load would otherwise resume TD3/DDPG without it."""
    noise_type = hyperparams.get("noise_type")
    shape = getattr(getattr(model, "action_space", None), "shape", None)
    if noise_type is None or not hasattr(model, "action_noise") or not shape:
        return
    std = hyperparams.get("noise_std", 0.1)
    if isinstance(std, bool) or not isinstance(std, (int, float)):
        raise ZooError(f"noise_std must be a number, got {std!r}")
    model.action_noise = make_action_noise((noise_type, float(std)), int(np.prod(shape)))


def _find_zip(folder: Path, names: list[str]) -> Path:
    for name in names:
        if (folder / f"{name}.zip").is_file():
            return folder / f"{name}.zip"
    zips = sorted(p for p in folder.glob("*.zip") if p.name != "best_model.zip")
    if len(zips) == 1:
        return zips[0]
    found = ", ".join(p.name for p in zips) or "none"
    raise ZooError(f"{folder}: cannot tell which zip is the agent (expected {names[0]}.zip; found {found})")


def load_folder(
    folder: str | Path,
    *,
    name: str | None = None,
    repo_id: str | None = None,
    commit: str | None = None,
    device: str = "auto",
) -> LoadedAgent:
    """Load an agent from a folder in the Hub layout (or a run folder), pickle-free.

    :param folder: the folder
    :param name: the repository name ``ALGO-ENV_ID`` (default: the folder's name)
    :param repo_id: recorded in the result
    :param commit: recorded in the result
    :param device: torch device
    """
    from agents.registry import UnknownAlgorithmError, get_spec

    folder = Path(folder)
    if not folder.is_dir():
        raise ZooError(f"agent folder not found: {folder}")
    name = name or folder.name
    results = json.loads((folder / "results.json").read_text()) if (folder / "results.json").is_file() else None
    args = _yaml_dict(folder / "args.yml")
    algo = args.get("algo") or (results or {}).get("algo") or name.split("-", 1)[0]
    env_id = args.get("env") or args.get("env_id") or (results or {}).get("env_id")
    if not env_id:
        if "-" not in name:
            raise ZooError(f"{folder}: cannot tell the env id (no args.yml or results.json, name {name!r})")
        env_id = name.split("-", 1)[1]
    try:
        spec = get_spec(str(algo))
    except UnknownAlgorithmError as error:
        raise ZooError(f"{folder}: {error}") from None
    algo_class = spec.load()
    env_id = check_env_id(env_id, f"{repo_id or name}/args.yml")
    source = f"{repo_id or name}/config.yml"
    config, notes = check_downloaded_config(_yaml_dict(folder / "config.yml"), algo_class, source)
    config = translate_old_keys(config, source)
    hyperparams = _known_keys(config, algo_class)
    env_kwargs = _yaml_dict(folder / "env_kwargs.yml")
    zip_path = _find_zip(folder, [name, repo_name(spec.name, env_id), env_id.replace("/", "-")])
    model = load_sb3_zip(zip_path, algo_class, device=device, fallback_hyperparams=config)
    restore_action_noise(model, hyperparams)
    stats = load_stats(folder)
    return LoadedAgent(
        model=model, algo=spec.name, env_id=env_id, hyperparams=hyperparams, env_kwargs=env_kwargs,
        wrap_normalize=stats.wrap if stats is not None else None, folder=folder, repo_id=repo_id, commit=commit,
        results=results, normalization=stats, notes=notes,
    )


def load_agent(
    repo_id_or_folder: str | Path,
    revision: str | None = None,
    endpoint: str | None = None,
    *,
    token: str | None = None,
    cache_dir: str | Path | None = None,
    device: str = "auto",
) -> LoadedAgent:
    """Load an agent by repository id (``ORG/ALGO-ENV_ID``) or from a local folder.

    :param repo_id_or_folder: a repository id, or an existing folder in the Hub layout
    :param revision: branch, tag or commit sha (repository ids only; default ``main``)
    :param endpoint: Hub address (default: ``HF_ENDPOINT``, else huggingface.co)
    :param token: access token (default: the client's usual places)
    :param cache_dir: Hugging Face cache folder
    :param device: torch device
    """
    from hub.client import download

    if Path(repo_id_or_folder).is_dir():
        if revision is not None:
            raise ZooError(f"--revision applies to repository ids, but {repo_id_or_folder} is a local folder")
        return load_folder(repo_id_or_folder, device=device)
    repo_id = str(repo_id_or_folder)
    snapshot = download(repo_id, revision, endpoint=endpoint, token=token, cache_dir=cache_dir,
                        ignore_patterns=NOT_NEEDED)
    return load_folder(snapshot.folder, name=repo_id.split("/", 1)[1], repo_id=repo_id, commit=snapshot.commit,
                       device=device)


def load_from_hub(
    repo_id: str,
    revision: str | None = None,
    endpoint: str | None = None,
    *,
    token: str | None = None,
    device: str = "auto",
) -> Any:
    """The agent of a Hub repository as an ordinary ``BaseAlgorithm`` (see :func:`load_agent`)."""
    return load_agent(repo_id, revision, endpoint, token=token, device=device).model
