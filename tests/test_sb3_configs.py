"""The shipped configs of the SB3 / sb3-contrib algorithms, and the all-valid action masks for MaskablePPO.

Every entry must load through the zoo's config loader, name an env whose action space the algorithm
handles, and build a working model (constructor only: learning quality is the benchmarks' job).
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces

from agents.registry import get_spec
from zoo.config import config_path, configured_envs, load_hyperparams, make_action_noise
from zoo.envs.factory import create_env
from agents.common.masking import AllActionsValid, mask_size
from zoo.errors import ZooError

SB3_ALGOS = ("a2c", "ppo", "dqn", "ddpg", "sac", "td3", "trpo", "qrdqn", "tqc", "ars", "ppo_lstm", "ppo_mask", "crossq")
DISCRETE_ENVS = ("CartPole-v1", "Acrobot-v1", "MountainCar-v0", "LunarLander-v3")
BOX_ENVS = ("Pendulum-v1", "MountainCarContinuous-v0")
ENTRIES = [(algo, env_id) for algo in SB3_ALGOS for env_id in configured_envs(config_path(algo))]


def _action_space(env_id: str) -> gym.Space:
    env = gym.make(env_id)
    space = env.action_space
    env.close()
    return space


@pytest.mark.parametrize("algo", SB3_ALGOS)
def test_every_algorithm_covers_the_classic_envs_its_action_space_fits(algo: str) -> None:
    spec = get_spec(algo)
    expected = set()
    if "Discrete" in spec.action_spaces:
        expected.update(DISCRETE_ENVS)
    if "Box" in spec.action_spaces:
        expected.update(BOX_ENVS)
    missing = expected - set(configured_envs(config_path(algo)))
    assert not missing, f"configs/{algo}.yml has no entry for {sorted(missing)}"


@pytest.mark.parametrize(("algo", "env_id"), ENTRIES)
def test_entry_loads_and_builds_a_model(algo: str, env_id: str) -> None:
    spec = get_spec(algo)
    hyperparams = load_hyperparams(algo, env_id)
    assert type(_action_space(env_id)).__name__ in spec.action_spaces
    # A single env copy keeps this cheap; the rollout sizes stay consistent for any n_envs >= 1.
    venv = create_env(env_id, n_envs=1, hyperparams=hyperparams.raw, seed=0)
    kwargs = dict(hyperparams.algo_kwargs)
    if hyperparams.action_noise is not None:
        kwargs["action_noise"] = make_action_noise(hyperparams.action_noise, venv.action_space.shape[0])
    model = spec.load()(hyperparams.policy, venv, seed=0, device="cpu", **kwargs)
    action, _ = model.predict(venv.reset(), deterministic=True)
    assert venv.action_space.contains(action[0])
    venv.close()


@pytest.mark.parametrize(
    ("space", "size"),
    [(spaces.Discrete(4), 4), (spaces.MultiDiscrete([3, 5]), 8), (spaces.MultiBinary(3), 6)],
)
def test_mask_size_matches_what_maskable_ppo_expects(space: gym.Space, size: int) -> None:
    assert mask_size(space) == size


def test_mask_size_refuses_continuous_actions() -> None:
    with pytest.raises(ZooError, match="Discrete"):
        mask_size(spaces.Box(-1.0, 1.0, (2,)))


def test_all_actions_valid_is_seen_by_maskable_ppo_through_the_config() -> None:
    from sb3_contrib.common.maskable.utils import get_action_masks, is_masking_supported

    venv = create_env("CartPole-v1", n_envs=2, hyperparams=load_hyperparams("ppo_mask", "CartPole-v1").raw)
    assert is_masking_supported(venv)
    masks = get_action_masks(venv)
    assert masks.shape == (2, 2) and masks.dtype == bool and masks.all()
    venv.close()


def test_all_actions_valid_leaves_the_env_unchanged() -> None:
    plain, wrapped = gym.make("CartPole-v1"), AllActionsValid(gym.make("CartPole-v1"))
    obs_plain, _ = plain.reset(seed=3)
    obs_wrapped, _ = wrapped.reset(seed=3)
    for _ in range(5):
        obs_plain, *_ = plain.step(1)
        obs_wrapped, *_ = wrapped.step(1)
    np.testing.assert_array_equal(obs_plain, obs_wrapped)
    wrapped.action_masks()[0] = False  # callers get a copy: the next mask is still all True
    assert wrapped.action_masks().all()
