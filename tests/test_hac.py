"""HAC: hindsight transitions of a hand-made two-level episode, Q bounds, save/load, SB3 callbacks, bad input."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch as th
from gymnasium import spaces
from stable_baselines3.common.callbacks import BaseCallback, CheckpointCallback, EvalCallback, StopTrainingOnMaxEpisodes
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.evaluation import evaluate_policy

import zoo.envs  # noqa: F401  (registers the goal envs)
from agents import HAC
from agents.envs.goal_envs import GoalObservation
from agents.errors import ZooError
from agents.hac.hindsight import Attempt, action_transitions, goal_transitions

th.set_num_threads(1)
MOUNTAIN_CAR = dict(subgoal_projection=[0, 1], subgoal_bounds=([-1.2, -0.07], [0.6, 0.07]), subgoal_threshold=[0.05, 0.01])


def short_car(seed: int = 0):
    """The goal MountainCar with episodes cut at 100 steps (tests only)."""
    return make_vec_env(lambda: gym.make("GoalMountainCarContinuous-v0", max_episode_steps=100), 1, seed=seed)


class Line(gym.Env):
    """A point on a line: ``x' = x + a``, ``x`` starts at 0."""

    observation_space = spaces.Box(-5.0, 5.0, (1,), np.float32)
    action_space = spaces.Box(-1.0, 1.0, (1,), np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.x = np.zeros(1, np.float32)
        return self.x.copy(), {}

    def step(self, action):
        self.x = np.clip(self.x + np.asarray(action, np.float32), -5.0, 5.0)
        return self.x.copy(), 0.0, False, False, {}


def line_env(max_steps: int = 20) -> gym.Env:
    return GoalObservation(gym.wrappers.TimeLimit(Line(), max_steps), goal_indices=[0], goal=[3.0], goal_threshold=0.1)


def scripted(model: HAC, script: dict[int, list[float]]) -> None:
    """Replace HAC's exploration by fixed actions per level, in order."""
    queues = {level: list(actions) for level, actions in script.items()}
    model._explore = lambda level, obs, goal, greedy: np.array([queues[level].pop(0)], np.float32)


def rows(buffer) -> list[tuple]:
    """The buffer's transitions as (s, a, r, s', g, done) tuples of floats, in insertion order."""
    n = len(buffer)
    return [(float(buffer.obs[i, 0]), float(buffer.actions[i, 0]), float(buffer.rewards[i]), float(buffer.next_obs[i, 0]),
             float(buffer.goals[i, 0]), bool(buffer.dones[i])) for i in range(n)]


def test_hand_made_two_level_episode_gives_the_papers_transitions():
    """H = 2; subgoal 1.0 reached in 2 steps, subgoal 2.5 missed in 2 (tested: penalty -H), subgoal 3.0 reaches the goal."""
    model = HAC("MultiInputPolicy", make_vec_env(line_env, 1, seed=0), n_levels=2, subgoal_horizon=2, subgoal_testing_rate=1.0,
                n_hindsight_goals=1, seed=0)
    scripted(model, {1: [1.0, 2.5, 3.0], 0: [0.5, 0.5, 0.5, 0.5, 1.0]})
    _, callback = model._setup_learn(100)
    assert model.collect_episode(callback)
    assert model.num_timesteps == 5
    low, top = model.replay_buffer.levels
    assert rows(low) == [
        (0.0, 0.5, -1.0, 0.5, 1.0, False),   # step 1 toward subgoal 1.0
        (0.5, 0.5, 0.0, 1.0, 1.0, True),     # step 2 reaches it: reward 0, no bootstrap
        (0.0, 0.5, -1.0, 0.5, 1.0, False),   # hindsight goal: the run's last achieved state, 1.0
        (0.5, 0.5, 0.0, 1.0, 1.0, True),
        (1.0, 0.5, -1.0, 1.5, 2.5, False),   # toward subgoal 2.5
        (1.5, 0.5, -1.0, 2.0, 2.5, False),   # H = 2 actions spent, missed
        (1.0, 0.5, -1.0, 1.5, 2.0, False),   # hindsight goal 2.0 (where the run ended)
        (1.5, 0.5, 0.0, 2.0, 2.0, True),
        (2.0, 1.0, 0.0, 3.0, 3.0, True),     # subgoal 3.0 reached (the env terminates there too)
        (2.0, 1.0, 0.0, 3.0, 3.0, True),
    ]
    assert rows(top) == [
        (0.0, 1.0, -1.0, 1.0, 3.0, False),   # subgoal 1.0 was reached: the action stays 1.0
        (1.0, 2.0, -1.0, 2.0, 3.0, False),   # hindsight action: 2.0 was achieved, not 2.5
        (1.0, 2.5, -2.0, 2.0, 3.0, True),    # tested and missed: penalty -H on the proposed 2.5, no bootstrap
        (2.0, 3.0, 0.0, 3.0, 3.0, True),     # the env goal reached
        (0.0, 1.0, -1.0, 1.0, 3.0, False),   # hindsight goals: the episode's last achieved goal, 3.0
        (1.0, 2.0, -1.0, 2.0, 3.0, False),
        (2.0, 3.0, 0.0, 3.0, 3.0, True),
    ]


def test_untested_missed_subgoal_gets_no_penalty_and_goals_come_from_the_future():
    attempt = Attempt(obs=np.zeros(1), goal=np.array([3.0]), action=np.array([2.5]), next_obs=np.array([2.0]),
                      achieved=np.array([2.0]), hindsight_action=np.array([2.0]), missed_test=False)
    assert len(action_transitions(attempt, np.array([0.1]), 20)) == 1
    run = [Attempt(obs=np.array([float(t)]), goal=np.array([9.0]), action=np.array([0.0]), next_obs=np.array([t + 1.0]),
                   achieved=np.array([t + 1.0]), hindsight_action=np.array([0.0])) for t in range(6)]
    transitions = goal_transitions(run, np.array([0.1]), 4, np.random.default_rng(0))
    assert len(transitions) == 24
    for t in range(6):
        goals = [float(tr.goal[0]) for tr in transitions[4 * t:4 * t + 4]]
        assert goals[0] == 6.0 and all(t + 1.0 <= g <= 6.0 for g in goals)  # the last, then future achieved goals
        for tr in transitions[4 * t:4 * t + 4]:
            assert (tr.reward == 0.0) == (tr.goal[0] == t + 1.0) == tr.done


def test_three_levels_learn_and_their_subgoals_respect_the_horizon():
    model = HAC("MultiInputPolicy", short_car(), n_levels=3, subgoal_horizon=5, batch_size=16, gradient_steps=2, seed=1, **MOUNTAIN_CAR)
    model.learn(300)
    assert [len(buffer) > 0 for buffer in model.replay_buffer.levels] == [True, True, True]
    env = short_car(3)
    obs, state, start = env.reset(), None, np.ones(1, bool)
    for _ in range(60):
        action, state = model.predict(obs, state=state, episode_start=start, deterministic=True)
        subgoals, counts = state
        assert subgoals.shape == (1, 2, 2) and np.all(counts >= 0) and np.all(counts <= 5)
        assert np.all(subgoals >= [-1.2, -0.07]) and np.all(subgoals <= [0.6, 0.07])
        obs, _, start, _ = env.step(action)


def test_q_values_and_targets_stay_within_minus_h_and_zero():
    model = HAC("MultiInputPolicy", "GoalPendulum-v1", subgoal_horizon=7, gamma=1.0, batch_size=8, gradient_steps=3, seed=0)
    for level in model.policy.levels:
        level.critic[-1].bias.data.fill_(50.0)  # sigmoid ~ 1: Q ~ -H everywhere
        level.critic_target[-1].bias.data.fill_(50.0)
    obs = th.randn(64, 3) * 100
    for index, level in enumerate(model.policy.levels):
        goal = th.randn(64, 2) * 100
        action = th.randn(64, 1 if index == 0 else 2) * 100
        q = level.q_value(obs, goal, action)
        assert th.all(q >= -7.0) and th.all(q <= 0.0)
    model.learn(400)  # rewards -1 plus Q' ~ -7 would give targets below -H: they are clipped
    for index, level in enumerate(model.policy.levels):
        batch = {k: th.as_tensor(v) for k, v in model.replay_buffer.levels[index].sample(256, np.random.default_rng(0)).items()}
        target = model.td_targets(level, batch)
        assert th.all(target >= -7.0) and th.all(target <= 0.0) and th.any(target == -7.0)


def test_save_load_gives_identical_actions_at_every_level(tmp_path):
    model = HAC("MultiInputPolicy", short_car(), batch_size=16, gradient_steps=2, seed=2, **MOUNTAIN_CAR)
    model.learn(300)
    model.save(tmp_path / "hac.zip")
    loaded = HAC.load(tmp_path / "hac.zip")
    assert loaded.subgoal_projection == [0, 1] and loaded.subgoal_threshold == [0.05, 0.01] and loaded.n_levels == 2
    rng = np.random.default_rng(0)
    for level in range(2):
        for _ in range(5):
            obs = {"observation": rng.uniform([-1.2, -0.07], [0.6, 0.07]).astype(np.float32)}
            goal = rng.uniform(-1, 0.5, size=1 if level == 1 else 2).astype(np.float32)
            np.testing.assert_array_equal(model.policy.level_action(level, obs, goal), loaded.policy.level_action(level, obs, goal))
    env = short_car(5)
    obs = env.reset()
    states, start = [None, None], np.ones(1, bool)
    for _ in range(50):
        (a, states[0]), (b, states[1]) = (m.predict(obs, state=s, episode_start=start, deterministic=True) for m, s in zip((model, loaded), states))
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(states[0][0], states[1][0])
        obs, _, start, _ = env.step(a)
    assert evaluate_policy(loaded, env, n_eval_episodes=1)[0] <= 0.0


class CountSteps(BaseCallback):
    def __init__(self) -> None:
        super().__init__()
        self.rollouts = 0

    def _on_rollout_end(self) -> None:
        self.rollouts += 1

    def _on_step(self) -> bool:
        return True


def test_every_sb3_callback_gets_one_step_per_env_step(tmp_path):
    model = HAC("MultiInputPolicy", "GoalPendulum-v1", batch_size=16, gradient_steps=1, seed=0)
    counter = CountSteps()
    evaluation = EvalCallback(make_vec_env("GoalPendulum-v1", 1, seed=9), eval_freq=150, n_eval_episodes=1, log_path=str(tmp_path))
    checkpoints = CheckpointCallback(200, str(tmp_path / "checkpoints"))
    model.learn(450, callback=[counter, evaluation, checkpoints])
    assert counter.n_calls == model.num_timesteps >= 450 and counter.rollouts == model._episode_num
    assert len(evaluation.evaluations_timesteps) == model.num_timesteps // 150
    assert len(list((tmp_path / "checkpoints").glob("*.zip"))) == model.num_timesteps // 200
    stopper = StopTrainingOnMaxEpisodes(max_episodes=1)
    model.learn(10_000, callback=stopper)
    assert model.num_timesteps <= 200 and model._episode_num == 1


def test_an_env_without_goal_observations_gets_one_line_naming_the_keys():
    with pytest.raises(ZooError, match=r"keys observation, achieved_goal, desired_goal \(got a Box observation\); agents.envs.goal_envs.GoalObservation"):
        HAC("MultiInputPolicy", "Pendulum-v1")


def test_subgoal_bounds_not_matching_the_subgoal_space_name_both():
    with pytest.raises(ZooError, match=r"subgoal_bounds has 3 numbers but the subgoal space \(achieved_goal, Box"):
        HAC("MultiInputPolicy", "GoalPendulum-v1", subgoal_bounds=([0, 0, 0], [1, 1, 1]))
    with pytest.raises(ZooError, match=r"subgoal_bounds has 1 numbers but the subgoal space \(observation\[0, 1\]\) has 2"):
        HAC("MultiInputPolicy", "GoalMountainCarContinuous-v0", subgoal_projection=[0, 1], subgoal_bounds=([0], [1]), subgoal_threshold=0.1)


def zoo(capsys, *args: str) -> tuple[int, str, str]:
    """``zoo ARGS`` in this process (the command line's own entry point): exit code, stdout, stderr."""
    from zoo.cli import main

    capsys.readouterr()
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_bad_input_exits_2_with_one_line(tmp_path, capsys):
    code, _, err = zoo(capsys, "train", "--algo", "hac", "--env", "Pendulum-v1", "-n", "10", "-f", str(tmp_path), "-q",
                       "--conf-file", str(write_conf(tmp_path, "Pendulum-v1")))
    assert code == 2 and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1 and "achieved_goal" in err and "GoalObservation" in err
    code, _, err = zoo(capsys, "train", "--algo", "hac", "--env", "GoalPendulum-v1", "-n", "10", "-f", str(tmp_path), "-q",
                       "--hyperparams", "subgoal_bounds=([0], [1])")
    assert code == 2 and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1 and "subgoal_bounds" in err and "achieved_goal" in err


def write_conf(folder, env_id: str, extra: str = "") -> str:
    path = folder / "hac.yml"
    path.write_text(f"{env_id}:\n  policy: MultiInputPolicy\n  n_timesteps: 100\n{extra}")
    return str(path)


def test_zoo_train_then_enjoy_round_trip_on_goal_mountain_car(tmp_path, capsys):
    """configs/hac.yml's subgoal space, on episodes cut at 100 steps to keep the test short."""
    import yaml

    entry = yaml.safe_load(open("configs/hac.yml"))["GoalMountainCarContinuous-v0"]
    entry.update(n_timesteps=300, gradient_steps=2, batch_size=16,
                 env_wrapper=[{"gymnasium.wrappers.TimeLimit": {"max_episode_steps": 100}}])
    conf = tmp_path / "hac.yml"
    conf.write_text(yaml.safe_dump({"GoalMountainCarContinuous-v0": entry}))
    logs = tmp_path / "logs"
    code, out, err = zoo(capsys, "train", "--algo", "hac", "--env", "GoalMountainCarContinuous-v0", "--seed", "1", "-f", str(logs),
                         "--conf-file", str(conf), "--eval-freq", "200", "--eval-episodes", "1", "-q")
    assert code == 0, err
    run = logs / "hac" / "GoalMountainCarContinuous-v0_1"
    for name in ["GoalMountainCarContinuous-v0.zip", "best_model.zip", "evaluations.npz", "config.yml"]:
        assert (run / name).is_file(), name
    assert list((run / "checkpoints").glob("rl_model_replay_buffer_*_steps.pkl"))
    model = HAC.load(run / "GoalMountainCarContinuous-v0.zip")
    assert model.subgoal_projection == [0, 1] and model.num_timesteps >= 300
    code, out, err = zoo(capsys, "enjoy", "--algo", "hac", "--env", "GoalMountainCarContinuous-v0", "-f", str(logs), "-n", "250", "--no-render")
    assert code == 0, err
    assert "GoalMountainCarContinuous-v0.zip" in out and "2 episodes" in out


def test_evaluation_hook_reports_success_rate_and_episode_length():
    from agents.common.evaluation import EvaluationRequest, evaluate_agent

    model = HAC("MultiInputPolicy", short_car(), batch_size=16, gradient_steps=1, seed=0, **MOUNTAIN_CAR)
    request = EvaluationRequest(env_id="GoalMountainCarContinuous-v0", make_vec_env=lambda: short_car(7), make_env=lambda: None,
                                n_eval_episodes=2)
    figures = evaluate_agent(model, request)
    assert figures["n_eval_episodes"] == 2 and figures["success_rate"] in (0.0, 0.5, 1.0)
    assert 1 <= figures["mean_ep_length"] <= 100 and figures["mean_reward"] == -figures["mean_ep_length"] + figures["success_rate"]


def test_pickle_free_load_gives_identical_actions_and_subgoals(tmp_path):
    """The Hub's loader (JSON data + weights_only tensors, nothing unpickled) rebuilds the same hierarchy."""
    from hub.safe_load import load_sb3_zip

    model = HAC("MultiInputPolicy", short_car(), n_levels=3, subgoal_horizon=4, batch_size=16, gradient_steps=2, seed=4, **MOUNTAIN_CAR)
    model.learn(200)
    model.save(tmp_path / "hac.zip")
    loaded = load_sb3_zip(tmp_path / "hac.zip", HAC)
    assert (loaded.subgoal_projection, loaded.subgoal_bounds, loaded.subgoal_threshold) == (
        [0, 1], [[-1.2, -0.07], [0.6, 0.07]], [0.05, 0.01])
    env = short_car(6)
    obs, states, start = env.reset(), [None, None], np.ones(1, bool)
    for _ in range(40):
        (a, states[0]), (b, states[1]) = (m.predict(obs, state=s, episode_start=start, deterministic=True) for m, s in zip((model, loaded), states))
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(states[0][0], states[1][0])  # the subgoals of levels 1 and 2
        obs, _, start, _ = env.step(a)
