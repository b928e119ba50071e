"""Config parsing: the RL Baselines3 Zoo's format, its string forms, schedules, overrides, bad input."""

from pathlib import Path

import pytest
import torch.nn as nn
from stable_baselines3 import DQN, PPO, SAC, TD3

from zoo.config import (
    CONFIGS_DIR,
    build_hyperparams,
    load_hyperparams,
    parse_assignments,
    parse_policy_kwargs,
    read_yaml,
    select_entry,
)
from zoo.errors import ZooError

RLZOO = Path(__file__).parent / "data" / "rlzoo"


def test_policy_kwargs_string_form_is_parsed_not_evaluated():
    kwargs = parse_policy_kwargs("dict(log_std_init=-2, ortho_init=False, activation_fn=nn.ReLU, "
                                 "net_arch=dict(pi=[256], vf=[256]))", "here")
    assert kwargs == {"log_std_init": -2, "ortho_init": False, "activation_fn": nn.ReLU,
                      "net_arch": {"pi": [256], "vf": [256]}}


def test_policy_kwargs_mapping_form_resolves_allowed_names():
    assert parse_policy_kwargs({"net_arch": [64, 64], "activation_fn": "nn.Tanh"}, "here") == {
        "net_arch": [64, 64], "activation_fn": nn.Tanh}


@pytest.mark.parametrize("text", [
    "dict(a=__import__('os').system('echo pwned'))",
    "dict(a=os.system)",
    "dict(**x)",
    "(lambda: 1)()",
    "dict(a=open('/etc/passwd'))",
])
def test_policy_kwargs_refuses_code(text):
    with pytest.raises(ZooError):
        parse_policy_kwargs(text, "here")


def test_linear_schedule_goes_from_value_to_zero():
    hp = build_hyperparams("ppo", "CartPole-v1", {"n_timesteps": 1e4, "learning_rate": "lin_0.001"}, PPO, "f.yml")
    schedule = hp.algo_kwargs["learning_rate"]
    assert schedule(1.0) == pytest.approx(0.001)
    assert schedule(0.5) == pytest.approx(0.0005)
    assert schedule(0.0) == pytest.approx(0.0)
    assert hp.n_timesteps == 10_000 and isinstance(hp.n_timesteps, int)


def test_zoo_keys_are_split_from_constructor_arguments():
    raw = {"n_timesteps": 1e5, "policy": "MlpPolicy", "n_envs": 4, "normalize": "{'norm_obs': True, 'norm_reward': False}",
           "frame_stack": 4, "env_wrapper": [{"gymnasium.wrappers.TimeLimit": {"max_episode_steps": 10}}], "gamma": 0.9}
    hp = build_hyperparams("ppo", "X", raw, PPO, "f.yml")
    assert hp.normalize == {"norm_obs": True, "norm_reward": False}
    assert hp.env_wrappers == [("gymnasium.wrappers.TimeLimit", {"max_episode_steps": 10})]
    assert hp.frame_stack == 4 and hp.n_envs == 4
    assert hp.algo_kwargs == {"gamma": 0.9}


def test_off_policy_forms():
    hp = build_hyperparams("td3", "X", {"n_timesteps": 1e4, "train_freq": [1, "episode"], "buffer_size": 1e5,
                                        "noise_type": "normal", "noise_std": 0.1}, TD3, "f.yml")
    assert hp.algo_kwargs == {"train_freq": (1, "episode"), "buffer_size": 100_000}
    assert hp.action_noise == ("normal", 0.1)


@pytest.mark.parametrize("name,algo_class", [("ppo", PPO), ("dqn", DQN), ("sac", SAC)])
def test_rl_baselines3_zoo_files_load_as_they_are(name, algo_class):
    path = RLZOO / f"{name}.yml"
    data = read_yaml(path)
    assert len(data) >= 3
    for env_id in data:
        raw = select_entry(data, env_id, path)
        hp = build_hyperparams(name, env_id, raw, algo_class, str(path))
        assert hp.n_timesteps > 0


def test_default_entry_is_the_fallback(tmp_path):
    path = tmp_path / "c.yml"
    path.write_text("default:\n  n_timesteps: 100\n  policy: MlpPolicy\n")
    hp = load_hyperparams("ppo", "Acrobot-v1", conf_file=path)
    assert hp.n_timesteps == 100


def test_overrides_are_typed_by_literal_parsing():
    assert parse_assignments(["learning_rate=3e-4", "n_envs=4", "net=[64, 64]", "name:abc"], "--hyperparams") == {
        "learning_rate": 3e-4, "n_envs": 4, "net": [64, 64], "name": "abc"}
    hp = load_hyperparams("ppo", "CartPole-v1", overrides={"learning_rate": 3e-4, "n_envs": 2})
    assert hp.algo_kwargs["learning_rate"] == 3e-4 and hp.n_envs == 2


def test_shipped_configs_cover_the_classic_envs():
    from zoo.config import configured_envs

    discrete = ["CartPole-v1", "Acrobot-v1", "MountainCar-v0", "LunarLander-v3"]
    continuous = ["Pendulum-v1", "MountainCarContinuous-v0"]
    for algo in ["a2c", "ppo", "trpo", "ppo_lstm", "ars"]:
        assert set(discrete + continuous) <= set(configured_envs(CONFIGS_DIR / f"{algo}.yml")), algo
    for algo in ["dqn", "qrdqn", "ppo_mask"]:
        assert set(discrete) <= set(configured_envs(CONFIGS_DIR / f"{algo}.yml")), algo
    for algo in ["sac", "td3", "tqc", "ddpg", "crossq"]:
        assert set(continuous) <= set(configured_envs(CONFIGS_DIR / f"{algo}.yml")), algo


# ------------------------------------------------------------ bad input: file, key and what was expected


def test_bad_yaml_names_file_and_line(tmp_path):
    path = tmp_path / "bad.yml"
    path.write_text("CartPole-v1:\n  n_timesteps: 1\n   policy: [\n")
    with pytest.raises(ZooError, match=r"bad\.yml:\d+: invalid YAML"):
        read_yaml(path)


def test_unknown_key_names_file_env_and_nearest(tmp_path):
    path = tmp_path / "c.yml"
    path.write_text("CartPole-v1:\n  n_timesteps: 100\n  learnin_rate: 0.1\n")
    with pytest.raises(ZooError, match=r"c\.yml: CartPole-v1: unknown key 'learnin_rate' for PPO; did you mean 'learning_rate'"):
        load_hyperparams("ppo", "CartPole-v1", conf_file=path)


@pytest.mark.parametrize("key,value,expected", [
    ("n_epochs", "ten", "n_epochs must be int"),
    ("learning_rate", "fast", "learning_rate must be float or schedule"),
    ("use_sde", 1, "use_sde must be bool"),
    ("n_timesteps", "many", "n_timesteps must be an integer"),
    ("n_envs", 1.5, "n_envs must be an integer"),
    ("normalize", 3, "expected true, false or a mapping"),
])
def test_wrong_type_says_what_was_expected(key, value, expected):
    raw = {"n_timesteps": 100, key: value}
    with pytest.raises(ZooError, match=expected):
        build_hyperparams("ppo", "CartPole-v1", raw, PPO, "configs/ppo.yml")


def test_missing_env_entry_lists_configured_envs(tmp_path):
    path = tmp_path / "c.yml"
    path.write_text("CartPole-v1:\n  n_timesteps: 100\n")
    with pytest.raises(ZooError, match="has no entry for Acrobot-v1.*configured: CartPole-v1"):
        load_hyperparams("ppo", "Acrobot-v1", conf_file=path)


def test_bad_override_syntax():
    with pytest.raises(ZooError, match="expected KEY=VALUE"):
        parse_assignments(["learning_rate"], "--hyperparams")
