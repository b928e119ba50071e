"""The multi-agent env adapter (agents.multiagent.adapter) and the mpe2 / lbforaging env ids."""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces
from pettingzoo.utils.env import ParallelEnv

pytest.importorskip("mpe2")
pytest.importorskip("lbforaging")

import zoo.envs  # noqa: F401,E402  (registers the env ids)
from agents.errors import ZooError  # noqa: E402
from agents.multiagent.adapter import MultiAgentEnv, MultiAgentSpec, as_multiagent_env  # noqa: E402
from agents.multiagent.envs import mpe2_scenarios, multiagent_env_ids  # noqa: E402

LBF = "lbforaging/Foraging-8x8-2p-2f-coop-v3"


def checked(env: gym.Env, render: bool = True) -> None:
    from gymnasium.utils.env_checker import check_env as gym_check_env
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # MPE's observations are unbounded: a warning, not an error
        gym_check_env(env, skip_render_check=not render)
        sb3_check_env(env)


@pytest.mark.parametrize(
    "env_id, kwargs",
    [
        ("mpe2/simple_spread_v3", {}),
        ("mpe2/simple_spread_v3", {"continuous_actions": True}),
        ("mpe2/simple_speaker_listener_v4", {}),
        ("mpe2/simple_speaker_listener_v4", {"continuous_actions": True}),
        ("mpe2/simple_tag_v3", {}),
        ("mpe2/simple_adversary_v3", {"continuous_actions": True}),
    ],
)
def test_mpe2_passes_check_env_and_reports_each_agent(env_id: str, kwargs: dict) -> None:
    env = gym.make(env_id, **kwargs)
    checked(env.unwrapped)
    spec: MultiAgentSpec = env.unwrapped.multiagent_spec
    obs, info = env.reset(seed=1)
    assert obs.shape == (sum(spec.obs_sizes),) and info["state"].shape == (spec.state_size,)
    total = 0.0
    for _ in range(30):
        obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
        assert info["agent_rewards"].shape == (spec.n_agents,)
        assert reward == pytest.approx(float(info["agent_rewards"].sum()), abs=1e-5)
        total += reward
        if terminated or truncated:
            break
    assert truncated and not terminated  # MPE's episodes end at max_cycles (25): a time limit
    assert total != 0.0 or env_id == "mpe2/simple_tag_v3"
    if kwargs.get("continuous_actions"):
        assert isinstance(env.action_space, spaces.Box) and env.action_space.low.min() == -1 and env.action_space.high.max() == 1
    else:
        assert isinstance(env.action_space, spaces.MultiDiscrete)


def test_heterogeneous_agents_keep_their_own_sizes() -> None:
    spec = gym.make("mpe2/simple_speaker_listener_v4", continuous_actions=True).unwrapped.multiagent_spec
    assert spec.agent_ids == ["speaker_0", "listener_0"]
    assert spec.obs_sizes == [3, 11] and spec.action_sizes == [3, 5] and not spec.discrete
    discrete = gym.make("mpe2/simple_speaker_listener_v4").unwrapped
    assert list(discrete.action_space.nvec) == [3, 5]
    parts = discrete.multiagent_spec.split_obs(np.arange(14.0))
    assert [len(p) for p in parts] == [3, 11] and parts[1][0] == 3.0


def test_competitive_rewards_differ_per_agent() -> None:
    env = gym.make("mpe2/simple_adversary_v3").unwrapped
    env.reset(seed=0)
    _, _, _, _, info = env.step(env.action_space.sample())
    rewards = info["agent_rewards"]
    assert rewards[0] != rewards[1]  # the adversary is paid against the good agents


def test_env_kwargs_reach_the_scenario_and_bad_ones_are_named() -> None:
    env = gym.make("mpe2/simple_spread_v3", N=2, max_cycles=5)
    assert env.unwrapped.multiagent_spec.n_agents == 2
    env.reset(seed=0)
    steps = 0
    while True:
        steps += 1
        *_, terminated, truncated, _ = env.step(env.action_space.sample())
        if terminated or truncated:
            break
    assert steps == 5
    with pytest.raises(ZooError, match=r"takes no env kwarg 'n'; did you mean N\?"):
        gym.make("mpe2/simple_spread_v3", n=2)
    with pytest.raises(ZooError, match="did you mean max_episode_steps"):
        gym.make(LBF, max_episode_step=10)
    from agents.multiagent.envs import make_lbforaging, make_mpe2

    with pytest.raises(ZooError, match="unknown mpe2 scenario 'simple_sprad_v3'; did you mean simple_spread_v3"):
        make_mpe2("simple_sprad_v3")
    with pytest.raises(ZooError, match="did you mean Foraging-8x8-2p-2f-coop-v3"):
        make_lbforaging("Foraging-8x8-2p-2f-cop-v3")


def test_every_mpe2_scenario_and_lbforaging_task_has_an_id() -> None:
    import mpe2.all_modules

    ids = multiagent_env_ids()
    scenarios = {f"mpe2/{name.split('/')[1]}" for name in mpe2.all_modules.mpe_environments}
    assert scenarios | {s + "-continuous" for s in scenarios} == {i for i in ids if i.startswith("mpe2/")}
    assert len(mpe2_scenarios()) == 12
    lbf = [i for i in ids if i.startswith("lbforaging/")]
    assert LBF in lbf and len(lbf) >= 900
    assert all(i in gym.registry for i in ids)


def test_a_continuous_id_is_the_scenario_with_continuous_actions() -> None:
    """``mpe2/SCENARIO-continuous`` names its own Hub repository; the plain id keeps mpe2's discrete default."""
    from agents.multiagent.envs import make_multiagent

    continuous, discrete = gym.make("mpe2/simple_spread_v3-continuous"), gym.make("mpe2/simple_spread_v3")
    assert isinstance(continuous.action_space, gym.spaces.Box) and not isinstance(discrete.action_space, gym.spaces.Box)
    assert continuous.observation_space == discrete.observation_space
    assert isinstance(make_multiagent("mpe2/simple_spread_v3-continuous", N=2).action_space, gym.spaces.Box)


def test_lbforaging_masks_rewards_and_time_limit() -> None:
    env = gym.make(LBF, max_episode_steps=7)
    checked(env.unwrapped, render=False)  # lbforaging renders with pyglet, which needs a display
    base = env.unwrapped
    assert isinstance(env.action_space, spaces.MultiDiscrete) and list(env.action_space.nvec) == [6, 6]
    obs, info = env.reset(seed=3)
    assert info["action_mask"].shape == (2, 6) and info["action_mask"].dtype == bool
    assert base.action_masks().shape == (12,)
    steps = 0
    while True:
        steps += 1
        obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
        assert reward == pytest.approx(float(info["agent_rewards"].sum()))
        if terminated or truncated:
            break
    if steps == 7:  # food left at the time limit: truncated, not terminated
        assert truncated and not terminated and not info["agent_terminated"].any()
    # a seeded reset repeats the episode (lbforaging alone does not: it remembers the last positions)
    first, _ = env.reset(seed=11)
    env.step(env.action_space.sample())
    again, _ = env.reset(seed=11)
    np.testing.assert_array_equal(first, again)


def test_lbforaging_gym_env_adapts_directly() -> None:
    import lbforaging  # noqa: F401

    raw = gym.make("Foraging-8x8-2p-2f-coop-v3", disable_env_checker=True)
    env = as_multiagent_env(raw)
    assert isinstance(env, MultiAgentEnv) and env.multiagent_spec.has_action_masks
    checked(env, render=False)


def test_aec_env_with_simultaneous_moves_goes_through_aec_to_parallel() -> None:
    from mpe2 import simple_spread_v3

    env = MultiAgentEnv(simple_spread_v3.env(N=2))
    checked(env)
    assert env.multiagent_spec.n_agents == 2


def test_turn_based_env_is_refused_in_one_line() -> None:
    from pettingzoo.classic import tictactoe_v3

    with pytest.raises(ZooError) as error:
        MultiAgentEnv(tictactoe_v3.env(), algo="MADDPG")
    message = str(error.value)
    assert "\n" not in message and "MADDPG needs simultaneous moves" in message and "mcts" in message


class _LeavingEnv(ParallelEnv):
    """A PettingZoo parallel env of two agents; agent b terminates after 2 steps, agent a after 4."""

    metadata = {"name": "leaving", "render_modes": []}

    def __init__(self):
        self.possible_agents = ["a", "b"]
        self.agents = []
        self.render_mode = None

    def observation_space(self, agent):
        return spaces.Box(-10, 10, (2,), np.float32)

    def action_space(self, agent):
        return spaces.Discrete(3)

    def reset(self, seed=None, options=None):
        self.t = 0
        self.agents = ["a", "b"]
        return {a: np.full(2, 1.0, np.float32) for a in self.agents}, {a: {} for a in self.agents}

    def step(self, actions):
        assert set(actions) == set(self.agents)  # a departed agent gets no action
        self.t += 1
        obs = {a: np.full(2, float(self.t), np.float32) for a in self.agents}
        rewards = {a: 1.0 for a in self.agents}
        terminations = {a: (a == "b" and self.t >= 2) or self.t >= 4 for a in self.agents}
        truncations = {a: False for a in self.agents}
        self.agents = [a for a in self.agents if not terminations[a]]
        return obs, rewards, terminations, truncations, {a: {} for a in obs}

    def close(self):
        pass


def test_agents_leaving_early_are_masked() -> None:
    env = MultiAgentEnv(_LeavingEnv())
    checked(env, render=False)
    env.reset(seed=0)
    seen = []
    while True:
        obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
        seen.append((obs.copy(), reward, info["active_agents"].copy(), info["agent_terminated"].copy()))
        if terminated or truncated:
            break
    assert len(seen) == 4 and terminated and not truncated
    assert [s[1] for s in seen] == [2.0, 2.0, 1.0, 1.0]
    np.testing.assert_array_equal(seen[1][0], [2, 2, 2, 2])  # b's last observation is kept at its last step
    np.testing.assert_array_equal(seen[2][0], [3, 3, 0, 0])  # then zeros
    assert list(seen[1][2]) == [True, False] and list(seen[1][3]) == [False, True]


def test_mixed_action_kinds_are_refused() -> None:
    env = _LeavingEnv()
    env.action_space = lambda agent: spaces.Discrete(3) if agent == "a" else spaces.Box(-1, 1, (2,))
    with pytest.raises(ZooError, match="all have Discrete or all have Box"):
        MultiAgentEnv(env)


def test_ppo_learns_on_the_adapted_env_through_a_vec_env() -> None:
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env

    venv = make_vec_env("mpe2/simple_spread_v3", n_envs=2, env_kwargs={"continuous_actions": True}, seed=0)
    assert venv.get_attr("multiagent_spec")[0].agent_ids == ["agent_0", "agent_1", "agent_2"]
    model = PPO("MlpPolicy", venv, n_steps=50, batch_size=50, n_epochs=1, seed=0)
    model.learn(200)
    assert model.num_timesteps >= 200


class _BoxEnv(_LeavingEnv):
    """Agent a acts in [0, 1]^2, agent b in an unbounded box of shape (1, 2); the actions they get are kept."""

    def action_space(self, agent):
        return spaces.Box(0.0, 1.0, (2,), np.float32) if agent == "a" else spaces.Box(-np.inf, np.inf, (1, 2), np.float32)

    def step(self, actions):
        self.received = actions
        return super().step({a: 0 for a in actions})


def test_continuous_actions_are_mapped_to_each_agents_bounds() -> None:
    env = MultiAgentEnv(_BoxEnv())
    np.testing.assert_array_equal(env.action_space.low, [-1, -1, -np.inf, -np.inf])
    env.reset(seed=0)
    env.step(np.array([-1.0, 0.5, 7.0, -3.0], dtype=np.float32))
    np.testing.assert_allclose(env.parallel_env.received["a"], [0.0, 0.75])
    np.testing.assert_array_equal(env.parallel_env.received["b"], [[7.0, -3.0]])
