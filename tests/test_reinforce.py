"""REINFORCE: returns and loss against a hand-computed episode, batching of whole episodes, SB3 API."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest
import torch as th
from stable_baselines3.common.callbacks import BaseCallback, CheckpointCallback, EvalCallback
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.logger import configure

from agents import REINFORCE
from agents.reinforce import discounted_returns
from zoo.config import config_path, configured_envs

th.set_num_threads(1)

OBS = np.array([[0.01, 0.02, 0.03, 0.04], [0.1, -0.2, 0.05, 0.3], [-0.05, 0.1, 0.2, -0.1]], dtype=np.float32)
ACTIONS = np.array([1, 0, 1])
REWARDS = np.array([1.0, 0.0, 2.0], dtype=np.float32)
GAMMA = 0.9
# G_2 = 2, G_1 = 0 + 0.9 * 2 = 1.8, G_0 = 1 + 0.9 * 1.8 = 2.62
HAND_RETURNS = [2.62, 1.8, 2.0]


def hand_log_probs(model: REINFORCE, obs: np.ndarray, actions: np.ndarray) -> th.Tensor:
    """log pi(a|s) straight from the policy's action distribution, one state at a time."""
    values = []
    for o, a in zip(obs, actions):
        dist = model.policy.get_distribution(th.as_tensor(o[None]))
        values.append(dist.log_prob(th.as_tensor([a])))
    return th.cat(values)


def test_discounted_returns_by_hand():
    np.testing.assert_allclose(discounted_returns(REWARDS, GAMMA), HAND_RETURNS, rtol=1e-6)
    np.testing.assert_allclose(discounted_returns(np.ones(3), 1.0), [3.0, 2.0, 1.0])


def test_loss_with_standardised_returns_matches_hand_computation():
    model = REINFORCE("MlpPolicy", "CartPole-v1", gamma=GAMMA, seed=0)
    episode = {"observations": OBS, "actions": ACTIONS, "rewards": REWARDS}
    out = model.compute_loss([episode])
    np.testing.assert_allclose(out["returns"].numpy(), HAND_RETURNS, rtol=1e-6)
    mean = sum(HAND_RETURNS) / 3  # 2.14
    std = math.sqrt(sum((g - mean) ** 2 for g in HAND_RETURNS) / 2)  # sample std, as torch.std
    weights = [(g - mean) / (std + 1e-8) for g in HAND_RETURNS]
    np.testing.assert_allclose(out["weights"].detach().numpy(), weights, rtol=1e-5)
    log_probs = hand_log_probs(model, OBS, ACTIONS)
    expected = -sum(w * lp for w, lp in zip(weights, log_probs.tolist()))
    # the standardised weights sum to zero, so the loss is small: compare to float32 precision
    assert out["policy_loss"].item() == pytest.approx(expected, abs=2e-6)
    assert out["value_loss"].item() == 0.0  # no baseline: the value head is not trained
    assert out["loss"].item() == pytest.approx(expected, abs=2e-6)  # ent_coef = 0 by default


def test_loss_with_baseline_and_entropy_matches_hand_computation():
    model = REINFORCE("MlpPolicy", "CartPole-v1", gamma=GAMMA, standardize_returns=False, baseline=True, ent_coef=0.1, vf_coef=0.5, seed=0)
    episode = {"observations": OBS, "actions": ACTIONS, "rewards": REWARDS}
    second = {"observations": OBS[:1], "actions": ACTIONS[:1], "rewards": np.array([3.0], dtype=np.float32)}
    out = model.compute_loss([episode, second])
    returns = [*HAND_RETURNS, 3.0]
    with th.no_grad():
        values = model.policy.predict_values(th.as_tensor(np.concatenate([OBS, OBS[:1]]))).flatten().tolist()
        log_probs = hand_log_probs(model, np.concatenate([OBS, OBS[:1]]), np.concatenate([ACTIONS, ACTIONS[:1]])).tolist()
        entropy = [model.policy.get_distribution(th.as_tensor(o[None])).entropy().item() for o in np.concatenate([OBS, OBS[:1]])]
    policy_loss = -sum((g - v) * lp for g, v, lp in zip(returns, values, log_probs)) / 2  # mean over the 2 episodes
    value_loss = sum((g - v) ** 2 for g, v in zip(returns, values)) / 4
    entropy_loss = -sum(entropy) / 4
    assert out["policy_loss"].item() == pytest.approx(policy_loss, rel=1e-5)
    assert out["value_loss"].item() == pytest.approx(value_loss, rel=1e-5)
    assert out["loss"].item() == pytest.approx(policy_loss + 0.1 * entropy_loss + 0.5 * value_loss, rel=1e-5)


def test_a_gradient_step_makes_the_better_return_action_more_likely():
    model = REINFORCE("MlpPolicy", "CartPole-v1", standardize_returns=True, learning_rate=1e-2, seed=1)
    model.set_logger(configure(None, []))
    obs = np.repeat(OBS[:1], 2, axis=0)
    episode = {"observations": obs, "actions": np.array([1, 0]), "rewards": np.array([0.0, 1.0], dtype=np.float32)}
    # G_0 = 0 + 0.99 * 1 = 0.99 < G_1 = 1: standardised, action 0 gets the positive weight
    before = hand_log_probs(model, obs[:1], np.array([0])).item()
    model.train([episode])
    after = hand_log_probs(model, obs[:1], np.array([0])).item()
    assert after > before


class EpisodeRecorder(BaseCallback):
    """Counts on_step calls and rollouts."""

    def __init__(self) -> None:
        super().__init__()
        self.rollouts = 0

    def _on_rollout_end(self) -> None:
        self.rollouts += 1

    def _on_step(self) -> bool:
        return True


def test_each_update_uses_complete_episodes_from_every_env():
    env = make_vec_env("CartPole-v1", n_envs=3, seed=0)
    model = REINFORCE("MlpPolicy", env, seed=0)
    model._setup_learn(10_000)
    for _ in range(3):
        before, seen = model.num_timesteps, len(model.ep_info_buffer)
        episodes = model.collect_episodes(env, model_callback(model))
        lengths = [len(ep["rewards"]) for ep in episodes]
        assert len(episodes) == 3  # exactly each env's first episode: chosen by count, not by length
        # the batch's episodes are whole episodes the Monitors saw end (a fast env's later ones are left out)
        monitored = sorted(int(info["l"]) for info in list(model.ep_info_buffer)[seen:])
        assert all(lengths.count(n) <= monitored.count(n) for n in lengths)
        assert all(len(ep["observations"]) == len(ep["actions"]) == n for ep, n in zip(episodes, lengths))
        # all envs start afresh with the batch, which ends when the slowest finishes its first episode
        assert model.num_timesteps - before == 3 * max(lengths)
        model.train(episodes)


def model_callback(model: REINFORCE) -> BaseCallback:
    callback = EpisodeRecorder()
    callback.init_callback(model)
    return callback


def test_min_episodes_sets_the_batch_size():
    model = REINFORCE("MlpPolicy", "CartPole-v1", min_episodes=4, seed=0)
    model._setup_learn(10_000)
    episodes = model.collect_episodes(model.env, model_callback(model))
    assert len(episodes) == 4


def test_learn_with_sb3_callbacks_predict_save_load(tmp_path):
    eval_env = make_vec_env("CartPole-v1", n_envs=1, seed=5)
    model = REINFORCE("MlpPolicy", make_vec_env("CartPole-v1", n_envs=2, seed=0), baseline=True, ent_coef=0.01, seed=0)
    callbacks = [
        EvalCallback(eval_env, eval_freq=200, n_eval_episodes=2, log_path=str(tmp_path), best_model_save_path=str(tmp_path)),
        CheckpointCallback(save_freq=300, save_path=str(tmp_path / "checkpoints")),
    ]
    model.learn(1_000, callback=callbacks)
    assert model.num_timesteps >= 1_000
    assert (tmp_path / "evaluations.npz").exists() and (tmp_path / "best_model.zip").exists()
    assert list((tmp_path / "checkpoints").glob("rl_model_*_steps.zip"))
    model.save(tmp_path / "reinforce")
    loaded = REINFORCE.load(tmp_path / "reinforce")
    obs = np.stack([OBS[0], OBS[1]])
    for a, b in zip(model.policy.state_dict().values(), loaded.policy.state_dict().values()):
        assert th.equal(a, b)
    np.testing.assert_array_equal(model.predict(obs, deterministic=True)[0], loaded.predict(obs, deterministic=True)[0])
    assert loaded.baseline and loaded.ent_coef == 0.01
    mean, _ = evaluate_policy(loaded, eval_env, n_eval_episodes=2)
    assert mean > 0


def test_callback_can_stop_training():
    class StopAt(BaseCallback):
        def _on_step(self) -> bool:
            return self.n_calls < 50

    model = REINFORCE("MlpPolicy", "CartPole-v1", seed=0)
    model.learn(10_000, callback=StopAt())
    assert model.num_timesteps == 50


def test_continuous_actions_smoke(tmp_path):
    model = REINFORCE("MlpPolicy", "Pendulum-v1", baseline=True, seed=0)
    model.learn(400)
    assert model.num_timesteps == 400  # two whole 200-step episodes
    action, _ = model.predict(np.zeros(3, dtype=np.float32))
    assert action.shape == (1,) and -2.0 <= action[0] <= 2.0
    model.save(tmp_path / "pendulum")
    loaded = REINFORCE.load(tmp_path / "pendulum", env=gym.make("Pendulum-v1"))
    loaded.learn(200, reset_num_timesteps=False)
    assert loaded.num_timesteps == 600


@pytest.mark.parametrize("env_id", configured_envs(config_path("reinforce")))
def test_shipped_config_builds_a_model(env_id):
    from zoo.config import load_hyperparams
    from zoo.envs.factory import create_env

    hp = load_hyperparams("reinforce", env_id)
    model = REINFORCE(hp.policy, create_env(env_id, hp.n_envs, hyperparams=hp.raw), **hp.algo_kwargs)
    assert model.learning_rate == hp.raw["learning_rate"]


def test_zoo_train_runs_reinforce_and_the_checkpoint_loads_without_pickle(tmp_path):
    from hub.safe_load import load_sb3_zip
    from zoo.train import TrainOptions, train

    result = train(TrainOptions(algo="reinforce", env_id="CartPole-v1", log_folder=str(tmp_path), n_timesteps=300, seed=0,
                                eval_freq=200, eval_episodes=1, verbose=0, hyperparams={"baseline": True}))
    assert result.model.num_timesteps >= 300 and result.model.baseline
    loaded = load_sb3_zip(result.run_folder / "CartPole-v1.zip", REINFORCE)
    assert loaded.baseline and loaded.gamma == result.model.gamma
    obs = np.zeros((1, 4), dtype=np.float32)
    np.testing.assert_array_equal(loaded.predict(obs, deterministic=True)[0], result.model.predict(obs, deterministic=True)[0])
