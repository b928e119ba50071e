"""The pretrained store (``pretrained/agent-zoo/ALGO-ENV_ID/``): every stored agent is re-evaluated briefly
against its ``results.json``; ``zoo enjoy`` falls back on it; ``zoo push --all`` publishes it."""

from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pytest
import yaml

from hub.client import download, git_blob_sha1
from hub.loading import load_folder
from agents.common.masking import evaluate_policy_for
from agents.tabular.exact import exact_evaluation
from hub.store import ORG, STORE_DIR, find_pretrained, list_pretrained, pretrained_folders
from zoo.publish import refresh


def evaluate_exactly(model, env_id, hyperparams, env_kwargs):
    """A tabular agent's exact figures, as its evaluation hook computes them."""
    from zoo.envs.factory import make_env

    env = make_env(env_id, hyperparams, env_kwargs)
    try:
        return exact_evaluation(model.policy, env) or {}
    finally:
        env.close()
from zoo.cli import main

REQUIRED = ("a2c-CartPole-v1", "dqn-CartPole-v1", "ppo-CartPole-v1", "sac-Pendulum-v1")
EPISODES = 3
#: Agents published with at least this many evaluation episodes are re-evaluated on a fifth of them.
MANY = 1_000


def test_the_store_holds_the_first_agents_and_stays_small():
    names = {folder.name for folder in pretrained_folders()}
    assert set(REQUIRED) <= names
    size = sum(p.stat().st_size for p in STORE_DIR.rglob("*") if p.is_file())
    assert size < 30 * 2**20, f"the store is {size / 2**20:.1f} MiB"
    assert list_pretrained() == [f"{ORG}/{name}" for name in sorted(names)]
    assert find_pretrained("ppo", "CartPole-v1") == STORE_DIR / ORG / "ppo-CartPole-v1"
    assert find_pretrained("ppo", "Acrobot-v1") is None


@pytest.mark.parametrize("folder", pretrained_folders(), ids=lambda folder: folder.name)
def test_stored_agent_reproduces_its_results(folder):
    from zoo.envs.factory import create_env

    for name in (f"{folder.name}.zip", "config.yml", "env_kwargs.yml", "results.json", "README.md"):
        assert (folder / name).is_file(), name
    results = json.loads((folder / "results.json").read_text())
    meta = yaml.safe_load((folder / "README.md").read_text().split("---")[1])
    value = meta["model-index"][0]["results"][0]["metrics"][0]["value"]
    assert value == f"{results['mean_reward']:.2f} +/- {results['std_reward']:.2f}"
    tabular = yaml.safe_load((folder / "config.yml").read_text()).get("policy") == "TabularPolicy"
    assert ("deep-reinforcement-learning" in meta["tags"]) is not tabular
    agent = load_folder(folder, device="cpu")
    assert (agent.algo, agent.env_id) == (results["algo"], results["env_id"])
    env = create_env(agent.env_id, 1, hyperparams=agent.hyperparams, env_kwargs=agent.env_kwargs,
                     seed=results["seed"], wrap_normalize=agent.wrap_normalize, training=False)
    published = results["n_eval_episodes"]
    n_episodes = EPISODES if published < MANY else published // 5
    evaluate = evaluate_policy_for(agent.model, env)  # as the published evaluation did: masks where predict takes them
    returns, _ = evaluate(agent.model, env, n_eval_episodes=n_episodes, deterministic=results["is_deterministic"],
                          return_episode_rewards=True)
    env.close()
    # the same seeded env and policy replay the first episodes of the published evaluation; an agent published
    # with many noisy episodes (Blackjack, FrozenLake8x8) is checked to four standard errors of the difference of means
    if n_episodes == EPISODES:
        tolerance = 2 * results["std_reward"] + 1e-6
    else:
        tolerance = 4 * results["std_reward"] * np.sqrt(1 / n_episodes - 1 / published) + 1e-6
    assert abs(np.mean(returns) - results["mean_reward"]) <= tolerance, (returns, results)
    if "exact_mean_reward" in results:  # a tabular agent's figures from the transition table: recomputed exactly
        exact = evaluate_exactly(agent.model, agent.env_id, agent.hyperparams, agent.env_kwargs)
        assert exact == pytest.approx({key: results[key] for key in exact}, rel=1e-12)


#: the issue's reference optima (finite-horizon value iteration); stored greedy policies must be within 1%
OPTIMA = {"Taxi-v4": 7.93, "FrozenLake-v1": 0.744, "FrozenLake8x8-v1": 0.913}


@pytest.mark.parametrize("folder", [f for f in pretrained_folders() if f.name.split("-", 1)[1] in OPTIMA], ids=lambda f: f.name)
def test_stored_tabular_agent_is_within_one_percent_of_the_optimum(folder):
    agent = load_folder(folder, device="cpu")
    exact = evaluate_exactly(agent.model, agent.env_id, agent.hyperparams, agent.env_kwargs)
    assert exact["optimal_mean_reward"] == pytest.approx(OPTIMA[agent.env_id], abs=5e-4)
    assert exact["exact_mean_reward"] >= 0.99 * exact["optimal_mean_reward"], exact


def test_refresh_keeps_the_checkpoint_and_adds_the_exact_figures(tmp_path):
    folder = tmp_path / "sarsa-DynaMaze-v0"
    shutil.copytree(STORE_DIR / ORG / folder.name, folder)
    (folder / "results.json").write_text(json.dumps({**json.loads((folder / "results.json").read_text()), "exact_mean_reward": 0}))
    checkpoint = (folder / f"{folder.name}.zip").read_bytes()
    trained = [line for line in (folder / "README.md").read_text().splitlines() if line.startswith("Trained with")]
    results = refresh(folder)
    assert (folder / f"{folder.name}.zip").read_bytes() == checkpoint
    assert results == json.loads((folder / "results.json").read_text())
    assert results["exact_mean_reward"] == results["optimal_mean_reward"] == 1.0  # the shortest path
    card = (folder / "README.md").read_text()
    assert "the expected return of its greedy policy within" in card and trained[0] in card


def test_enjoy_falls_back_on_the_store(tmp_path, capsys):
    assert main(["enjoy", "--algo", "ppo", "--env", "CartPole-v1", "-f", str(tmp_path), "-n", "30",
                 "--no-render"]) == 0
    assert "ppo-CartPole-v1" in capsys.readouterr().out


def test_push_all_publishes_the_store(hub_server, capsys):
    assert main(["push", "--all", "--org", "zoo-mirror"]) == 0
    lines = capsys.readouterr().out.split()
    published = dict(zip(lines[::2], lines[1::2]))
    assert set(published) == {f"zoo-mirror/{folder.name}" for folder in pretrained_folders()}
    for folder in pretrained_folders():
        repo_id = f"zoo-mirror/{folder.name}"
        assert re.fullmatch(r"[0-9a-f]{40}", published[repo_id])
        snapshot = download(repo_id, revision=published[repo_id])
        for path in folder.iterdir():
            assert git_blob_sha1(snapshot.folder / path.name) == git_blob_sha1(path), path.name
