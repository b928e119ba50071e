"""Write an agent's Hub repository files, and upload them as one commit.

The files (the layout of the Hub's ``sb3/ALGO-ENV_ID`` repositories, see :func:`write_agent_files`):

    ALGO-ENV_ID.zip      the checkpoint (``model.save``)
    config.yml           hyperparameters (plain YAML)
    env_kwargs.yml       keyword arguments for ``gym.make``
    vec_normalize.pkl    normalisation statistics, SB3's pickled form (when the agent normalises)
    vec_normalize.json   the same statistics, the zoo's pickle-free form
    results.json         the evaluation at push time (huggingface_sb3 keys, then the family's own figures)
    replay.mp4           one episode, when the env renders rgb_array frames
    README.md            the model card (:mod:`hub.card`)

Evaluating the agent and recording its video belong to the application (:mod:`zoo.publish`, ``zoo push``),
which builds the envs; this module only writes what it is given.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from agents.errors import ZooError
from hub.normalization import JSON_NAME, PKL_NAME, NormalizationStats, to_json

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


def _write_yaml(path: Path, data: Any) -> None:
    path.write_text(yaml.safe_dump(data, sort_keys=False, default_flow_style=False))


def write_agent_files(model: Any, folder: str | Path, repo_id: str, *, algo: str, env_id: str,
                      results: dict[str, Any], hyperparams: dict[str, Any], env_kwargs: dict[str, Any],
                      normalization: NormalizationStats | None, has_video: bool = False,
                      trained_with: str | None = None) -> None:
    """Write the repository files of an evaluated agent into ``folder`` (files of an earlier push replaced;
    ``replay.mp4`` is left as the caller made it).

    :param model: the agent (any ``BaseAlgorithm`` of the registry)
    :param folder: where to write (created)
    :param repo_id: ``ORG/NAME``, named in the model card
    :param algo: registry name of the algorithm
    :param env_id: the env it plays
    :param results: its evaluation (``mean_reward``, ``std_reward``, ... and the family's figures)
    :param hyperparams: the config it was trained with, plain values (``config.yml``)
    :param env_kwargs: keyword arguments for ``gym.make``, plain values
    :param normalization: its normalisation statistics, or None
    :param has_video: whether ``folder/replay.mp4`` holds a video of it
    :param trained_with: how it was trained (Markdown), for the model card
    """
    from hub.card import model_card

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name in MANAGED_FILES:
        if name != "replay.mp4":
            (folder / name).unlink(missing_ok=True)
    model.save(folder / f"{repo_id.split('/', 1)[1]}.zip")
    _write_yaml(folder / "config.yml", hyperparams)
    _write_yaml(folder / "env_kwargs.yml", env_kwargs)
    if normalization is not None:
        (folder / JSON_NAME).write_text(to_json(normalization))
        (folder / PKL_NAME).write_bytes(normalization.to_sb3_pickle(env_id, env_kwargs))
    (folder / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    (folder / "README.md").write_text(
        model_card(repo_id, algo, type(model).__name__, env_id, results, hyperparams, has_video, trained_with,
                   deep=bool(getattr(model, "deep_learning", True)))
    )
