"""PlaNet: model shapes, the free-nats KL, CEM, the belief in predict, save/load, callbacks, zoo train + enjoy."""

from __future__ import annotations

import importlib.util
import math
import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest
import torch as th
from stable_baselines3.common.callbacks import BaseCallback, CheckpointCallback, EvalCallback
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.evaluation import evaluate_policy

from agents import PlaNet
from agents.planet.planner import cem_plan, cem_plan_loop
from agents.planet.replay import EpisodeReplay
from agents.planet.world_model import RSSM, Gaussian, free_nats_kl, gaussian_kl, postprocess_pixels, preprocess_pixels
from agents.planet.wrappers import ActionRepeat, PixelObservation

TINY_MODEL = dict(deterministic_size=8, stochastic_size=3, hidden_size=8, embedding_size=8)
TINY = dict(seed_episodes=1, update_every=2, batch_size=3, sequence_length=6, horizon=3, n_candidates=16, n_elites=4,
            cem_iterations=2, policy_kwargs=TINY_MODEL)


def short_pendulum(n_envs: int = 1, steps: int = 20):
    return make_vec_env("Pendulum-v1", n_envs=n_envs, seed=0, env_kwargs={"max_episode_steps": steps})


def tiny_planet(env=None, **kwargs) -> PlaNet:
    return PlaNet("MlpPolicy", env if env is not None else short_pendulum(), seed=0, **{**TINY, **kwargs})


# ---------------------------------------------------------------- the model


def test_rssm_shapes():
    rssm = RSSM(action_dim=2, embedding_size=5, deterministic_size=7, stochastic_size=3, hidden_size=6)
    out = rssm.observe(th.randn(4, 2, 5), th.randn(3, 2, 2))
    assert out["h"].shape == (4, 2, 7) and out["s"].shape == (4, 2, 3)
    for gaussian in (out["prior"], out["posterior"]):
        assert gaussian.mean.shape == gaussian.std.shape == (4, 2, 3) and bool((gaussian.std >= 0.1).all())
    assert rssm.imagine_step(th.randn(9, rssm.latent_size), th.randn(9, 2)).shape == (9, 10)


def test_pixel_model_shapes_and_5_bit_observations():
    env = make_vec_env(lambda: PixelObservation(gym.make("Pendulum-v1", render_mode="rgb_array", max_episode_steps=5)), seed=0)
    model = PlaNet("CnnPolicy", env, seed=0, **{**TINY, "policy_kwargs": {**TINY_MODEL, "cnn_depth": 4}})
    assert model.observation_space.shape == (3, 64, 64)  # SB3 transposed the frames to channels first
    images = th.randint(0, 256, (5, 2, 3, 64, 64), dtype=th.uint8)
    assert model.policy.encoder(preprocess_pixels(images)).shape == (5, 2, 128)  # 8 * depth channels on 2 x 2
    assert model.policy.decoder(th.randn(5, 2, 11)).shape == (5, 2, 3, 64, 64)
    losses = model.policy.loss(images, th.zeros(4, 2, 1), th.zeros(4, 2), free_nats=3.0)
    assert set(losses) == {"observation", "reward", "kl", "total"} and all(v.dim() == 0 for v in losses.values())
    x = preprocess_pixels(images, noise=False)
    assert len(th.unique(x)) <= 32 and x.min() >= -0.5 and x.max() < 0.5
    assert th.equal(postprocess_pixels(x), (images // 8) * 8)
    model.learn(12)  # frames from the env's renders, channels first, through the replay, the updates and the planner
    assert model._n_updates == 2 * 2 and np.isfinite(model.loss_total)


def test_free_nats_kl_by_hand():
    p = Gaussian(th.zeros(3, 2), th.ones(3, 2))
    q_mean = th.tensor([[1.0, 2.0], [2.0, math.sqrt(8.0)], [0.0, 0.0]], requires_grad=True)
    q = Gaussian(q_mean, th.tensor([[1.0, 1.0], [1.0, 1.0], [0.5, 1.0]]))
    # KL(N(m, s^2) || N(0, 1)) = 0.5 (s^2 + m^2 - 1 - ln s^2), summed over the two dimensions
    expected = [0.5 * (1 + 4), 0.5 * (4 + 8), 0.5 * (0.25 - 1 - math.log(0.25))]
    np.testing.assert_allclose(gaussian_kl(q, p).detach().numpy(), expected, rtol=1e-6)
    loss = free_nats_kl(q, p, free_nats=3.0)  # max(3, 2.5), max(3, 6), max(3, 0.318)
    assert loss.item() == pytest.approx((3.0 + 6.0 + 3.0) / 3)
    loss.backward()
    assert th.all(q_mean.grad[[0, 2]] == 0)  # under the free nats: no gradient
    np.testing.assert_allclose(q_mean.grad[1].numpy(), q_mean.detach()[1].numpy() / 3, rtol=1e-6)


# ---------------------------------------------------------------- the planner


class Quadratic:
    """A toy latent model: the state is the last action, the reward ``-|a - target|^2``."""

    target = th.tensor([0.3, -0.6])

    def imagine_step(self, latent, action):
        return action.clone()

    def predict_reward(self, latent):
        return -((latent - self.target) ** 2).sum(-1)


def test_cem_finds_the_optimum_of_a_quadratic_reward():
    action = cem_plan(Quadratic(), th.zeros(2), 2, horizon=4, candidates=300, elites=30, iterations=8, generator=th.Generator().manual_seed(0))
    np.testing.assert_allclose(action.numpy(), Quadratic.target.numpy(), atol=0.02)
    crude = cem_plan(Quadratic(), th.zeros(2), 2, horizon=4, candidates=300, elites=30, iterations=1, generator=th.Generator().manual_seed(0))
    assert th.dist(crude, Quadratic.target) > th.dist(action, Quadratic.target)  # the iterations are what gets it there


def test_batched_cem_equals_the_loop_version_for_the_same_seed():
    model = tiny_planet()
    latent = th.randn(model.policy.rssm.latent_size)
    settings = dict(horizon=4, candidates=40, elites=5, iterations=3)
    batched = cem_plan(model.policy, latent, 1, generator=th.Generator().manual_seed(7), **settings)
    loop = cem_plan_loop(model.policy, latent, 1, generator=th.Generator().manual_seed(7), **settings)
    np.testing.assert_allclose(batched.numpy(), loop.numpy(), atol=1e-5)
    other = cem_plan(model.policy, latent, 1, generator=th.Generator().manual_seed(8), **settings)
    assert not th.allclose(batched, other)


def test_replay_chunks_stay_inside_episodes():
    replay = EpisodeReplay(capacity=25)
    for n, length in enumerate((10, 4, 12)):
        obs = np.full((length + 1, 1), n, np.float32)
        obs[:, 0] += np.arange(length + 1) / 100
        replay.add(obs, np.zeros((length, 1)), np.arange(length, dtype=np.float32))
    batch = replay.sample(20, 6, np.random.default_rng(0))
    assert batch["observations"].shape == (6, 20, 1) and batch["actions"].shape == (5, 20, 1) and batch["rewards"].shape == (5, 20)
    episode = np.floor(batch["observations"][..., 0])
    assert np.all(episode == episode[0]) and 1 not in episode  # episode 1 (4 steps) is too short for a chunk
    steps = np.round((batch["observations"][..., 0] - episode) * 100)
    np.testing.assert_array_equal(steps[:-1], batch["rewards"])  # r_t follows o_t
    replay.add(np.zeros((11, 1)), np.zeros((10, 1)), np.zeros(10))
    assert replay.n_steps <= 25 and len(replay) == 2  # the oldest episodes were dropped


# ---------------------------------------------------------------- acting: the belief across steps


def test_predict_carries_the_belief_and_episode_start_resets_it():
    model = tiny_planet()
    obs = np.array([[1.0, 0.0, 0.5], [0.0, 1.0, -0.5]], np.float32)

    def act(*args):
        th.manual_seed(0)
        return model.predict(*args, deterministic=True)

    fresh, state = act(obs, None, np.ones(2, bool))
    assert fresh.shape == (2, 1) and [part.shape for part in state] == [(2, 8), (2, 3), (2, 1)]
    assert np.all(np.abs(fresh) <= 2.0)  # scaled to Pendulum's bounds
    again, state2 = act(obs, state, np.zeros(2, bool))  # the belief carries: h moves on from the first step
    assert not np.allclose(state2[0], state[0])
    restarted, state3 = act(obs, state2, np.array([False, True]))  # env 1 starts a new episode
    _, continued = act(obs, state2, np.zeros(2, bool))
    np.testing.assert_allclose(state3[0][1], state[0][1], atol=1e-6)
    np.testing.assert_allclose(state3[0][0], continued[0][0], atol=1e-6)
    single, single_state = act(obs[1], None, None)  # one unbatched observation
    assert single.shape == (1,) and np.allclose(single_state[0][0], state[0][1], atol=1e-6)


def test_evaluate_policy_runs_across_episode_boundaries():
    model = tiny_planet()
    starts = []
    original = model.predict

    def spy(obs, state=None, episode_start=None, deterministic=False):
        starts.append(None if episode_start is None else np.array(episode_start))
        return original(obs, state, episode_start, deterministic)

    model.predict = spy
    returns, lengths = evaluate_policy(model, short_pendulum(n_envs=2, steps=5), n_eval_episodes=4, return_episode_rewards=True)
    assert lengths == [5, 5, 5, 5] and len(returns) == 4
    assert starts[0].all() and starts[5].all() and not starts[1].any()  # each 5-step episode starts afresh


# ---------------------------------------------------------------- learn, callbacks, save/load


def test_learn_calls_callbacks_once_per_env_step_and_stops_when_asked(tmp_path):
    class Count(BaseCallback):
        def __init__(self, stop_at=None):
            super().__init__()
            self.stop_at, self.calls, self.started, self.ended, self.rollouts = stop_at, 0, 0, 0, 0

        def _on_training_start(self):
            self.started += 1

        def _on_rollout_start(self):
            self.rollouts += 1

        def _on_step(self):
            self.calls += 1
            return self.stop_at is None or self.calls < self.stop_at

        def _on_training_end(self):
            self.ended += 1

    model = tiny_planet()
    count = Count()
    eval_env = short_pendulum()
    callbacks = [count, CheckpointCallback(30, str(tmp_path / "ckpt")),
                 EvalCallback(eval_env, eval_freq=40, n_eval_episodes=1, best_model_save_path=str(tmp_path / "best"))]
    model.learn(70, callback=callbacks)
    assert count.calls == model.num_timesteps == 70 and count.started == count.ended == 1
    assert count.rollouts == 4  # 20-step episodes: 3 full, 1 cut at 70 steps
    assert model._n_updates == 3 * 2 and np.isfinite(model.loss_total)
    assert len(list((tmp_path / "ckpt").glob("*.zip"))) == 2 and (tmp_path / "best" / "best_model.zip").is_file()
    stopping = Count(stop_at=25)
    tiny_planet().learn(100, callback=stopping)
    assert stopping.calls == 25


def test_save_load_keeps_weights_settings_and_losses(tmp_path):
    from hub.safe_load import load_sb3_zip

    model = tiny_planet()
    model.learn(50)
    model.save(tmp_path / "planet.zip")
    obs = np.array([[1.0, 0.0, 0.5]], np.float32)
    for loaded in (PlaNet.load(tmp_path / "planet.zip"), load_sb3_zip(tmp_path / "planet.zip", PlaNet)):
        assert loaded.n_candidates == 16 and loaded.horizon == 3 and loaded.policy.rssm.deterministic_size == 8
        assert loaded.loss_total == pytest.approx(model.loss_total)
        for key, value in model.policy.state_dict().items():
            assert th.equal(value, loaded.policy.state_dict()[key]), key
        th.manual_seed(1)
        expected = model.predict(obs, deterministic=True)[0]
        th.manual_seed(1)
        np.testing.assert_allclose(loaded.predict(obs, deterministic=True)[0], expected)
    loaded.set_env(short_pendulum())
    loaded.learn(30, reset_num_timesteps=False)  # an empty replay: seed episodes first, then updates
    assert loaded.num_timesteps == 80


def test_evaluation_figures_report_planner_time_and_model_losses():
    from agents.common.evaluation import EvaluationRequest, evaluate_agent

    model = tiny_planet()
    model.learn(45)
    figures = evaluate_agent(model, EvaluationRequest("Pendulum-v1", lambda: short_pendulum(steps=10), lambda: gym.make("Pendulum-v1"),
                                                      n_eval_episodes=2))
    assert figures["n_eval_episodes"] == 2 and figures["mean_ep_length"] == 10
    assert figures["planner_seconds_per_action"] > 0
    assert figures["model_loss/total"] == pytest.approx(model.loss_total) and "model_loss/kl" in figures


def test_action_repeat_sums_the_rewards():
    env = ActionRepeat(gym.make("Pendulum-v1", max_episode_steps=7), repeat=3)
    ref = gym.make("Pendulum-v1", max_episode_steps=7)
    env.reset(seed=0), ref.reset(seed=0)
    _, reward, *_ = env.step(np.array([1.0], np.float32))
    assert reward == pytest.approx(sum(ref.step(np.array([1.0], np.float32))[1] for _ in range(3)))
    env.step(np.array([1.0], np.float32))
    assert env.step(np.array([1.0], np.float32))[3]  # 7 steps: the third action is cut after one step


def test_bad_settings_are_clear_errors():
    with pytest.raises(ValueError, match="CnnPolicy needs image observations"):
        PlaNet("CnnPolicy", "Pendulum-v1")
    with pytest.raises(ValueError, match="n_candidates"):
        PlaNet("MlpPolicy", "Pendulum-v1", n_candidates=10, n_elites=20)
    with pytest.raises(ValueError, match="render_mode"):
        PixelObservation(gym.make("Pendulum-v1"))


# ---------------------------------------------------------------- the zoo


def zoo(*args):
    return subprocess.run([sys.executable, "-m", "zoo", *args], capture_output=True, text=True, timeout=300)


def test_zoo_train_and_enjoy_round_trip(tmp_path):
    logs = tmp_path / "logs"
    tiny = ["seed_episodes=1", "update_every=2", "batch_size=3", "sequence_length=6", "horizon=3", "n_candidates=16",
            "n_elites=4", "cem_iterations=2", "policy_kwargs=dict(deterministic_size=8,stochastic_size=3,hidden_size=8,embedding_size=8)"]
    result = zoo("train", "--algo", "planet", "--env", "Pendulum-v1", "-n", "60", "--seed", "1", "-f", str(logs),
                 "--env-kwargs", "max_episode_steps:20", "--eval-freq", "40", "--eval-episodes", "1", "-q", "--hyperparams", *tiny)
    assert result.returncode == 0, result.stderr
    run = logs / "planet" / "Pendulum-v1_1"
    assert (run / "Pendulum-v1.zip").is_file() and (run / "best_model.zip").is_file()
    result = zoo("enjoy", "--algo", "planet", "--env", "Pendulum-v1", "-f", str(logs), "-n", "40", "--no-render")
    assert result.returncode == 0, result.stderr
    assert "episodes, mean return" in result.stdout


# ---------------------------------------------------------------- DeepMind Control (the dmc extra)


def test_dm_control_cartpole_swingup_states_and_pixels():
    if importlib.util.find_spec("shimmy") is None or importlib.util.find_spec("dm_control") is None:  # not imported: see make_dmc_env
        pytest.skip("needs the dmc extra (dm-control, mujoco 3, shimmy)")
    import zoo.envs  # noqa: F401  (registers the ids)

    states = gym.make("CartpoleSwingup-v0")
    obs, _ = states.reset(seed=0)
    assert obs.shape == (5,) and states.action_space.shape == (1,)
    pixels = gym.make("CartpoleSwingupPixels-v0")
    frame, _ = pixels.reset(seed=0)
    assert frame.shape == (64, 64, 3) and frame.dtype == np.uint8 and frame.std() > 0
    env = make_vec_env("CartpoleSwingupPixels-v0", seed=0, env_kwargs={"action_repeat": 2, "max_episode_steps": 6})
    model = PlaNet("CnnPolicy", env, seed=0, **{**TINY, "policy_kwargs": {**TINY_MODEL, "cnn_depth": 4}})
    model.learn(14)
    assert model.num_timesteps == 14 and model._n_updates == 2 * 2 and np.isfinite(model.loss_total)
