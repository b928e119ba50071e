"""``zoo pull``: an agent from the Hub into a run folder that ``zoo enjoy`` and ``zoo train --resume`` read.

The agent is loaded pickle-free (:func:`hub.loading.load_agent`) and then saved again HERE, so the run
folder's zip and ``vecnormalize.pkl`` hold only what this machine's code wrote from plain numbers; the
run tools may then read them with SB3's own ``load``. The folder (``LOG/ALGO/ENV_ID_N/``) holds:

    ENV_ID.zip, checkpoints/rl_model_N_steps.zip   the model (N: its step count), to enjoy or resume
    config.yml, args.yml, env_kwargs.yml           as ``zoo train`` writes them
    vecnormalize.pkl, checkpoints/rl_model_vecnormalize_N_steps.pkl, vec_normalize.json   when it normalises
    results.json, README.md                        as published
    hub.yml                                        where it came from: repository, commit, endpoint

A folder with ``hub.yml`` stays a download: :func:`check_pulled_run` checks its config with the same
allow-lists as the download itself before ``zoo enjoy --folder`` or ``zoo train --resume`` builds anything
from it. The saved spaces become the env's own where they differ only in old gym's ±3.4e38 bounds
(:func:`hub.safe_load.adopt_env_spaces`), so pulled legacy agents resume on today's env.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from agents.errors import ZooError


def pull(repo_id: str, log_folder: str | Path = "logs", *, revision: str | None = None, endpoint: str | None = None,
         token: str | None = None, device: str = "auto") -> Path:
    """Download ``repo_id`` (at ``revision``) into a new run folder under ``log_folder``; returns the folder."""
    from agents.common.hyperparams import to_plain
    from hub.client import endpoint_of
    from hub.loading import load_agent
    from hub.normalization import JSON_NAME, to_json
    from hub.safe_load import adopt_env_spaces
    from zoo import runs
    from zoo.envs.factory import create_env

    agent = load_agent(repo_id, revision, endpoint, token=token, device=device)
    for note in agent.notes:
        print(f"note: {note}", file=sys.stderr)
    if "n_timesteps" not in agent.hyperparams:
        raise ZooError(f"{repo_id}/config.yml has no n_timesteps; it cannot become a run folder")
    env = create_env(agent.env_id, 1, hyperparams=agent.hyperparams, env_kwargs=agent.env_kwargs, training=False,
                     wrap_normalize=agent.wrap_normalize)
    adopt_env_spaces(agent.model, env.observation_space, env.action_space)
    env.close()
    folder = runs.new_run_folder(log_folder, agent.algo, agent.env_id)
    steps = int(agent.model.num_timesteps)
    runs.save_model(agent.model, folder / f"{runs.safe_env_name(agent.env_id)}.zip")
    files = runs.checkpoint_files(folder, steps)
    files["model"].parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(folder / f"{runs.safe_env_name(agent.env_id)}.zip", files["model"])
    runs.write_yaml(folder / "config.yml", to_plain(agent.hyperparams))
    runs.write_yaml(folder / "env_kwargs.yml", to_plain(agent.env_kwargs))
    seed = int((agent.results or {}).get("seed", 0))
    runs.write_yaml(folder / "args.yml", {"algo": agent.algo, "env_id": agent.env_id, "log_folder": str(log_folder),
                                          "seed": seed, "env_kwargs": to_plain(agent.env_kwargs)})
    if agent.normalization is not None:
        pickled = agent.normalization.to_sb3_pickle(agent.env_id, agent.env_kwargs)
        runs.atomic_write(folder / "vecnormalize.pkl", lambda f: f.write(pickled))
        runs.atomic_write(files["vecnormalize"], lambda f: f.write(pickled))
        (folder / JSON_NAME).write_text(to_json(agent.normalization))
    for name in ("results.json", "README.md"):
        if (agent.folder / name).is_file():
            shutil.copyfile(agent.folder / name, folder / name)
    runs.write_yaml(folder / "hub.yml", {"repo_id": repo_id, "commit": agent.commit, "revision": revision,
                                         "endpoint": endpoint_of(endpoint)})
    return folder


def check_pulled_run(run_folder: str | Path) -> None:
    """For a pulled run folder (one with ``hub.yml``): check its config and env id as a download's are checked.

    Run folders this user trained have no ``hub.yml`` and keep a user's freedom. Raises a one-line
    :class:`~agents.errors.UnsafeCheckpointError` naming the file, the key and the name.
    """
    from agents.registry import get_spec
    from hub.loading import check_downloaded_config, check_env_id
    from zoo import runs

    run_folder = Path(run_folder)
    if not (run_folder / "hub.yml").is_file():
        return
    args = runs.read_run_yaml(run_folder, "args.yml") or {}
    check_env_id(args.get("env_id"), f"{run_folder / 'args.yml'}")
    algo_class = get_spec(str(args.get("algo"))).load()
    config = runs.read_run_yaml(run_folder, "config.yml") or {}
    check_downloaded_config(config, algo_class, str(run_folder / "config.yml"))
