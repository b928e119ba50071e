"""QMIX (agents.qmix): the mixer, the targets, the episode buffer, action masks, SB3's API, the hook, the CLI."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch as th

pytest.importorskip("mpe2")
pytest.importorskip("lbforaging")

import zoo.envs  # noqa: F401,E402  (registers mpe2/... and lbforaging/... ids)
from mpe2 import simple_spread_v3, simple_tag_v3  # noqa: E402
from stable_baselines3.common.callbacks import (  # noqa: E402
    BaseCallback,
    CheckpointCallback,
    EvalCallback,
    StopTrainingOnRewardThreshold,
)
from stable_baselines3.common.env_util import make_vec_env  # noqa: E402
from stable_baselines3.common.evaluation import evaluate_policy  # noqa: E402

from agents import QMIX  # noqa: E402
from agents.common.evaluation import STANDARD_KEYS, EvaluationRequest, evaluate_agent  # noqa: E402
from agents.errors import ZooError  # noqa: E402
from agents.qmix import EpisodeBatch, EpisodeReplayBuffer, QMixer, qmix_loss  # noqa: E402
from agents.qmix.reference import per_agent_loss, per_step_loss  # noqa: E402

LBF = "lbforaging/Foraging-8x8-2p-2f-coop-v3"
SMALL = dict(batch_size=4, buffer_size=50, target_update_interval=5, exploration_steps=200)


def small_model(env, **kwargs) -> QMIX:
    return QMIX(kwargs.pop("policy", "MlpPolicy"), env, seed=0, **{**SMALL, **kwargs})


def spread(**kwargs):
    return simple_spread_v3.parallel_env(N=2, max_cycles=10, **kwargs)


# ---------------------------------------------------------------- the mixer and the loss
def test_mixer_is_monotonic_in_every_agent_value() -> None:
    th.manual_seed(0)
    mixer = QMixer(n_agents=3, state_dim=7, embed_dim=8, hypernet_embed=16)
    for layer in mixer.modules():  # large random weights of both signs
        if isinstance(layer, th.nn.Linear):
            th.nn.init.normal_(layer.weight, std=2.0)
            th.nn.init.normal_(layer.bias, std=2.0)
    qs = (5 * th.randn(512, 3)).requires_grad_(True)
    states = 3 * th.randn(512, 7)
    q_tot = mixer(qs, states)
    assert q_tot.shape == (512,)
    (grad,) = th.autograd.grad(q_tot.sum(), qs)
    assert (grad >= 0).all() and (grad > 0).any()


class FixedQ(th.nn.Module):
    """An agent network that gives fixed Q-values ``(B, T+1, n, A)``, the last steps when given fewer."""

    def __init__(self, q: th.Tensor):
        super().__init__()
        self.q = q

    def sequence(self, inputs: th.Tensor) -> th.Tensor:
        return self.q[:, self.q.shape[1] - inputs.shape[1]:]


def test_double_q_target_against_a_hand_computed_batch() -> None:
    model = small_model(spread(), mixer="vdn", standardize_rewards=False)
    policy = model.policy
    # one episode of two steps (the third step is padding), two agents, 5 actions each
    online = th.zeros(1, 4, 2, 5)
    target = th.zeros(1, 4, 2, 5)
    online[0, 0, 0, 2], online[0, 0, 1, 4] = 1.0, 2.0  # chosen at t=0: Q_0 = 1, Q_1 = 2
    online[0, 1, 0, 3], online[0, 1, 1, 1] = 0.5, -1.0  # chosen at t=1
    # next step t=1: the online net prefers action 0 for agent 0, but it is unavailable: 3 is next best
    online[0, 1, 0, 0] = 9.0
    target[0, 1, 0] = th.tensor([100.0, 7.0, 7.0, 3.0, 7.0])  # double-Q values the online choice (3): 3
    online[0, 1, 1, 2] = 5.0
    target[0, 1, 1] = th.tensor([7.0, 7.0, -2.0, 7.0, 7.0])  # agent 1's online choice (2): -2
    target[0, 2] = 50.0  # after the terminal step: must not count
    avail = th.ones(1, 4, 2, 5, dtype=th.bool)
    avail[0, 1, 0, 0] = False
    batch = EpisodeBatch(
        obs=th.zeros(1, 4, 2, policy.obs_dim), state=th.zeros(1, 4, policy.state_dim), avail=avail,
        actions=th.tensor([[[2, 4], [3, 1], [0, 0]]]), rewards=th.tensor([[1.0, 2.0, 0.0]]),
        terminated=th.tensor([[0.0, 1.0, 0.0]]), filled=th.tensor([[1.0, 1.0, 0.0]]),
    )
    policy.agent, policy.agent_target = FixedQ(online), FixedQ(target)
    gamma = 0.9
    y0 = 1.0 + gamma * (3.0 + -2.0)  # r_0 + gamma * sum_i Q'_i(s_1, argmax_avail Q_i(s_1))
    y1 = 2.0  # terminated: no bootstrap
    expected = ((1.0 + 2.0 - y0) ** 2 + (0.5 - 1.0 - y1) ** 2) / 2
    assert qmix_loss(policy, batch, gamma, double_q=True).item() == pytest.approx(expected)
    # without double-Q: the max of the target network among available actions (7 and 7)
    y0_max = 1.0 + gamma * (7.0 + 7.0)
    expected_max = ((3.0 - y0_max) ** 2 + (-0.5 - y1) ** 2) / 2
    assert qmix_loss(policy, batch, gamma, double_q=False).item() == pytest.approx(expected_max)
    # independent learners: each agent its own target on the team reward, averaged over agents and steps
    policy.mixer = None
    per_agent = [(1.0 - (1.0 + gamma * 3.0)) ** 2, (2.0 - (1.0 + gamma * -2.0)) ** 2, (0.5 - 2.0) ** 2, (-1.0 - 2.0) ** 2]
    assert qmix_loss(policy, batch, gamma).item() == pytest.approx(np.mean(per_agent))


@pytest.mark.parametrize("mixer", ["qmix", "vdn", None])
@pytest.mark.parametrize("policy", ["MlpPolicy", "RnnPolicy"])
def test_batched_loss_equals_the_per_agent_loop_of_the_notes(mixer, policy) -> None:
    model = small_model(spread(), mixer=mixer, policy=policy)
    model.learn(120)  # a few episodes in the buffer, targets differing from the online networks
    batch = model.replay_buffer.sample(4, np.random.default_rng(0))
    p = model.policy
    batched = qmix_loss(p, batch, model.gamma)
    grads = th.autograd.grad(batched, list(p.agent.parameters()))
    looped = per_agent_loss(p, batch, model.gamma)
    loop_grads = th.autograd.grad(looped, list(p.agent.parameters()))
    th.testing.assert_close(batched, looped, rtol=1e-5, atol=1e-6)
    for a, b in zip(grads, loop_grads):
        th.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)
    if policy == "MlpPolicy":  # EPyMARL's loop over time steps, timed in benchmarks/qmix.py
        th.testing.assert_close(batched, per_step_loss(p, batch, model.gamma), rtol=1e-5, atol=1e-6)


def test_state_is_scaled_by_its_bounds_where_they_are_finite(tmp_path) -> None:
    lbf = small_model(make_vec_env(LBF, n_envs=1, seed=0))
    space = lbf.observation_space  # lbforaging's state is the joint observation: coordinates -1..7, levels 0..L
    expected = 1.0 / np.maximum(np.abs(space.low), np.abs(space.high))
    np.testing.assert_allclose(lbf.policy.state_scale.numpy(), expected, rtol=1e-6)
    assert lbf.policy.state_scale.max() < 1.0
    raw = small_model(make_vec_env(LBF, n_envs=1, seed=0), policy_kwargs={"normalize_state": False})
    assert (raw.policy.state_scale == 1.0).all()
    assert (small_model(spread()).policy.state_scale == 1.0).all()  # MPE's bounds are infinite: left as it is
    # the loss reads the scaled state: the same as the raw one on a batch whose states were scaled by hand
    lbf.learn(300)
    batch = lbf.replay_buffer.sample(4, np.random.default_rng(0))
    raw.policy.load_state_dict(lbf.policy.state_dict())
    by_hand = batch._replace(state=batch.state * lbf.policy.state_scale)
    th.testing.assert_close(qmix_loss(lbf.policy, batch, 0.99), qmix_loss(raw.policy, by_hand, 0.99))
    th.testing.assert_close(qmix_loss(lbf.policy, batch, 0.99), per_agent_loss(lbf.policy, batch, 0.99),
                            rtol=1e-5, atol=1e-6)
    lbf.save(tmp_path / "qmix")
    loaded = QMIX.load(tmp_path / "qmix")
    assert loaded.policy.normalize_state
    th.testing.assert_close(loaded.policy.state_scale, lbf.policy.state_scale)


# ---------------------------------------------------------------- the episode buffer
def test_episode_buffer_pads_masks_grows_and_overwrites() -> None:
    buffer = EpisodeReplayBuffer(3, n_agents=2, obs_dim=2, state_dim=3, n_actions=4)

    def episode(steps: int, value: float):
        avail = np.zeros((steps + 1, 2, 4), bool)
        avail[..., 1] = True
        return (np.full((steps + 1, 2, 2), value, np.float32), np.full((steps + 1, 3), value, np.float32), avail,
                np.ones((steps, 2), np.int64), np.full(steps, value, np.float32), np.eye(steps)[-1].astype(np.float32))

    buffer.add(*episode(3, 1.0))
    buffer.add(*episode(5, 2.0))  # longer: the arrays grow, the first episode is kept
    batch = buffer.get(np.array([0, 1]))
    assert batch.obs.shape == (2, 6, 2, 2) and batch.actions.shape == (2, 5, 2) and batch.rewards.shape == (2, 5)
    np.testing.assert_array_equal(batch.filled.numpy(), [[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]])
    np.testing.assert_array_equal(batch.rewards[0].numpy(), [1, 1, 1, 0, 0])
    np.testing.assert_array_equal(batch.terminated[0].numpy(), [0, 0, 1, 0, 0])
    assert batch.obs[0, :4].eq(1.0).all() and batch.obs[0, 4:].eq(0.0).all()  # T + 1 observations, then zeros
    assert batch.avail[0, :4, :, 1].all() and not batch.avail[0, :4, :, 0].any()  # stored masks
    assert batch.avail[0, 4:].all()  # padding: everything available (no -inf in a max)
    assert buffer.get(np.array([0])).rewards.shape == (1, 3)  # cut to the longest episode asked for
    for value in (3.0, 4.0):
        buffer.add(*episode(2, value))
    assert buffer.size() == 3 and buffer.rewards[0, 0] == 4.0 and buffer.rewards[0, 2] == 0.0  # oldest overwritten
    assert len({tuple(buffer.sample(3).rewards[:, 0].tolist())}) == 1  # whole buffer, no repeats
    assert sorted(buffer.sample(3).rewards[:, 0].tolist()) == [2.0, 3.0, 4.0]


def test_stored_episodes_are_what_the_env_gave() -> None:
    model = small_model(spread(), mixer="vdn")
    model.learn(30)  # three episodes of 10 steps
    buffer = model.replay_buffer
    assert buffer.size() == 3 and list(buffer.lengths[:3]) == [10, 10, 10]
    assert buffer.terminated[:3].sum() == 0  # mpe2's episodes end at the time limit: always bootstrapped
    returns = buffer.rewards[:3].sum(axis=1)
    np.testing.assert_allclose(returns, [info["r"] for info in model.ep_info_buffer], rtol=1e-4)


# ---------------------------------------------------------------- action masks
class MaskSpy(BaseCallback):
    """Checks at every step that each agent's action was available."""

    def __init__(self):
        super().__init__()
        self.checked = 0

    def _on_step(self) -> bool:
        actions, avail = self.locals["actions"], self.locals["avail"]
        assert avail[np.arange(len(actions))[:, None], np.arange(actions.shape[1]), actions].all()
        self.checked += 1
        return True


@pytest.mark.parametrize("eps", [1.0, 0.0])
def test_unavailable_actions_are_never_chosen(eps: float) -> None:
    model = small_model(LBF, exploration_initial_eps=eps, exploration_final_eps=eps)
    spy = MaskSpy()
    model.learn(300, callback=spy)
    assert spy.checked == 300
    assert not model.replay_buffer.avail[: model.replay_buffer.size()].all()  # masks did exclude actions
    # predict: masked actions are never picked, even when their Q-value is the highest
    env = model.env.envs[0]
    obs, _ = env.reset(seed=3)
    masks = env.unwrapped.action_masks()
    with th.no_grad():
        model.policy.agent.fc2.bias.copy_(th.tensor([0.0, 0.0, 0.0, 0.0, 0.0, 100.0]))  # LOAD looks best
    assert list(model.predict(obs)[0]) == [5, 5]
    action, _ = model.predict(obs, action_masks=masks)
    assert masks.reshape(2, 6)[[0, 1], action].all()
    if not masks.reshape(2, 6)[:, 5].all():
        assert 5 not in action[~masks.reshape(2, 6)[:, 5]]


# ---------------------------------------------------------------- SB3's API
class CountSteps(BaseCallback):
    def _on_step(self) -> bool:
        return True


def test_callbacks_save_load_and_evaluate_policy(tmp_path) -> None:
    env_kwargs = {"N": 2, "max_cycles": 10}
    model = small_model(make_vec_env("mpe2/simple_spread_v3", n_envs=2, env_kwargs=env_kwargs, seed=0))
    eval_env = make_vec_env("mpe2/simple_spread_v3", n_envs=1, env_kwargs=env_kwargs, seed=5)
    stop = StopTrainingOnRewardThreshold(reward_threshold=-1e9)  # any return passes: stops at the first evaluation
    evaluation = EvalCallback(eval_env, n_eval_episodes=2, eval_freq=60, callback_on_new_best=stop,
                              best_model_save_path=str(tmp_path / "best"), verbose=0)
    checkpoints = CheckpointCallback(save_freq=40, save_path=str(tmp_path / "checkpoints"))
    counter = CountSteps()
    model.learn(2000, callback=[counter, checkpoints, evaluation])
    assert model.num_timesteps == 120 and counter.n_calls == 60  # one call per vectorised env step
    assert (tmp_path / "best" / "best_model.zip").is_file() and list((tmp_path / "checkpoints").glob("*.zip"))
    assert model._n_updates > 0

    path = tmp_path / "qmix.zip"
    model.save(path)
    loaded = QMIX.load(path)  # no env needed: the agents' structure is in the checkpoint
    obs = np.stack([eval_env.reset()[0] for _ in range(5)])
    np.testing.assert_array_equal(model.predict(obs)[0], loaded.predict(obs)[0])
    assert loaded.multiagent == model.multiagent and loaded.mixer == "qmix"
    assert loaded.exploration_rate == model.exploration_rate and loaded.reward_var == model.reward_var
    with_env = QMIX.load(path, env=spread())
    mean, _ = evaluate_policy(with_env, eval_env, n_eval_episodes=3)
    assert np.isfinite(mean) and mean < 0
    with_env.learn(40, reset_num_timesteps=False)  # a loaded model trains on

    from hub.safe_load import load_sb3_zip  # the Hub's pickle-free loader

    safe = load_sb3_zip(path, QMIX)
    np.testing.assert_array_equal(model.predict(obs)[0], safe.predict(obs)[0])
    assert safe.mixer == "qmix" and safe.multiagent == model.multiagent


def test_gru_agents_carry_their_state_and_load(tmp_path) -> None:
    model = small_model(spread(), policy="RnnPolicy", mixer="vdn")
    assert model.policy.recurrent
    model.learn(60)
    obs = model.env.reset()
    a1, state = model.predict(obs, episode_start=np.ones(1, bool))
    assert state is not None and state[0].shape == (2, 64)
    model.save(tmp_path / "rnn.zip")
    loaded = QMIX.load(tmp_path / "rnn.zip")
    assert loaded.policy.recurrent
    b1, state_b = loaded.predict(obs, episode_start=np.ones(1, bool))
    np.testing.assert_array_equal(a1, b1)
    np.testing.assert_allclose(state[0], state_b[0])
    mean, _ = evaluate_policy(loaded, make_vec_env("mpe2/simple_spread_v3", env_kwargs={"N": 2, "max_cycles": 10}),
                              n_eval_episodes=2)
    assert np.isfinite(mean)


def test_target_networks_are_copied_every_interval_episodes() -> None:
    model = small_model(spread(), target_update_interval=3, batch_size=1)
    model.learn(20)  # two episodes: no copy yet, online networks trained
    p = model.policy
    assert not all(th.equal(a, b) for a, b in zip(p.agent.parameters(), p.agent_target.parameters()))
    model.learn(10, reset_num_timesteps=False)  # the third episode: hard copy
    assert all(th.equal(a, b) for a, b in zip(p.agent.parameters(), p.agent_target.parameters()))
    assert all(th.equal(a, b) for a, b in zip(p.mixer.parameters(), p.mixer_target.parameters()))


def test_soft_target_updates_move_the_targets_by_tau() -> None:
    model = small_model(spread(), target_update_interval=1, tau=0.25, batch_size=1)
    model.learn(10)  # one episode: one update, then one soft target update
    p = model.policy
    before = [t.clone() for t in p.mixer_target.parameters()]
    online = [o.clone() for o in p.mixer.parameters()]
    model.update_targets()
    for old, new, o in zip(before, p.mixer_target.parameters(), online):
        assert th.allclose(new, 0.75 * old + 0.25 * o)
    assert not all(th.equal(a, b) for a, b in zip(p.agent.parameters(), p.agent_target.parameters()))
    with pytest.raises(ValueError, match="tau"):
        small_model(spread(), tau=0.0)


def test_epsilon_falls_linearly_to_its_final_value() -> None:
    model = small_model(spread(), exploration_steps=100)
    model.learn(50)
    assert model.exploration_rate == pytest.approx(1.0 - 0.5 * 0.95)
    model.learn(100, reset_num_timesteps=False)
    assert model.exploration_rate == pytest.approx(0.05)


# ---------------------------------------------------------------- the hook, bad input, the CLI
def test_evaluation_hook_reports_team_return_and_food_collected() -> None:
    model = small_model(LBF)
    request = EvaluationRequest(env_id=LBF, make_vec_env=lambda: make_vec_env(LBF, n_envs=1, seed=0),
                                make_env=lambda: gym.make(LBF), n_eval_episodes=3)
    figures = evaluate_agent(model, request)
    keys = list(figures)
    assert keys[: len(STANDARD_KEYS)] == list(STANDARD_KEYS)
    assert {"agent_0/mean_reward", "agent_1/mean_reward", "food_collected", "all_food_collected"} <= set(keys)
    assert figures["food_collected"] == pytest.approx(figures["mean_reward"], abs=1e-5)  # normalised, no penalty
    assert 0.0 <= figures["food_collected"] <= 1.0 and figures["n_eval_episodes"] == 3
    spread_request = EvaluationRequest(
        env_id="mpe2/simple_spread_v3",
        make_vec_env=lambda: make_vec_env("mpe2/simple_spread_v3", n_envs=1, env_kwargs={"N": 2}, seed=0),
        make_env=lambda: gym.make("mpe2/simple_spread_v3", N=2), n_eval_episodes=2)
    assert "food_collected" not in evaluate_agent(small_model(spread()), spread_request)


def test_competitive_and_continuous_envs_are_refused_in_one_line() -> None:
    with pytest.raises(ZooError) as error:
        QMIX("MlpPolicy", simple_tag_v3.parallel_env())
    message = str(error.value)
    assert "QMIX needs a shared team reward" in message and "maddpg" in message and "\n" not in message
    with pytest.raises(ZooError) as error:
        QMIX("MlpPolicy", spread(continuous_actions=True))
    assert "QMIX needs discrete actions" in str(error.value) and "MultiDiscrete" in str(error.value)
    with pytest.raises(ZooError, match="unknown mixer"):
        QMIX("MlpPolicy", spread(), mixer="qtran")
    with pytest.raises(ZooError, match="QMIX needs a multi-agent env"):
        QMIX("MlpPolicy", make_vec_env("CartPole-v1"))


def test_zoo_train_then_enjoy_round_trip(tmp_path, capsys) -> None:
    from zoo.cli import main  # the command line's entry point, in this process

    logs = tmp_path / "logs"
    assert main(["train", "--algo", "qmix", "--env", LBF, "-n", "300", "--seed", "1", "-f", str(logs),
                 "--eval-freq", "150", "--eval-episodes", "2", "-q", "--hyperparams", "batch_size=2"]) == 0
    run = logs / "qmix" / "lbforaging-Foraging-8x8-2p-2f-coop-v3_1"
    assert f"Saved to {run}" in capsys.readouterr().out
    model_path = run / "lbforaging-Foraging-8x8-2p-2f-coop-v3.zip"
    assert model_path.is_file() and (run / "best_model.zip").is_file()
    assert QMIX.load(model_path).multiagent["agent_ids"] == ["agent_0", "agent_1"]
    assert main(["enjoy", "--algo", "qmix", "--env", LBF, "-f", str(logs), "-n", "100", "--no-render"]) == 0
    out = capsys.readouterr().out
    assert "from " + str(model_path) in out and "episodes, mean return" in out


def test_zoo_evaluates_and_plays_with_the_envs_action_masks(tmp_path) -> None:
    """Periodic evaluations, the final one and `zoo enjoy` give QMIX lbforaging's masks (it picked unavailable
    actions without them); PPO on CartPole gets none."""
    import functools

    from sb3_contrib.common.maskable.callbacks import MaskableEvalCallback
    from stable_baselines3 import PPO

    from agents.common.masking import passes_action_masks
    from zoo.config import load_hyperparams
    from zoo.enjoy import play
    from zoo.train import TrainOptions, make_callbacks

    env = make_vec_env(LBF, n_envs=1, seed=0)
    model = small_model(env)
    assert passes_action_masks(model, env)
    assert not passes_action_masks(PPO("MlpPolicy", "CartPole-v1"), make_vec_env("CartPole-v1"))
    options = TrainOptions(algo="qmix", env_id=LBF, log_folder=str(tmp_path), eval_freq=100)
    callbacks = make_callbacks(load_hyperparams("qmix", LBF), options, tmp_path, env, model)
    assert isinstance(callbacks[0], MaskableEvalCallback)

    given: list[np.ndarray] = []
    predict = model.predict

    @functools.wraps(predict)
    def spy(*args, **kwargs):
        given.append(kwargs["action_masks"])
        assert np.array_equal(kwargs["action_masks"], np.stack(env.env_method("action_masks")))
        return predict(*args, **kwargs)

    model.predict = spy
    play(model, env, 60)
    assert len(given) == 60 and not all(m.all() for m in given)  # lbforaging forbids some actions


def test_zoo_refuses_competitive_and_continuous_envs_with_exit_2(capsys) -> None:
    from zoo.cli import main

    assert main(["train", "--algo", "qmix", "--env", "mpe2/simple_tag_v3", "-n", "10"]) == 2
    err = capsys.readouterr().err
    assert "QMIX needs a shared team reward" in err and "Traceback" not in err and err.count("\n") == 1
    assert main(["train", "--algo", "qmix", "--env", "mpe2/simple_spread_v3", "-n", "10",
                 "--env-kwargs", "continuous_actions=True"]) == 2
    err = capsys.readouterr().err
    assert "MultiDiscrete" in err and "Traceback" not in err and err.count("\n") == 1
