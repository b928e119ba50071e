"""Tabular agents: update rules against hand-computed steps, terminal vs truncated, save/load, callbacks, spaces."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch as th
from gymnasium import spaces
from stable_baselines3.common.callbacks import CheckpointCallback, EvalCallback, StopTrainingOnRewardThreshold
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.evaluation import evaluate_policy

from agents import SARSA, DynaQ, ExpectedSARSA, ExplorationBot, QLearning
from agents.tabular.core import StateIndexer, TabularAlgorithm
from zoo.errors import ZooError

th.set_num_threads(1)
TD_ALGOS = [QLearning, SARSA, ExpectedSARSA, DynaQ]
ALL_ALGOS = [*TD_ALGOS, ExplorationBot]


class Corridor(gym.Env):
    """States 0..n-1 in a row. Action 1 moves right (+1 reward), action 0 stays (0 reward).

    Reaching the last state ends the episode (terminated). Wrapped in a TimeLimit it is also cut.
    """

    def __init__(self, length: int = 6) -> None:
        self.length = length
        self.observation_space = spaces.Discrete(length)
        self.action_space = spaces.Discrete(2)
        self.s = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.s = 0
        return self.s, {}

    def step(self, action):
        reward = float(action == 1)
        self.s = min(self.s + int(action), self.length - 1)
        return self.s, reward, self.s == self.length - 1, False, {}


def corridor(max_steps: int | None = None, length: int = 6) -> gym.Env:
    env = Corridor(length)
    return gym.wrappers.TimeLimit(env, max_steps) if max_steps else env


def make(cls: type[TabularAlgorithm], env, **kwargs) -> TabularAlgorithm:
    if cls is ExplorationBot:
        kwargs = {k: v for k, v in kwargs.items() if k not in ("alpha", "gamma")}
    return cls("TabularPolicy", env, seed=0, **kwargs)


# ------------------------------------------------------------------------------- update rules by hand
Q0 = np.array([[1.0, 2.0], [3.0, 5.0], [0.0, 0.0], [0.0, 0.0], [0.0, 0.0], [0.0, 0.0]])


def one_update(cls, bootstrap: bool, next_action: int = 0, **kwargs) -> np.ndarray:
    """Apply the transition (s=0, a=0, r=1, s'=1) to Q0 with alpha 0.5, gamma 0.9, epsilon 0.2."""
    model = make(cls, corridor(), alpha=0.5, gamma=0.9, epsilon=0.2, **kwargs)
    model.q_table[:] = Q0
    one = np.array([0]), np.array([0]), np.array([1.0]), np.array([1]), np.array([next_action]), np.array([bootstrap])
    model._update(*one, 0.5, 0.2)
    return model.q_table


@pytest.mark.parametrize(
    "cls, expected",
    [
        (QLearning, 1 + 0.5 * (1 + 0.9 * 5 - 1)),  # max_a' Q(1, a') = 5
        (SARSA, 1 + 0.5 * (1 + 0.9 * 3 - 1)),  # Q(1, a'=0) = 3
        (ExpectedSARSA, 1 + 0.5 * (1 + 0.9 * (0.8 * 5 + 0.2 * 4) - 1)),  # (1-eps) max + eps mean
    ],
)
def test_td_update_by_hand(cls, expected):
    q = one_update(cls, bootstrap=True)
    assert q[0, 0] == pytest.approx(expected, abs=1e-12)
    q[0, 0] = Q0[0, 0]
    assert np.array_equal(q, Q0)  # nothing else moved


@pytest.mark.parametrize("cls", TD_ALGOS)
def test_no_bootstrap_from_terminal_state(cls):
    kwargs = {"n_planning_steps": 0} if cls is DynaQ else {}
    q = one_update(cls, bootstrap=False, **kwargs)
    assert q[0, 0] == pytest.approx(1 + 0.5 * (1 - 1))  # target is the reward alone


def test_dyna_q_planning_by_hand():
    # real update 1 -> 3.25, then two planning updates on the only known pair: q += 0.5 (5.5 - q)
    q = one_update(DynaQ, bootstrap=True, n_planning_steps=2)
    assert q[0, 0] == pytest.approx(4.9375)


def test_exploration_bot_keeps_reward_averages():
    model = make(ExplorationBot, corridor())
    for reward in (1.0, 3.0, 8.0):
        model._update(np.array([2]), np.array([1]), np.array([reward]), np.array([3]), None, np.array([True]), 0.0, 0.1)
    assert model.q_table[2, 1] == pytest.approx(4.0)
    assert model.visit_count[2, 1] == 3 and model.reward_sum[2, 1] == 12.0
    assert model.q_table.sum() == pytest.approx(4.0)


def test_batched_update_takes_the_mean_td_error_of_a_pair_seen_twice():
    model = make(QLearning, corridor(), alpha=0.5)
    model._apply_td(np.array([1, 1, 2]), np.array([0, 0, 1]), np.array([2.0, 4.0, 1.0]), 0.5)
    assert model.q_table[1, 0] == pytest.approx(1.5) and model.q_table[2, 1] == pytest.approx(0.5)


# -------------------------------------------------------------------------- terminal vs truncated, loop
@pytest.mark.parametrize("cls", TD_ALGOS)
def test_truncation_bootstraps_and_termination_does_not(cls):
    kwargs = {"n_planning_steps": 0} if cls is DynaQ else {}
    # cut after 1 step: a time-limit truncation, so the target is r + gamma * 10
    model = make(cls, corridor(max_steps=1), alpha=0.5, gamma=0.5, epsilon=0.0, policy_kwargs={"initial_q": 10.0}, **kwargs)
    model.learn(1)
    changed = model.q_table[0] != 10.0
    assert changed.sum() == 1
    action = int(np.flatnonzero(changed)[0])
    assert model.q_table[0, action] == pytest.approx(10 + 0.5 * (action + 0.5 * 10 - 10))
    # length 2: 0 -> 1 ends the episode (terminated), so the target is r alone
    model = make(cls, corridor(length=2), alpha=0.5, gamma=0.9, epsilon=0.0, policy_kwargs={"initial_q": 10.0}, **kwargs)
    model.q_table[0, 0] = 0.0  # the greedy action is 1: move right into the terminal state
    model.learn(1)
    assert model.q_table[0, 1] == pytest.approx(10 + 0.5 * (1 - 10))


def test_sarsa_uses_the_action_it_takes_next():
    model = make(SARSA, corridor(), alpha=1.0, gamma=1.0, epsilon=0.0)
    model.q_table[:] = 0.0
    model.q_table[1] = [7.0, 3.0]  # in state 1 the greedy next action is 0 (stay)
    model.q_table[0] = [0.0, 1.0]  # in state 0 it moves right
    model.learn(1)
    assert model.q_table[0, 1] == pytest.approx(1 + 7.0)


def test_learn_solves_the_corridor_with_several_envs():
    venv = make_vec_env(lambda: corridor(max_steps=8), n_envs=4, seed=0)
    for cls in ALL_ALGOS:
        model = make(cls, venv, alpha=0.5, gamma=0.9, epsilon=0.2)
        model.learn(800)
        mean, _ = evaluate_policy(model, venv, n_eval_episodes=4)
        assert mean == 5.0, cls.__name__  # five moves right reach the end


# ----------------------------------------------------------------------------------------- save / load
@pytest.mark.parametrize("cls", ALL_ALGOS)
def test_save_load_round_trips_exactly(cls, tmp_path):
    model = make(cls, gym.make("FrozenLake-v1"), alpha=0.3, gamma=0.95, epsilon=0.3)
    model.learn(3000)
    model.save(tmp_path / "agent.zip")
    loaded = cls.load(tmp_path / "agent.zip")
    assert loaded.q_table.dtype == np.float64
    assert np.array_equal(loaded.q_table, model.q_table) and model.q_table.any()
    for name in ("reward_sum", "visit_count", "model"):
        if name in model.policy._buffers:
            assert th.equal(loaded.policy._buffers[name], model.policy._buffers[name])
    if cls is DynaQ:
        assert loaded._pairs == model._pairs and loaded._outcomes == model._outcomes
        assert loaded._outcome_counts == model._outcome_counts and sum(map(sum, model._outcome_counts)) == 3000
    states = np.arange(16)
    assert np.array_equal(loaded.predict(states, deterministic=True)[0], model.predict(states, deterministic=True)[0])
    assert loaded.gamma == model.gamma and loaded.epsilon == model.epsilon
    # training goes on from the loaded tables
    loaded.set_env(gym.make("FrozenLake-v1"))
    loaded.learn(100)


def test_dyna_q_model_samples_outcomes_in_proportion(tmp_path):
    model = make(DynaQ, gym.make("FrozenLake-v1"), n_planning_steps=0)
    for s2, count in ((1, 3), (4, 1)):
        model._record(0, 0, s2, 0.0, True, count)
    model._record(0, 0, 1, 0.0, True)
    assert model._outcomes == [[(1, 0.0, True), (4, 0.0, True)]] and model._outcome_counts == [[4, 1]]
    model.q_table[:] = 0.0
    model.q_table[1] = 1.0  # planning on (0, 0) moves Q(0, 0) towards 0.95 if s' = 1, towards 0 if s' = 4
    hits = 0
    for _ in range(2000):
        before = model.q_table[0, 0] = 0.5
        model._plan(1, 1.0)
        hits += model.q_table[0, 0] > before
    assert 0.75 < hits / 2000 < 0.85  # 4 in 5


def test_predict_greedy_ties():
    model = make(QLearning, gym.make("FrozenLake-v1"))
    model.q_table[3] = [0.0, 2.0, 2.0, 1.0]
    assert int(model.predict(3, deterministic=True)[0]) == 1  # the first best action
    picks = {int(model.predict(3)[0]) for _ in range(50)}
    assert picks == {1, 2}  # a random best one
    actions, _ = model.predict(np.array([3, 3, 3]), deterministic=True)
    assert actions.shape == (3,)


# ------------------------------------------------------------------------------------------ callbacks
@pytest.mark.parametrize("cls", ALL_ALGOS)
def test_sb3_callbacks(cls, tmp_path):
    stop = StopTrainingOnRewardThreshold(reward_threshold=4.9)
    eval_callback = EvalCallback(
        make_vec_env(lambda: corridor(max_steps=8)), callback_on_new_best=stop, eval_freq=100, n_eval_episodes=2, log_path=str(tmp_path)
    )
    checkpoints = CheckpointCallback(save_freq=100, save_path=str(tmp_path / "checkpoints"))
    model = make(cls, corridor(max_steps=8), alpha=0.5, gamma=0.9, epsilon=0.2)
    model.learn(50_000, callback=[eval_callback, checkpoints])
    assert model.num_timesteps < 50_000  # stopped early
    assert eval_callback.best_mean_reward == 5.0
    assert (tmp_path / "evaluations.npz").exists()
    saved = sorted((tmp_path / "checkpoints").glob("rl_model_*_steps.zip"))
    assert saved and np.array_equal(cls.load(saved[-1]).q_table.shape, model.q_table.shape)


# --------------------------------------------------------------------------------------------- spaces
def test_tuple_observations_blackjack():
    env = gym.make("Blackjack-v1")
    indexer = StateIndexer(env.observation_space)
    assert indexer.n_states == 32 * 11 * 2
    assert indexer.one((14, 10, 1)) == 14 * 22 + 10 * 2 + 1
    batch = (np.array([0, 31]), np.array([0, 10]), np.array([0, 1]))
    assert indexer(batch).tolist() == [0, 703]
    model = make(QLearning, env)
    model.learn(500)
    action, _ = model.predict((14, 10, 1), deterministic=True)
    assert action.shape == () and int(action) in (0, 1)


@pytest.mark.parametrize(
    "obs_space, act_space, words",
    [
        (spaces.Box(-1, 1, (2,)), spaces.Discrete(2), "DiscretizeObservation"),
        (spaces.MultiDiscrete([2, 3]), spaces.Discrete(2), "Tuple of Discrete"),
        (spaces.Discrete(3), spaces.Box(-1, 1, (1,)), "Discrete action space"),
    ],
)
def test_unsupported_spaces_give_one_line_error(obs_space, act_space, words):
    class Odd(gym.Env):
        observation_space, action_space = obs_space, act_space

        def reset(self, *, seed=None, options=None):
            return self.observation_space.sample(), {}

        def step(self, action):
            return self.observation_space.sample(), 0.0, True, False, {}

    with pytest.raises(ZooError) as error:
        QLearning("TabularPolicy", Odd())
    assert words in str(error.value) and "\n" not in str(error.value)


def test_epsilon_schedules():
    model = make(QLearning, corridor(max_steps=4), epsilon=1.0, epsilon_final=0.1, epsilon_decay_length=0.5)
    model._current_progress_remaining = 0.75
    assert model.current_epsilon() == pytest.approx(0.55)
    model = make(QLearning, corridor(), epsilon=1.0, epsilon_final=0.01, epsilon_decay="exponential", epsilon_decay_per="episode", epsilon_decay_length=10)
    model.learn(4 * 5 * 10)  # the corridor takes at least 5 steps: at most 40 episodes
    assert model.current_epsilon() == pytest.approx(1.0 * 0.01 ** min(1.0, model._episode_num / 10))
    assert model._episode_num >= 1
    with pytest.raises(ZooError, match="epsilon_decay_per"):
        make(QLearning, corridor(), epsilon_decay_per="minute")


def test_alpha_schedule_from_config_string():
    model = make(QLearning, corridor(), alpha="lin_0.5")
    assert model.lr_schedule(1.0) == pytest.approx(0.5) and model.lr_schedule(0.5) == pytest.approx(0.25)
    with pytest.raises(ZooError, match="alpha"):
        make(QLearning, corridor(), alpha="fast")
