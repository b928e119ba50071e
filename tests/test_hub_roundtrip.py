"""Push, pull, enjoy through the real huggingface_hub client against the project's Hub server.

Covers: the push -> pull -> enjoy round trip of the command line, revision pinning, the offline cache,
hash checks of downloads, the model card, and one clear line for each failure (unknown repository,
missing file, bad revision, server down, token refused, a push that loses a race).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch as th
import yaml
from stable_baselines3 import PPO

from hub.client import download
from hub.loading import load_agent, load_from_hub
from zoo.publish import push_to_hub
from zoo.cli import main
from zoo.errors import ZooError


def _model(seed: int) -> PPO:
    return PPO("MlpPolicy", gym.make("CartPole-v1"), n_steps=32, batch_size=32, seed=seed, device="cpu",
               policy_kwargs={"net_arch": [8]})


def _push(model: PPO, repo_id: str, **kwargs):
    hyperparams = {"policy": "MlpPolicy", "n_timesteps": 1000, "n_steps": 32, "batch_size": 32,
                   "policy_kwargs": "dict(net_arch=[8])"}
    return push_to_hub(model, repo_id, env_id="CartPole-v1", hyperparams=hyperparams, n_eval_episodes=2,
                       video=False, **kwargs)


def _same_weights(a, b) -> bool:
    return all(th.equal(v, b.policy.state_dict()[k]) for k, v in a.policy.state_dict().items())


def test_cli_push_pull_enjoy_round_trip(hub_server, tmp_path, capsys):
    logs = tmp_path / "logs"
    assert main(["train", "--algo", "ppo", "--env", "CartPole-v1", "-n", "256", "-f", str(logs), "--seed", "1",
                 "--eval-freq", "-1", "--save-freq", "-1", "-q"]) == 0
    capsys.readouterr()
    assert main(["push", "--algo", "ppo", "--env", "CartPole-v1", "-f", str(logs), "--repo-id",
                 "my-org/ppo-CartPole-v1", "--n-eval-episodes", "2", "--no-video"]) == 0
    sha = capsys.readouterr().out.strip().splitlines()[-1]
    assert re.fullmatch(r"[0-9a-f]{40}", sha)
    from huggingface_hub import HfApi

    api = HfApi(endpoint=hub_server.url)
    assert api.model_info("my-org/ppo-CartPole-v1").sha == sha
    files = set(api.list_repo_files("my-org/ppo-CartPole-v1"))
    assert {"ppo-CartPole-v1.zip", "config.yml", "env_kwargs.yml", "results.json", "README.md"} <= files
    assert len(api.list_repo_commits("my-org/ppo-CartPole-v1")) == 2  # the initial commit, then ONE push

    assert main(["pull", "--repo-id", "my-org/ppo-CartPole-v1", "-f", str(tmp_path / "pulled")]) == 0
    assert sha in capsys.readouterr().out
    run_folder = tmp_path / "pulled" / "ppo" / "CartPole-v1_1"
    assert (run_folder / "CartPole-v1.zip").is_file() and (run_folder / "checkpoints").is_dir()
    assert yaml.safe_load((run_folder / "hub.yml").read_text())["commit"] == sha
    trained = PPO.load(logs / "ppo" / "CartPole-v1_1" / "CartPole-v1.zip", device="cpu")
    assert _same_weights(PPO.load(run_folder / "CartPole-v1.zip", device="cpu"), trained)

    assert main(["enjoy", "--folder", str(run_folder), "-n", "20", "--no-render"]) == 0
    assert main(["enjoy", "--repo-id", "my-org/ppo-CartPole-v1", "--revision", sha, "-n", "20", "--no-render"]) == 0


def test_revision_pinning_and_offline_cache(hub_server, monkeypatch):
    first, second = _model(0), _model(1)
    assert not _same_weights(first, second)
    sha1 = _push(first, "zoo-test/ppo-CartPole-v1").commit
    sha2 = _push(second, "zoo-test/ppo-CartPole-v1").commit
    assert sha1 != sha2
    assert _same_weights(load_from_hub("zoo-test/ppo-CartPole-v1", revision=sha1, device="cpu"), first)
    assert _same_weights(load_from_hub("zoo-test/ppo-CartPole-v1", device="cpu"), second)
    assert load_agent("zoo-test/ppo-CartPole-v1", revision=sha1[:12], device="cpu").commit == sha1

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # from the cache only: pinned and by branch
    assert _same_weights(load_from_hub("zoo-test/ppo-CartPole-v1", revision=sha1, device="cpu"), first)
    assert _same_weights(load_from_hub("zoo-test/ppo-CartPole-v1", device="cpu"), second)
    with pytest.raises(ZooError, match="not in the local cache and HF_HUB_OFFLINE is set"):
        load_agent("zoo-test/never-downloaded")
    monkeypatch.delenv("HF_HUB_OFFLINE")
    hub_server.stop()  # server down: what is cached still loads, the rest is one clear line
    assert _same_weights(load_from_hub("zoo-test/ppo-CartPole-v1", revision=sha1, device="cpu"), first)
    with pytest.raises(ZooError, match="cannot be reached|cannot reach"):
        load_agent("zoo-test/other-agent")


def test_model_card_and_results(hub_server, tmp_path):
    result = _push(_model(0), "zoo-test/ppo-CartPole-v1", local_dir=tmp_path)
    folder = tmp_path / "zoo-test" / "ppo-CartPole-v1"
    results = json.loads((folder / "results.json").read_text())
    assert results == result.results and results["n_eval_episodes"] == 2 and results["is_deterministic"] is True
    assert {"mean_reward", "std_reward", "eval_datetime"} <= set(results)
    card = (folder / "README.md").read_text()
    meta = yaml.safe_load(card.split("---")[1])
    assert meta["library_name"] == "stable-baselines3"
    assert {"reinforcement-learning", "ppo", "CartPole-v1", "stable-baselines3"} <= set(meta["tags"])
    metric = meta["model-index"][0]["results"][0]["metrics"][0]
    assert metric["type"] == "mean_reward"
    assert metric["value"] == f"{results['mean_reward']:.2f} +/- {results['std_reward']:.2f}"
    assert 'load_from_hub("zoo-test/ppo-CartPole-v1")' in card
    assert load_agent(folder, device="cpu").results == results


def test_algorithm_notes_go_on_their_cards_only():
    """The exploration bot's card says it is a teaching baseline; other cards carry no note."""
    from agents.registry import get_class
    from hub.card import ALGORITHM_NOTES, model_card

    results = {"mean_reward": -0.1, "std_reward": 0.9, "is_deterministic": True, "n_eval_episodes": 10,
               "eval_datetime": "2026-01-01T00:00:00"}
    for algo in ALGORITHM_NOTES:
        get_class(algo)  # every note belongs to a registered algorithm (a misspelt key would never show)
    bot = model_card("zoo-test/exploration_bot-Blackjack-v1", "exploration_bot", "ExplorationBot", "Blackjack-v1",
                     results, {}, has_video=False)
    body = bot.split("---", 2)[2]
    assert "teaching baseline, not reinforcement learning" in body and "immediate* reward" in body
    assert body.index("teaching baseline") < body.index("## Usage")
    ppo = model_card("zoo-test/ppo-CartPole-v1", "ppo", "PPO", "CartPole-v1", results, {}, has_video=False)
    assert not any(note in ppo for note in ALGORITHM_NOTES.values()) and "teaching baseline" not in ppo


def test_failures_are_one_clear_line(hub_server, hub_server_factory, monkeypatch, tmp_path):
    sha = _push(_model(0), "zoo-test/ppo-CartPole-v1").commit
    cases = {
        "sb3/does-not-exist": ("repository sb3/does-not-exist not found", None),
        "zoo-test/ppo-CartPole-v1": ("revision 'no-such-branch' not found", "no-such-branch"),
        "not a repo id": ("must look like ORG/NAME", None),
    }
    for repo_id, (message, revision) in cases.items():
        with pytest.raises(ZooError, match=re.escape(message)) as caught:
            load_agent(repo_id, revision=revision)
        assert "\n" not in str(caught.value)
    with pytest.raises(ZooError, match="file not found"):
        from hub.client import hub_errors
        from huggingface_hub import hf_hub_download

        with hub_errors("zoo-test/ppo-CartPole-v1", sha, hub_server.url):
            hf_hub_download("zoo-test/ppo-CartPole-v1", "missing.txt", revision=sha)

    guarded = hub_server_factory(token="s3cret")
    with pytest.raises(ZooError, match="refused the token"):
        _push(_model(0), "zoo-test/ppo-CartPole-v1", endpoint=guarded.url, token="wrong")
    assert _push(_model(0), "zoo-test/ppo-CartPole-v1", endpoint=guarded.url, token="s3cret").commit


def test_a_push_that_loses_a_race_changes_nothing(hub_server, monkeypatch):
    """The commit names its parent: if the repository moved meanwhile, the Hub refuses it whole."""
    from huggingface_hub import CommitOperationAdd, HfApi

    sha1 = _push(_model(0), "zoo-test/ppo-CartPole-v1").commit
    api = HfApi(endpoint=hub_server.url)
    real_model_info = HfApi.model_info
    state = {}

    def model_info_then_someone_else_pushes(self, repo_id, *args, **kwargs):
        info = real_model_info(self, repo_id, *args, **kwargs)
        if not state:
            state["other"] = api.create_commit(repo_id, [CommitOperationAdd("notes.txt", b"hello")],
                                               commit_message="someone else").oid
        return info

    monkeypatch.setattr(HfApi, "model_info", model_info_then_someone_else_pushes)
    with pytest.raises(ZooError, match="changed .* while pushing; nothing was committed"):
        _push(_model(1), "zoo-test/ppo-CartPole-v1")
    monkeypatch.setattr(HfApi, "model_info", real_model_info)
    assert api.model_info("zoo-test/ppo-CartPole-v1").sha == state["other"] != sha1
    assert _same_weights(load_from_hub("zoo-test/ppo-CartPole-v1", device="cpu"), _model(0))


def test_a_corrupt_download_is_caught_and_removed(hub_server):
    _push(_model(0), "zoo-test/ppo-CartPole-v1")
    snapshot = download("zoo-test/ppo-CartPole-v1")
    blob = (snapshot.folder / "ppo-CartPole-v1.zip").resolve()
    blob.write_bytes(blob.read_bytes()[:-10] + b"0123456789")  # same size, other content
    with pytest.raises(ZooError, match="corrupt .*hash.* removed from the cache"):
        download("zoo-test/ppo-CartPole-v1")
    assert _same_weights(load_from_hub("zoo-test/ppo-CartPole-v1", device="cpu"), _model(0))  # fetched again
    blob.write_bytes(b"x" * blob.stat().st_size)  # a pinned, cached commit is checked too (against blob names)
    with pytest.raises(ZooError, match="corrupt"):
        download("zoo-test/ppo-CartPole-v1", revision=snapshot.commit)


def test_fixtures_repositories_verify_against_the_hub_metadata(hub_agents_server):
    snapshot = download("sb3/ppo-Acrobot-v1")
    names = {p.name for p in snapshot.folder.iterdir()}
    assert {"ppo-Acrobot-v1.zip", "config.yml", "vec_normalize.pkl"} <= names
    assert np.isfinite(load_agent("sb3/ppo-Acrobot-v1", revision=snapshot.commit).normalization.obs_rms.mean).all()


def test_a_pulled_agent_resumes_training_with_its_normalisation(hub_server, tmp_path):
    from hub.normalization import NormalizationStats, RunningStats
    from zoo.pull import pull

    model = _model(0)
    model.learn(64)
    stats = NormalizationStats(obs_rms=RunningStats(np.arange(4.0), np.full(4, 2.0), 100.0),
                               ret_rms=RunningStats(np.zeros(()), np.ones(()), 100.0))
    hyperparams = {"policy": "MlpPolicy", "n_timesteps": 256, "n_steps": 32, "batch_size": 32, "normalize": True,
                   "policy_kwargs": "dict(net_arch=[8])"}
    push_to_hub(model, "zoo-test/ppo-CartPole-v1", env_id="CartPole-v1", hyperparams=hyperparams,
                normalization=stats, n_eval_episodes=1, video=False)
    folder = pull("zoo-test/ppo-CartPole-v1", tmp_path / "logs")
    assert (folder / "checkpoints" / f"rl_model_{model.num_timesteps}_steps.zip").is_file()
    assert load_folder_stats(folder).obs_rms.mean.tolist() == [0.0, 1.0, 2.0, 3.0]
    assert main(["train", "--resume", str(folder), "-q"]) == 0
    assert PPO.load(folder / "CartPole-v1.zip", device="cpu").num_timesteps == 256


def test_a_pulled_sb3_0x_agent_gets_sb3_2x_train_freq_and_resumes(hub_agents_server, tmp_path):
    """sb3/sac-Pendulum-v1's config says train_freq: -1, n_episodes_rollout: 1 (SB3 < 1.0): the pulled run folder
    says train_freq: [1, episode], which SB3 2.x takes (with -1 its learn() fails an assertion)."""
    from stable_baselines3 import SAC
    from stable_baselines3.common.type_aliases import TrainFrequencyUnit

    from zoo.pull import pull
    from hub.safe_yaml import load_yaml

    folder = pull("sb3/sac-Pendulum-v1", tmp_path / "logs", endpoint=hub_agents_server.url, device="cpu")
    config = load_yaml(folder / "config.yml")
    assert config["train_freq"] == [1, "episode"] and "n_episodes_rollout" not in config
    config["n_timesteps"] += 200  # one more episode
    (folder / "config.yml").write_text(yaml.safe_dump(config))
    assert main(["train", "--resume", str(folder), "-q", "--eval-episodes", "1"]) == 0
    model = SAC.load(folder / "Pendulum-v1.zip", device="cpu")
    assert model.num_timesteps == 20200 and model.train_freq.unit == TrainFrequencyUnit.EPISODE
    assert model.train_freq.frequency == 1


@pytest.mark.parametrize("config, key", [
    ({"train_freq": -1}, "train_freq"),
    ({"train_freq": -1, "n_episodes_rollout": 0}, "train_freq"),
    ({"train_freq": 4, "n_episodes_rollout": 2}, "n_episodes_rollout"),
    ({"n_episodes_rollout": "one"}, "n_episodes_rollout"),
])
def test_sb3_0x_train_freq_without_a_2x_form_is_one_line_naming_the_key(config, key):
    from hub.loading import clean_hyperparams, translate_old_keys

    with pytest.raises(ZooError) as caught:
        clean_hyperparams({"policy": "MlpPolicy", **config}, PPO, "old/config.yml")
    message = str(caught.value)
    assert "\n" not in message and message.startswith("old/config.yml: ") and key in message
    assert translate_old_keys({"train_freq": -1, "n_episodes_rollout": 3}, "x") == {"train_freq": [3, "episode"]}
    assert translate_old_keys({"train_freq": [1, "episode"]}, "x") == {"train_freq": [1, "episode"]}


def load_folder_stats(folder: Path):
    from hub.normalization import load_stats

    return load_stats(folder)


def test_a_push_cut_off_mid_upload_leaves_the_previous_commit(hub_server):
    """The commit request dies half-sent (client killed, network gone): the repository keeps its head."""
    import base64
    import socket
    from urllib.parse import urlparse

    from huggingface_hub import HfApi

    sha1 = _push(_model(0), "zoo-test/ppo-CartPole-v1").commit
    lines = [{"key": "header", "value": {"summary": "half a push", "description": "", "parentCommit": sha1}}]
    lines += [{"key": "file", "value": {"path": name, "content": base64.b64encode(b"x" * 50_000).decode(),
                                        "encoding": "base64"}} for name in ("ppo-CartPole-v1.zip", "results.json")]
    body = "\n".join(json.dumps(line) for line in lines).encode()
    url = urlparse(hub_server.url)
    head = (f"POST /api/models/zoo-test/ppo-CartPole-v1/commit/main HTTP/1.1\r\nHost: {url.netloc}\r\n"
            f"Content-Type: application/x-ndjson\r\nContent-Length: {len(body)}\r\n\r\n").encode()
    with socket.create_connection((url.hostname, url.port)) as connection:
        connection.sendall(head + body[: len(body) // 2])  # then the connection closes
    api = HfApi(endpoint=hub_server.url)
    assert api.model_info("zoo-test/ppo-CartPole-v1").sha == sha1
    assert _same_weights(load_from_hub("zoo-test/ppo-CartPole-v1", device="cpu"), _model(0))
    assert _push(_model(1), "zoo-test/ppo-CartPole-v1").commit != sha1  # and the next push goes through
    titles = [commit.title for commit in api.list_repo_commits("zoo-test/ppo-CartPole-v1")]
    assert len(titles) == 3 and "half a push" not in titles  # creation, first push, last push
