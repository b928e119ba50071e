"""The algorithm registry: names, classes, action spaces."""

import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces
from stable_baselines3.common.base_class import BaseAlgorithm

import agents
from agents.registry import ALGOS, get_spec
from zoo.errors import ZooError

SB3_AND_CONTRIB = ["a2c", "ppo", "dqn", "ddpg", "sac", "td3", "trpo", "qrdqn", "tqc", "ars", "ppo_lstm", "ppo_mask", "crossq"]


@pytest.mark.parametrize("name", SB3_AND_CONTRIB)
def test_every_sb3_and_contrib_algorithm_is_registered(name):
    cls = get_spec(name).load()
    assert issubclass(cls, BaseAlgorithm)
    assert getattr(agents, cls.__name__) is cls


def test_every_registered_class_imports_and_is_a_base_algorithm():
    for spec in ALGOS.values():
        assert issubclass(spec.load(), BaseAlgorithm), spec.name


def test_from_agents_import():
    from agents import PPO, TRPO, QRDQN, RecurrentPPO  # noqa: F401
    import sb3_contrib
    assert TRPO is sb3_contrib.TRPO


def test_class_names_and_case_are_accepted():
    assert get_spec("RecurrentPPO").name == "ppo_lstm"
    assert get_spec("PPO").name == "ppo"


def test_unknown_name_suggests_nearest():
    with pytest.raises(ZooError, match="did you mean ppo"):
        get_spec("ppoo")
    with pytest.raises(AttributeError):
        agents.NoSuchAlgorithm  # noqa: B018


class _ActionSpaceEnv(gym.Env):
    """Box observations and the action space under test."""

    def __init__(self, kind):
        self.observation_space = spaces.Box(-1.0, 1.0, (2,), np.float32)
        self.action_space = {"Discrete": spaces.Discrete(3), "Box": spaces.Box(-1.0, 1.0, (2,), np.float32),
                             "MultiDiscrete": spaces.MultiDiscrete([2, 3]), "MultiBinary": spaces.MultiBinary(2)}[kind]

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return np.zeros(2, np.float32), {}

    def step(self, action):
        return np.zeros(2, np.float32), 0.0, True, False, {}


@pytest.mark.parametrize("name", SB3_AND_CONTRIB)
def test_declared_action_spaces_are_exactly_those_the_algorithm_accepts(name):
    spec = get_spec(name)
    kwargs = {"buffer_size": 100} if spec.off_policy else {}
    for kind in ["Discrete", "Box", "MultiDiscrete", "MultiBinary"]:
        try:
            policy = "MlpLstmPolicy" if name == "ppo_lstm" else "MlpPolicy"
            spec.load()(policy, _ActionSpaceEnv(kind), **kwargs)
            accepted = True
        except (AssertionError, ValueError):
            accepted = False
        assert accepted == (kind in spec.action_spaces), (name, kind)


def test_importing_agents_and_help_stay_light():
    code = "import sys, agents, zoo.cli; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
    result = subprocess.run([sys.executable, "-m", "zoo", "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "train" in result.stdout


def test_zoo_list_shows_algorithms_spaces_configs_and_pretrained(capsys):
    from zoo.cli import main

    assert main(["list"]) == 0
    out = capsys.readouterr().out
    dqn_row = next(line for line in out.splitlines() if line.startswith("dqn "))
    assert "DQN" in dqn_row and "Discrete" in dqn_row and "CartPole-v1" in dqn_row and "Box" not in dqn_row
    assert all(name in out for name in ALGOS)
    assert "agent-zoo/ppo-CartPole-v1" in out
