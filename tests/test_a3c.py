"""A3C: exact global step count, callbacks in the main process, stopping, worker failures, save/load, spawn."""

from __future__ import annotations

import functools
import multiprocessing as mp
import os

import gymnasium as gym
import numpy as np
import pytest
import torch as th
from stable_baselines3.common.callbacks import BaseCallback, CheckpointCallback, EvalCallback
from stable_baselines3.common.env_util import make_vec_env

from agents import A3C
from agents.a3c import A3CWorkerError, SpecEnvFactory
from agents.a3c.a3c import env_factory_from
from agents.a3c.worker import n_step_returns
from zoo.config import config_path, configured_envs
from zoo.errors import ZooError

th.set_num_threads(1)


class StepRecorder(BaseCallback):
    """Records the process, the step count and the dones seen at each call; stops after ``stop_at`` calls."""

    def __init__(self, stop_at: int | None = None) -> None:
        super().__init__()
        self.stop_at = stop_at
        self.pids: set[int] = set()
        self.timesteps: list[int] = []
        self.episodes = 0
        self.started = self.ended = False

    def _on_training_start(self) -> None:
        self.started = True

    def _on_training_end(self) -> None:
        self.ended = True

    def _on_step(self) -> bool:
        self.pids.add(os.getpid())
        self.timesteps.append(self.num_timesteps)
        self.episodes += int(np.sum(self.locals["dones"]))
        return self.stop_at is None or self.n_calls < self.stop_at


class FailingEnv(gym.Wrapper):
    """CartPole that raises on its ``fail_at``-th step."""

    def __init__(self, fail_at: int) -> None:
        super().__init__(gym.make("CartPole-v1"))
        self.fail_at = fail_at
        self.steps = 0

    def step(self, action):
        self.steps += 1
        if self.steps >= self.fail_at:
            raise RuntimeError("the env broke on purpose")
        return super().step(action)


def no_children_left() -> bool:
    return mp.active_children() == []


def test_n_step_returns_by_hand():
    # R_2 = 3 + 0.5 * 10 = 8, R_1 = 2 + 0.5 * 8 = 6, R_0 = 1 + 0.5 * 6 = 4
    np.testing.assert_allclose(n_step_returns([1.0, 2.0, 3.0], bootstrap=10.0, gamma=0.5), [4.0, 6.0, 8.0])
    np.testing.assert_allclose(n_step_returns([1.0], bootstrap=0.0, gamma=0.9), [1.0])


def test_two_workers_exact_step_count_and_callbacks_in_main_process():
    model = A3C("MlpPolicy", "CartPole-v1", n_workers=2, seed=0, start_method="fork")
    before = [p.detach().clone() for p in model.policy.parameters()]
    recorder = StepRecorder()
    model.learn(2_000, callback=recorder)
    assert model.num_timesteps == 2_000
    assert recorder.n_calls == 2_000 and recorder.timesteps == list(range(1, 2_001))
    assert recorder.pids == {os.getpid()} and recorder.started and recorder.ended
    assert recorder.episodes == model._episode_num == len(model.ep_info_buffer) > 0
    assert any(not th.equal(a, b) for a, b in zip(before, model.policy.parameters()))  # the workers trained it
    assert no_children_left()


def test_callback_stop_stops_every_worker():
    model = A3C("MlpPolicy", "CartPole-v1", n_workers=2, n_steps=5, seed=0, start_method="fork")
    recorder = StepRecorder(stop_at=300)
    model.learn(1_000_000, callback=recorder)
    assert recorder.n_calls == 300
    # steps already under way when the stop came are counted, but only a few updates' worth
    assert 300 <= model.num_timesteps < 300 + 2_000
    assert no_children_left()


def test_worker_error_is_raised_and_no_worker_is_left():
    model = A3C("MlpPolicy", "CartPole-v1", n_workers=2, env_fn=functools.partial(FailingEnv, 50), start_method="fork")
    with pytest.raises(A3CWorkerError, match="the env broke on purpose"):
        model.learn(100_000)
    assert no_children_left()


def test_exception_in_main_process_stops_the_workers():
    class Interrupt(BaseCallback):
        def _on_step(self) -> bool:
            if self.n_calls == 100:
                raise KeyboardInterrupt  # what Ctrl-C raises in the main process
            return True

    model = A3C("MlpPolicy", "CartPole-v1", n_workers=2, start_method="fork")
    with pytest.raises(KeyboardInterrupt):
        model.learn(1_000_000, callback=Interrupt())
    assert no_children_left()


def test_spawn_start_method_with_sb3_callbacks_and_save_load(tmp_path):
    eval_env = make_vec_env("CartPole-v1", n_envs=1, seed=3)
    model = A3C("MlpPolicy", make_vec_env("CartPole-v1", n_envs=1), n_workers=2, seed=0, start_method="spawn")
    callbacks = [
        EvalCallback(eval_env, eval_freq=500, n_eval_episodes=2, log_path=str(tmp_path), best_model_save_path=str(tmp_path)),
        CheckpointCallback(save_freq=700, save_path=str(tmp_path / "checkpoints")),
    ]
    model.learn(1_500, callback=callbacks)
    assert model.num_timesteps == 1_500 and no_children_left()
    assert (tmp_path / "evaluations.npz").exists() and (tmp_path / "best_model.zip").exists()
    assert sorted(p.name for p in (tmp_path / "checkpoints").glob("*.zip")) == ["rl_model_1400_steps.zip", "rl_model_700_steps.zip"]

    model.save(tmp_path / "a3c")
    loaded = A3C.load(tmp_path / "a3c", env=make_vec_env("CartPole-v1", n_envs=1))
    for a, b in zip(model.policy.state_dict().values(), loaded.policy.state_dict().values()):
        assert th.equal(a, b)
    obs = np.array([[0.01, 0.02, 0.03, 0.04], [0.1, -0.2, 0.05, 0.3]], dtype=np.float32)
    np.testing.assert_array_equal(model.predict(obs, deterministic=True)[0], loaded.predict(obs, deterministic=True)[0])
    steps = model.policy.optimizer.state_dict()["state"][0]["step"]
    assert loaded.policy.optimizer.state_dict()["state"][0]["step"] == steps > 0  # Adam's moments travel too
    assert loaded.n_workers == 2 and loaded.env_fn is None
    loaded.start_method = "fork"
    loaded.learn(200, reset_num_timesteps=False)
    assert loaded.num_timesteps == 1_700 and no_children_left()


def test_continuous_actions_smoke():
    model = A3C("MlpPolicy", "Pendulum-v1", n_workers=2, n_steps=10, seed=0, start_method="fork")
    model.learn(600)
    assert model.num_timesteps == 600 and no_children_left()
    action, _ = model.predict(np.zeros(3, dtype=np.float32))
    assert action.shape == (1,) and -2.0 <= action[0] <= 2.0


def test_workers_rebuild_the_env_from_its_spec():
    venv = make_vec_env("Pendulum-v1", n_envs=1, wrapper_class=gym.wrappers.ClipAction, env_kwargs={"g": 9.0})
    factory = env_factory_from(venv)
    assert isinstance(factory, SpecEnvFactory)
    env = factory()
    assert env.spec.max_episode_steps == 200 and env.unwrapped.g == 9.0 and env.render_mode is None
    assert any(isinstance(e, gym.wrappers.ClipAction) for e in _wrapper_chain(env))


def _wrapper_chain(env: gym.Env) -> list[gym.Env]:
    chain = [env]
    while hasattr(chain[-1], "env"):
        chain.append(chain[-1].env)
    return chain


def test_user_mistakes_are_one_line_errors():
    with pytest.raises(ZooError, match="n_envs"):
        A3C("MlpPolicy", make_vec_env("CartPole-v1", n_envs=2))
    with pytest.raises(ZooError, match="start_method"):
        A3C("MlpPolicy", "CartPole-v1", start_method="thread")
    with pytest.raises(ZooError, match="CPU"):
        A3C("MlpPolicy", "CartPole-v1", device="cuda")


@pytest.mark.parametrize("env_id", configured_envs(config_path("a3c")))
def test_shipped_config_builds_a_model(env_id):
    from zoo.config import load_hyperparams
    from zoo.envs.factory import create_env

    hp = load_hyperparams("a3c", env_id)
    model = A3C(hp.policy, create_env(env_id, hp.n_envs, hyperparams=hp.raw), **hp.algo_kwargs)
    assert model.n_workers == hp.raw["n_workers"] and hp.n_envs == 1


def test_zoo_train_runs_a3c_and_the_checkpoint_loads_without_pickle(tmp_path):
    from hub.safe_load import load_sb3_zip
    from zoo.train import TrainOptions, train

    result = train(TrainOptions(algo="a3c", env_id="CartPole-v1", log_folder=str(tmp_path), n_timesteps=600, seed=0,
                                eval_freq=300, eval_episodes=1, verbose=0))
    assert result.model.num_timesteps == 600 and no_children_left()
    assert (result.run_folder / "best_model.zip").exists() and (result.run_folder / "evaluations.npz").exists()
    loaded = load_sb3_zip(result.run_folder / "CartPole-v1.zip", A3C)
    assert loaded.n_steps == result.model.n_steps and loaded.n_workers == result.model.n_workers
    obs = np.zeros((1, 4), dtype=np.float32)
    np.testing.assert_array_equal(loaded.predict(obs, deterministic=True)[0], result.model.predict(obs, deterministic=True)[0])
