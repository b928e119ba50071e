"""Pickle-free loading (``hub/safe_load.py``, ``hub/normalization.py``, ``hub/safe_yaml.py``, ``hub/loading.py``).

The ten third-party fixtures load by repository id from a Hub serving them and reproduce their scores
(quick version: one seeded episode each; the full evaluation is ``benchmarks/hub_fixtures.py``), and four
crafted checkpoints (code in ``data``, in the normalisation pickle, in ``config.yml``, in ``policy.pth``)
are refused without their payload running.
"""

from __future__ import annotations

import base64
import csv
import json
import os
import pickle
import shutil
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch as th

from hub.loading import load_agent, load_folder
from hub.normalization import from_json, read_vec_normalize_pkl, to_json
from hub.safe_load import UnsafeCheckpointError, load_sb3_zip
from hub.safe_yaml import load_yaml_text
from zoo.errors import ZooError

FIXTURES = Path(__file__).resolve().parent / "data" / "sb3-zoo-agents"
EXPECTED = {row["repo_id"]: row for row in csv.DictReader(open(FIXTURES / "EXPECTED.tsv"), delimiter="\t")}


def _evaluate(agent, n_episodes: int, seed: int = 0) -> list[float]:
    from stable_baselines3.common.evaluation import evaluate_policy

    from zoo.envs.factory import create_env

    env = create_env(agent.env_id, 1, hyperparams=agent.hyperparams, env_kwargs=agent.env_kwargs, seed=seed,
                     wrap_normalize=agent.wrap_normalize, training=False)
    returns, _ = evaluate_policy(agent.model, env, n_eval_episodes=n_episodes, deterministic=True,
                                 return_episode_rewards=True)
    env.close()
    return returns


def test_the_ten_fixtures_load_by_repo_id_and_reproduce_their_scores(hub_agents_server):
    assert len(EXPECTED) == 10
    for repo_id, row in EXPECTED.items():
        agent = load_agent(repo_id, endpoint=hub_agents_server.url, device="cpu")
        assert agent.env_id == row["env_id"] and agent.repo_id == repo_id and len(agent.commit) == 40
        (ret,) = _evaluate(agent, 1)
        mean, std = float(row["reported_mean"]), float(row["reported_std"])
        if row["env_id"] == "CartPole-v1":
            assert ret == 500.0, repo_id
        else:  # one episode is noisier than a mean: allow two reported standard deviations
            assert abs(ret - mean) <= 2 * std, (repo_id, ret, mean, std)


def test_normalised_fixtures_get_their_statistics():
    for name in ("a2c-Pendulum-v1", "ppo-Acrobot-v1", "trpo-MountainCar-v0"):
        agent = load_folder(FIXTURES / "sb3" / name, device="cpu")
        assert agent.wrap_normalize is not None and agent.normalization.obs_rms.count > 1000
    assert load_folder(FIXTURES / "sb3" / "dqn-CartPole-v1", device="cpu").wrap_normalize is None


def test_restricted_unpickler_reads_what_sb3_pickled():
    """For the gymnasium-era pickle the real unpickler can read, both give the same numbers."""
    raw = (FIXTURES / "sb3" / "a2c-Pendulum-v1" / "vec_normalize.pkl").read_bytes()
    ours = read_vec_normalize_pkl(raw)
    theirs = pickle.loads(raw)  # a fixture of known origin, to compare against
    np.testing.assert_array_equal(ours.obs_rms.mean, theirs.obs_rms.mean)
    np.testing.assert_array_equal(ours.obs_rms.var, theirs.obs_rms.var)
    assert ours.ret_rms.count == theirs.ret_rms.count and ours.clip_obs == theirs.clip_obs
    back = from_json(to_json(ours))  # the zoo's JSON form keeps every bit
    np.testing.assert_array_equal(back.obs_rms.var, ours.obs_rms.var)
    assert back.norm_reward == ours.norm_reward and back.epsilon == ours.epsilon


def test_same_actions_as_sb3_load_on_gymnasium_fixtures():
    from stable_baselines3 import A2C

    for name in ("a2c-CartPole-v1", "a2c-Pendulum-v1"):
        path = FIXTURES / "sb3" / name / f"{name}.zip"
        ours, theirs = load_sb3_zip(path, A2C, device="cpu"), A2C.load(path, device="cpu")
        for key, value in theirs.policy.state_dict().items():
            assert th.equal(value, ours.policy.state_dict()[key]), key
        obs = np.stack([ours.observation_space.sample() for _ in range(16)])
        np.testing.assert_array_equal(ours.predict(obs, deterministic=True)[0], theirs.predict(obs, deterministic=True)[0])
        assert (ours.n_steps, ours.gamma, ours.gae_lambda, ours.use_sde) == (
            theirs.n_steps, theirs.gamma, theirs.gae_lambda, theirs.use_sde)


@pytest.mark.parametrize("algo", ["ppo", "dqn", "sac", "qrdqn", "tqc", "trpo", "ars", "td3"])
def test_round_trip_of_models_saved_by_this_sb3(algo, tmp_path):
    """Any registry algorithm saved by the installed SB3 comes back with the same weights and hyperparameters."""
    import gymnasium as gym

    from agents.registry import get_class

    env_id = "CartPole-v1" if algo in ("ppo", "dqn", "qrdqn", "trpo", "ars") else "Pendulum-v1"
    cls = get_class(algo)
    kwargs = {"policy_kwargs": {"net_arch": [8, 8]}} if algo != "ars" else {}
    if algo in ("dqn", "qrdqn", "sac", "tqc", "td3"):
        kwargs["buffer_size"] = 1000
    name, value = ("n_delta", 3) if algo == "ars" else ("gamma", 0.95)  # a non-default hyperparameter
    model = cls("MlpPolicy", gym.make(env_id), seed=3, device="cpu", **{name: value}, **kwargs)
    model.save(tmp_path / "m.zip")
    loaded = load_sb3_zip(tmp_path / "m.zip", cls, device="cpu")
    assert type(loaded.policy) is type(model.policy) and getattr(loaded, name) == value
    original = model.policy.state_dict()
    assert original.keys() == loaded.policy.state_dict().keys()
    for key, value in loaded.policy.state_dict().items():
        assert th.equal(value, original[key]), key
    obs = np.stack([model.observation_space.sample() for _ in range(8)])
    np.testing.assert_array_equal(loaded.predict(obs, deterministic=True)[0], model.predict(obs, deterministic=True)[0])


# ------------------------------------------------------------------------------------ malicious checkpoints


class _Payload:
    """Unpickling this creates the marker file: proof that code ran."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.fixture
def agent_copy(tmp_path) -> Path:
    """A writable copy of a normalised fixture (its zip, config, normalisation pickle)."""
    folder = tmp_path / "ppo-Acrobot-v1"
    shutil.copytree(FIXTURES / "sb3" / "ppo-Acrobot-v1", folder)
    for path in folder.iterdir():
        path.chmod(0o644)
    load_folder(folder, device="cpu")  # loads as it is
    return folder


def _rewrite_zip(path: Path, member: str, content: bytes) -> None:
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    members[member] = content
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def _refused(folder: Path, marker: Path, *words: str) -> str:
    with pytest.raises(UnsafeCheckpointError) as caught:
        load_folder(folder, device="cpu")
    message = str(caught.value)
    assert "\n" not in message and all(word in message for word in words), message
    assert not marker.exists(), "the payload ran"
    return message


def test_payload_in_data_is_refused(agent_copy, tmp_path):
    marker = tmp_path / "pwned-data"
    zip_path = agent_copy / "ppo-Acrobot-v1.zip"
    data = json.loads(zipfile.ZipFile(zip_path).read("data"))
    serialized = base64.b64encode(pickle.dumps(_Payload(marker))).decode()
    # the policy class replaced by a pickled call: its readable copy names no policy of PPO
    data["policy_class"] = {":type:": "<class 'builtin_function_or_method'>", ":serialized:": serialized}
    _rewrite_zip(zip_path, "data", json.dumps(data).encode())
    _refused(agent_copy, marker, "policy class", "PPO")
    # a policy keyword argument naming a class outside the allow-list
    data = json.loads(zipfile.ZipFile(FIXTURES / "sb3" / "ppo-Acrobot-v1" / "ppo-Acrobot-v1.zip").read("data"))
    data["policy_kwargs"] = {":type:": "<class 'dict'>", ":serialized:": serialized,
                             "activation_fn": "<class 'evil.Payload'>"}
    _rewrite_zip(zip_path, "data", json.dumps(data).encode())
    _refused(agent_copy, marker, "evil.Payload", "allow-list")


def test_payload_only_in_pickled_fields_never_runs(agent_copy, tmp_path):
    """Pickles next to readable copies are ignored: the agent loads and the payload stays inert."""
    marker = tmp_path / "pwned-serialized"
    zip_path = agent_copy / "ppo-Acrobot-v1.zip"
    data = json.loads(zipfile.ZipFile(zip_path).read("data"))
    for key in ("observation_space", "action_space", "policy_class", "lr_schedule"):
        data[key][":serialized:"] = base64.b64encode(pickle.dumps(_Payload(marker))).decode()
    _rewrite_zip(zip_path, "data", json.dumps(data).encode())
    agent = load_folder(agent_copy, device="cpu")
    assert agent.model.action_space.n == 3 and not marker.exists()


def test_payload_in_normalisation_pickle_is_refused(agent_copy, tmp_path):
    marker = tmp_path / "pwned-pkl"
    (agent_copy / "vec_normalize.pkl").write_bytes(pickle.dumps(_Payload(marker)))
    _refused(agent_copy, marker, "normalisation pickle", "system")


def test_payload_in_config_is_refused(agent_copy, tmp_path):
    marker = tmp_path / "pwned-config"
    (agent_copy / "config.yml").write_text(f"!!python/object/apply:os.system ['touch {marker}']\n")
    _refused(agent_copy, marker, "config.yml", "refused")
    (agent_copy / "config.yml").write_text("policy: MlpPolicy\nenv_wrapper: os.system\n")
    _refused(agent_copy, marker, "env_wrapper", "os.system")


def test_payload_in_policy_pth_is_refused(agent_copy, tmp_path):
    marker = tmp_path / "pwned-pth"
    buffer = __import__("io").BytesIO()
    th.save({"mlp_extractor.policy_net.0.weight": _Payload(marker)}, buffer)
    _rewrite_zip(agent_copy / "ppo-Acrobot-v1.zip", "policy.pth", buffer.getvalue())
    _refused(agent_copy, marker, "policy.pth", "refused")


def test_rl_zoo_ordered_dict_yaml_reads_but_other_python_tags_do_not():
    text = "!!python/object/apply:collections.OrderedDict\n- - - n_envs\n    - 8\n  - - policy\n    - MlpPolicy\n"
    assert load_yaml_text(text) == {"n_envs": 8, "policy": "MlpPolicy"}
    with pytest.raises(UnsafeCheckpointError):
        load_yaml_text("!!python/name:os.system ''")
    with pytest.raises(ZooError, match="not valid YAML"):
        load_yaml_text("a: [b")


def test_unreadable_spaces_and_classes_give_one_line_errors(tmp_path):
    from stable_baselines3 import PPO

    path = tmp_path / "m.zip"
    shutil.copyfile(FIXTURES / "sb3" / "ppo-CartPole-v1" / "ppo-CartPole-v1.zip", path)
    path.chmod(0o644)
    data = json.loads(zipfile.ZipFile(path).read("data"))
    data["observation_space"] = {":type:": "<class 'gymnasium.spaces.graph.Graph'>", ":serialized:": ""}
    _rewrite_zip(path, "data", json.dumps(data).encode())
    with pytest.raises(ZooError, match="Graph space"):
        load_sb3_zip(path, PPO, device="cpu")
    (tmp_path / "not.zip").write_text("hello")
    with pytest.raises(ZooError, match="not a Stable-Baselines3 checkpoint"):
        load_sb3_zip(tmp_path / "not.zip", PPO)


@pytest.mark.parametrize("space", [
    __import__("gymnasium").spaces.Box(0, 255, (84, 84, 3), np.uint8),  # printed abbreviated by numpy
    __import__("gymnasium").spaces.Box(np.array([-1.0, -2.0]), np.array([1.0, np.inf]), dtype=np.float32),
    __import__("gymnasium").spaces.Discrete(5, start=-2),
    __import__("gymnasium").spaces.MultiDiscrete([3, 4, 2]),
    __import__("gymnasium").spaces.MultiBinary(6),
    __import__("gymnasium").make("Blackjack-v1").observation_space,  # Tuple(Discrete(32), Discrete(11), Discrete(2))
    __import__("gymnasium").spaces.Tuple((__import__("gymnasium").spaces.Discrete(3, start=-1),)),
], ids=["image", "box", "discrete", "multidiscrete", "multibinary", "blackjack-tuple", "one-tuple"])
def test_spaces_come_back_from_their_readable_json(space):
    from stable_baselines3.common.save_util import data_to_json

    from hub.safe_load import space_from_json

    entry = json.loads(data_to_json({"space": space}))["space"]
    assert space_from_json(entry, "space") == space


def _blackjack_qlearning(tmp_path: Path) -> tuple[Any, Path]:
    """A Q-learning agent on Blackjack-v1 (a Tuple observation space, alpha a schedule), trained briefly and saved."""
    import gymnasium as gym

    from agents import QLearning
    from zoo.config import parse_schedule

    model = QLearning("TabularPolicy", gym.make("Blackjack-v1"), alpha=parse_schedule("lin_0.05"), gamma=0.9,
                      epsilon=0.3, seed=1)
    model.learn(3000)
    model.save(tmp_path / "bj.zip")
    return model, tmp_path / "bj.zip"


def test_tuple_space_tabular_agent_round_trip(tmp_path):
    """Blackjack's Tuple observation space comes back from its printed form; alpha from the config's lin_X."""
    from gymnasium import spaces

    from agents import QLearning

    model, path = _blackjack_qlearning(tmp_path)
    data = json.loads(zipfile.ZipFile(path).read("data"))
    assert data["observation_space"]["spaces"] == "(Discrete(32), Discrete(11), Discrete(2))"
    assert not _readable_alpha(data)  # a schedule is only pickled: it must come from the config
    loaded = load_sb3_zip(path, QLearning, device="cpu", fallback_hyperparams={"alpha": "lin_0.05"})
    assert loaded.observation_space == spaces.Tuple((spaces.Discrete(32), spaces.Discrete(11), spaces.Discrete(2)))
    assert callable(loaded.alpha) and loaded.alpha(1.0) == pytest.approx(0.05) and loaded.alpha(0.0) == 0.0
    assert loaded.gamma == 0.9 and loaded.num_timesteps == model.num_timesteps
    assert th.equal(loaded.policy.q_table, model.policy.q_table) and loaded.policy.q_table.abs().sum() > 0
    observations = [(s, d, a) for s in range(4, 22) for d in range(1, 11) for a in (0, 1)]
    for obs in observations:
        assert loaded.predict(obs, deterministic=True)[0] == model.predict(obs, deterministic=True)[0], obs


def _readable_alpha(data: dict) -> bool:
    return not (isinstance(data.get("alpha"), dict) and ":type:" in data["alpha"])


@pytest.mark.parametrize("printed", [
    "(Discrete(32), Discrete(11), __import__('os').system('touch {marker}'))",  # code where a space should be
    "(Discrete(32), Discrete(11), Discrete(2)",  # cut short
    "(Discrete(32), Graph(Box(0, 1, (2,)), None))",  # a space with no readable form here
    "(Discrete(-3),)",
    "Discrete(32)",  # not a tuple
])
def test_malformed_tuple_space_is_refused_in_one_line(printed, tmp_path):
    from agents import QLearning

    marker = tmp_path / "pwned-tuple"
    _, path = _blackjack_qlearning(tmp_path)
    data = json.loads(zipfile.ZipFile(path).read("data"))
    data["observation_space"]["spaces"] = printed.format(marker=marker)
    _rewrite_zip(path, "data", json.dumps(data).encode())
    with pytest.raises(ZooError) as caught:
        load_sb3_zip(path, QLearning, device="cpu", fallback_hyperparams={"alpha": "lin_0.05"})
    message = str(caught.value)
    assert "\n" not in message and "observation_space is not a readable" in message
    assert not marker.exists()
