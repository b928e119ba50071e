"""Policies that depend on the time left: the ObserveTime wrapper, the table VecEnv's time bins,
exact evaluation of time-dependent policies, and ``vec_env: table`` in configs."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces
from gymnasium.utils.env_checker import check_env

from agents import QLearning
from agents.tabular.exact import greedy_actions, optimal_return, policy_return, transition_table
from agents.tabular.vectorized import TransitionTableVecEnv
from zoo.envs.factory import create_env
from agents.common.wrappers import ObserveTime, time_bin
from zoo.errors import ZooError


class WalkOrJump(gym.Env):
    """Squares 0..3 and the goal 4 (reward 1). Walking moves one square on; jumping reaches the goal
    with probability 0.3 and otherwise stays. With enough time left walking is sure; without, jump."""

    observation_space = spaces.Discrete(5)
    action_space = spaces.Discrete(2)

    def __init__(self) -> None:
        self.P = {s: {0: [(1.0, s + 1, float(s + 1 == 4), s + 1 == 4)],
                      1: [(0.3, 4, 1.0, True), (0.7, s, 0.0, False)]} for s in range(4)}
        self.P[4] = {a: [(1.0, 4, 0.0, True)] for a in range(2)}
        self.initial_state_distrib = np.array([1.0, 0, 0, 0, 0])
        self.state = 0

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self.state = 0
        return self.state, {}

    def step(self, action):
        outcomes = self.P[self.state][int(action)]
        k = self.np_random.choice(len(outcomes), p=[p for p, *_ in outcomes])
        _, self.state, reward, terminated = outcomes[k]
        return self.state, reward, terminated, False, {}


HORIZON = 5  # from square 0 walking takes 4 steps: square 2 with 1 step left should jump


def walk_or_jump() -> gym.Env:
    return gym.wrappers.TimeLimit(WalkOrJump(), HORIZON)


# ------------------------------------------------------------------------------------------ wrapper
def test_time_bin_splits_the_limit_evenly():
    assert [time_bin(t, 10, 200) for t in (0, 19, 20, 199, 200)] == [0, 0, 1, 9, 10]
    assert time_bin(np.array([0, 100, 200]), 2, 200).tolist() == [0, 1, 2]


def test_observe_time_adds_the_time_and_ends_at_the_limit_as_terminal():
    env = ObserveTime(gym.make("FrozenLake8x8-v1"), bins=10)
    assert env.observation_space == spaces.Tuple((spaces.Discrete(64), spaces.Discrete(11)))
    obs, _ = env.reset(seed=0)
    assert obs == (0, 0)
    for step in range(1, 201):
        obs, _, terminated, truncated, _ = env.step(0)  # left, into the wall: never ends by itself
        assert obs[1] == time_bin(step, 10, 200)
        if terminated or truncated:
            break
    assert (step, obs[1], terminated, truncated) == (200, 10, True, False)
    check_env(env, skip_render_check=True)


def test_observe_time_every_step_and_own_limit_on_tuples():
    env = ObserveTime(gym.make("Blackjack-v1"), max_episode_steps=3)  # no limit of its own
    assert env.observation_space == spaces.Tuple((spaces.Discrete(32), spaces.Discrete(11), spaces.Discrete(2), spaces.Discrete(4)))
    obs, _ = env.reset(seed=0)
    assert len(obs) == 4 and obs[-1] == 0
    env = ObserveTime(WalkOrJump(), max_episode_steps=2)
    env.reset(seed=0)
    env.step(0)
    obs, _, terminated, truncated, _ = env.step(0)
    assert obs == (2, 2) and terminated and not truncated  # two steps walked, out of time


@pytest.mark.parametrize(
    "make, kwargs, message",
    [
        (lambda: gym.make("Blackjack-v1"), {}, "has no time limit"),
        (lambda: gym.make("FrozenLake-v1"), {"bins": 101}, "between 1 and the time limit (100)"),
        (lambda: gym.make("CartPole-v1"), {}, "Discrete or Tuple-of-Discrete"),
        (lambda: gym.make("FrozenLake-v1"), {"bins": "10"}, "bins must be an integer, got '10'"),
    ],
)
def test_observe_time_refuses_what_it_cannot_do(make, kwargs, message):
    with pytest.raises(ZooError, match=message.replace("(", r"\(").replace(")", r"\)")):
        ObserveTime(make(), **kwargs)


# -------------------------------------------------------------------------------- table VecEnv
def test_table_vec_env_observes_time_bins_and_ends_at_the_limit():
    env = TransitionTableVecEnv("DynaMaze-v0", n_envs=3, seed=0, max_episode_steps=4, time_bins=2)
    assert env.observation_space == spaces.Tuple((spaces.Discrete(54), spaces.Discrete(3)))
    states, bins = env.reset()
    assert (states == 18).all() and (bins == 0).all()
    for step in range(1, 5):
        (states, bins), _, dones, infos = env.step(np.zeros(3, dtype=int))  # left, into the wall
        if step < 4:
            assert (bins == time_bin(step, 2, 4)).all() and not dones.any()
    assert dones.all() and (bins == 0).all()  # reset
    assert all(info["terminal_observation"] == (18, 2) and not info["TimeLimit.truncated"] for info in infos)
    with pytest.raises(ZooError, match="between 1 and the time limit"):
        TransitionTableVecEnv("DynaMaze-v0", n_envs=1, max_episode_steps=4, time_bins=5)


# ------------------------------------------------------------------------- exact, time-dependent
def test_time_dependent_policy_return_and_its_optimum():
    table = transition_table(walk_or_jump())
    assert table.horizon == HORIZON
    walk, jump = np.zeros(5, dtype=int), np.ones(5, dtype=int)
    assert policy_return(table, walk) == 1.0  # 4 steps are enough
    assert policy_return(table, walk, horizon=3) == 0.0
    assert policy_return(table, jump, horizon=3) == pytest.approx(1 - 0.7**3)
    # 3 steps: walking is hopeless, the optimum jumps all along
    assert optimal_return(table, horizon=3) == pytest.approx(1 - 0.7**3)
    # a policy of the time: walk to square 2 in two steps, then jump twice
    walk_then_jump = np.array([walk, walk, jump, jump])
    assert policy_return(table, walk_then_jump, horizon=4) == pytest.approx(1 - 0.7**2)
    # jump once (0.3), then walk 3 squares from square 0: one short
    assert policy_return(table, np.array([jump, walk, walk, walk]), horizon=4) == pytest.approx(0.3)
    with pytest.raises(ZooError, match="one row per step"):
        policy_return(table, walk_then_jump, horizon=5)


def test_greedy_actions_of_a_time_aware_agent():
    env = ObserveTime(walk_or_jump(), bins=HORIZON)
    model = QLearning("TabularPolicy", env, seed=0)
    q = model.q_table.reshape(5, HORIZON + 1, 2)
    q[:, :, 0] = 1.0  # walk everywhere ...
    q[2, 4, :] = [0.0, 1.0]  # ... but jump from square 2 after 4 steps
    actions = greedy_actions(model.policy, 5, HORIZON)
    assert actions.shape == (HORIZON, 5)
    assert actions[4, 2] == 1 and actions.sum() == 1
    assert greedy_actions(QLearning("TabularPolicy", walk_or_jump()).policy, 5).shape == (5,)
    with pytest.raises(ZooError, match="give it"):
        greedy_actions(model.policy, 5)


def test_qlearning_learns_the_time_dependent_optimum():
    venv = TransitionTableVecEnv(walk_or_jump(), n_envs=64, seed=0, time_bins=HORIZON)
    model = QLearning("TabularPolicy", venv, alpha=0.1, gamma=1.0, epsilon=0.5, seed=0).learn(100_000)
    table = transition_table(walk_or_jump())
    actions = greedy_actions(model.policy, 5, HORIZON)
    assert policy_return(table, actions) == pytest.approx(optimal_return(table), abs=1e-12)
    # on square 2 with one step left it jumps (0.3 against 0); on square 0 with 4 left it walks (1 against 0.76)
    assert actions[HORIZON - 1, 2] == 1 and actions[1, 0] == 0


# ---------------------------------------------------------------------------- vec_env: table
def test_create_env_table_applies_observe_time_and_time_limit(tmp_path):
    config = {"env_wrapper": [{"zoo.envs.wrappers.ObserveTime": {"bins": 10}}]}
    venv = create_env("FrozenLake8x8-v1", 8, hyperparams=config, seed=0, vec_env="table", monitor_dir=str(tmp_path))
    assert venv.observation_space == ObserveTime(gym.make("FrozenLake8x8-v1"), bins=10).observation_space
    assert venv.num_envs == 8
    venv.reset()
    for _ in range(200):
        _, _, dones, infos = venv.step(np.zeros(8, dtype=int))
    assert dones.all() and all(info["episode"]["l"] == 200 for info in infos)
    assert (tmp_path / "0.monitor.csv").read_text().count("\n") == 2 + 8
    cliff = create_env("CliffWalking-v1", 2, hyperparams={"env_wrapper": [{"gymnasium.wrappers.TimeLimit": {"max_episode_steps": 7}}]},
                       seed=0, vec_env="table")
    assert cliff.venv.max_episode_steps == 7


def test_create_env_table_refuses_other_wrappers_and_envs_without_a_table():
    config = {"env_wrapper": ["zoo.envs.wrappers.DiscretizeObservation"]}
    with pytest.raises(ZooError, match="vec_env table cannot apply the env_wrapper agents.common.wrappers.DiscretizeObservation"):
        create_env("MountainCar-v0", 2, hyperparams=config, vec_env="table")
    with pytest.raises(ZooError, match="exposes no transition table"):
        create_env("CartPole-v1", 2, vec_env="table")
    with pytest.raises(ZooError, match="vec_env must be one of dummy, subproc, table"):
        create_env("CartPole-v1", 2, vec_env="fast")


def test_config_vec_env_key_is_checked(tmp_path):
    from zoo.config import load_hyperparams

    path = tmp_path / "q.yml"
    path.write_text("FrozenLake-v1:\n  policy: TabularPolicy\n  n_timesteps: 100\n  vec_env: numpy\n")
    with pytest.raises(ZooError, match=r"q.yml: FrozenLake-v1: vec_env must be one of dummy, subproc, table, got 'numpy'"):
        load_hyperparams("qlearning", "FrozenLake-v1", conf_file=path)


def test_zoo_train_with_the_table_vec_env_and_enjoy(tmp_path):
    from zoo.enjoy import load_run
    from zoo.train import TrainOptions, train

    result = train(TrainOptions(algo="qlearning", env_id="FrozenLake8x8-v1", log_folder=str(tmp_path), n_timesteps=50_000,
                                seed=0, eval_freq=20_000, eval_episodes=2, verbose=0))
    assert isinstance(result.model.env.venv, TransitionTableVecEnv)  # the config asks for vec_env: table
    assert result.model.observation_space == spaces.Tuple((spaces.Discrete(64), spaces.Discrete(11)))
    assert (result.run_folder / "evaluations.npz").is_file() and (result.run_folder / "monitor" / "0.monitor.csv").is_file()
    agent = load_run(result.run_folder)
    assert agent.model.observation_space == result.model.observation_space
