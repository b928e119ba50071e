"""Load an agent by Hub repository id (or from a folder in the Hub layout) without unpickling anything.

``load_agent("sb3/ppo-CartPole-v1", revision=...)`` downloads (or finds in the cache) one verified commit
of the repository, then reads:

- ``ALGO-ENV_ID.zip`` with :func:`hub.safe_load.load_sb3_zip` (JSON + ``weights_only`` tensors),
- ``config.yml``/``env_kwargs.yml``/``args.yml`` with the safe YAML loader (rl-zoo3's OrderedDict form too),
- normalisation statistics from ``vec_normalize.json`` or, restricted, ``vec_normalize.pkl``.

A downloaded config may name env wrappers; only those of :data:`ALLOWED_WRAPPER_MODULES` are kept,
since building the env imports them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hub.normalization import NormalizationStats, load_stats
from hub.safe_load import UnsafeCheckpointError, load_sb3_zip
from hub.safe_yaml import load_yaml
from zoo.errors import ZooError

#: Modules whose classes a downloaded config may use as ``env_wrapper``/``vec_env_wrapper``.
ALLOWED_WRAPPER_MODULES = (
    "gymnasium.wrappers.",
    "stable_baselines3.common.atari_wrappers.",
    "stable_baselines3.common.vec_env.",
    "sb3_contrib.common.wrappers.",
    "zoo.envs.",
)
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


def _check_wrappers(hyperparams: dict[str, Any], source: str) -> None:
    """Refuse env wrappers outside :data:`ALLOWED_WRAPPER_MODULES` (building the env would import them)."""
    for key in ("env_wrapper", "vec_env_wrapper"):
        value = hyperparams.get(key)
        items = value if isinstance(value, list) else [value] if value is not None else []
        for item in items:
            path = item if isinstance(item, str) else next(iter(item)) if isinstance(item, dict) and item else repr(item)
            path = str(path).replace(":", ".")
            if not path.startswith(ALLOWED_WRAPPER_MODULES):
                raise UnsafeCheckpointError(
                    f"{source} asks for the {key} {path!r}; only wrappers from "
                    f"{', '.join(m.rstrip('.') for m in ALLOWED_WRAPPER_MODULES)} are loaded from downloads"
                )


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
    """The config keys the zoo understands for ``algo_class``; others (old rl-zoo3 keys) are dropped.

    Keys of SB3 < 1.0 that have a 2.x form are translated first (:func:`translate_old_keys`).
    """
    from zoo.config import ZOO_KEYS, constructor_parameters

    _check_wrappers(raw, source)
    raw = translate_old_keys(raw, source)
    known = set(ZOO_KEYS) | set(constructor_parameters(algo_class))
    return {key: value for key, value in raw.items() if key in known and key != "callback"}


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
    raw = _yaml_dict(folder / "config.yml")
    hyperparams = clean_hyperparams(raw, algo_class, f"{name}/config.yml")
    raw = translate_old_keys(raw, f"{name}/config.yml")
    env_kwargs = _yaml_dict(folder / "env_kwargs.yml")
    zip_path = _find_zip(folder, [name, repo_name(spec.name, env_id), env_id.replace("/", "-")])
    model = load_sb3_zip(zip_path, algo_class, device=device, fallback_hyperparams=raw)
    stats = load_stats(folder)
    return LoadedAgent(
        model=model, algo=spec.name, env_id=env_id, hyperparams=hyperparams, env_kwargs=env_kwargs,
        wrap_normalize=stats.wrap if stats is not None else None, folder=folder, repo_id=repo_id, commit=commit,
        results=results, normalization=stats,
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
