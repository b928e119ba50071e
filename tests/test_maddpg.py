"""MADDPG (agents.maddpg): the batched update, SB3's API (callbacks, save/load, evaluate_policy), the hook, the CLI."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch as th

pytest.importorskip("mpe2")

import zoo.envs  # noqa: F401,E402  (registers mpe2/... ids)
from mpe2 import simple_speaker_listener_v4, simple_spread_v3  # noqa: E402
from stable_baselines3.common.callbacks import (  # noqa: E402
    CheckpointCallback,
    EvalCallback,
    StopTrainingOnRewardThreshold,
)
from stable_baselines3.common.env_util import make_vec_env  # noqa: E402
from stable_baselines3.common.evaluation import evaluate_policy  # noqa: E402
from stable_baselines3.common.noise import NormalActionNoise  # noqa: E402

from agents import MADDPG  # noqa: E402
from agents.common.evaluation import STANDARD_KEYS, EvaluationRequest, evaluate_agent  # noqa: E402
from agents.errors import ZooError  # noqa: E402
from agents.maddpg.policies import BatchedMLP, clip_grad_norm_per_member  # noqa: E402
from agents.maddpg.reference import per_agent_update, split_networks  # noqa: E402

SMALL = dict(learning_starts=50, batch_size=32, train_freq=10, buffer_size=5000)


def small_model(env, **kwargs) -> MADDPG:
    return MADDPG("MlpPolicy", env, seed=0, **{**SMALL, **kwargs})


def parameters(module: th.nn.Module) -> list[th.Tensor]:
    return [p.detach().clone() for p in module.parameters()]


@pytest.mark.parametrize("continuous", [True, False])
@pytest.mark.parametrize("share", [False, True])
def test_learns_continuous_and_discrete_with_and_without_sharing(continuous: bool, share: bool) -> None:
    model = small_model(simple_spread_v3.parallel_env(N=2, continuous_actions=continuous),
                        policy_kwargs={"share_parameters": share},
                        action_noise=NormalActionNoise(np.zeros(10), 0.2 * np.ones(10)) if continuous else None)
    actor, critic = parameters(model.actor), parameters(model.critic)
    model.learn(300)
    assert model._n_updates > 0
    assert any(not th.equal(a, b) for a, b in zip(actor, model.actor.parameters()))
    assert any(not th.equal(a, b) for a, b in zip(critic, model.critic.parameters()))
    assert model.actor[0].weight.shape[0] == (1 if share else 2)
    action, _ = model.predict(model.env.reset(), deterministic=True)
    assert model.action_space.contains(action[0])


def test_heterogeneous_agents_and_lbforaging() -> None:
    model = small_model(simple_speaker_listener_v4.parallel_env())  # speaker: 3 obs, 3 actions; listener: 11, 5
    model.learn(120)
    actions, _ = model.predict(model.env.reset())
    assert actions.shape == (1, 2) and actions[0, 0] < 3 and actions[0, 1] < 5
    pytest.importorskip("lbforaging")
    lbf = small_model("lbforaging/Foraging-8x8-2p-2f-coop-v3")
    lbf.learn(120)
    assert lbf.multiagent["agent_ids"] == ["agent_0", "agent_1"]


@pytest.mark.parametrize("make", [simple_speaker_listener_v4.parallel_env, lambda **kw: simple_spread_v3.parallel_env(N=2, **kw)],
                         ids=["heterogeneous", "homogeneous"])
def test_batched_update_equals_the_per_agent_loop_of_the_notes(make) -> None:
    model = MADDPG("MlpPolicy", make(continuous_actions=True), seed=1,
                   learning_starts=0, batch_size=64, max_grad_norm=None, action_reg=0.0, learning_rate=1e-3)
    policy = model.policy
    n_obs, n_act = model.observation_space.shape[0], model.action_space.shape[0]
    loop = split_networks(policy, lr=1e-3)
    rng = np.random.default_rng(0)
    batch = 64
    obs = th.as_tensor(rng.normal(size=(batch, n_obs)), dtype=th.float32)
    next_obs = th.as_tensor(rng.normal(size=(batch, n_obs)), dtype=th.float32)
    actions = th.as_tensor(rng.uniform(-1, 1, size=(batch, n_act)), dtype=th.float32)
    rewards = th.as_tensor(rng.normal(size=(batch, 2)), dtype=th.float32)  # different per agent
    dones = th.as_tensor(rng.integers(0, 2, size=(batch, 2)), dtype=th.float32)

    from agents.maddpg.maddpg import MultiAgentSamples

    model.replay_buffer.sample = lambda *_args, **_kw: MultiAgentSamples(obs, actions, next_obs, dones, rewards)
    model._current_progress_remaining = 1.0
    from stable_baselines3.common.logger import configure

    model.set_logger(configure(None, []))
    model.train(gradient_steps=1, batch_size=batch)
    per_agent_update(policy, loop, obs, actions, next_obs, rewards, dones, gamma=model.gamma, tau=model.tau)
    for i, agent in enumerate(loop):
        for batched, plain in ((policy.critic, agent.critic), (policy.actor, agent.actor),
                               (policy.critic_target, agent.critic_target), (policy.actor_target, agent.actor_target)):
            linears = [m for m in plain if isinstance(m, th.nn.Linear)]
            for layer, linear in zip([m for m in batched if hasattr(m, "weight")], linears):
                th.testing.assert_close(layer.weight[i].T, linear.weight, rtol=1e-4, atol=1e-5)
                th.testing.assert_close(layer.bias[i, 0], linear.bias, rtol=1e-4, atol=1e-5)


def test_batched_mlp_members_are_independent_and_clipped_alone() -> None:
    net = BatchedMLP(3, 4, [8], 2)
    x = th.randn(3, 5, 4)
    out = net(x)
    out[1].sum().backward()
    assert net[0].weight.grad[0].abs().sum() == 0 and net[0].weight.grad[1].abs().sum() > 0
    for p in net.parameters():
        p.grad = th.ones_like(p) * th.tensor([1.0, 10.0, 100.0]).view(-1, *([1] * (p.dim() - 1)))
    clip_grad_norm_per_member(net, 1.0)
    norms = sum(p.grad.pow(2).flatten(1).sum(1) for p in net.parameters()).sqrt()
    th.testing.assert_close(norms, th.ones(3), rtol=1e-4, atol=1e-4)


def test_callbacks_save_load_and_evaluate_policy(tmp_path) -> None:
    env_id = "mpe2/simple_spread_v3"
    kwargs = {"N": 2, "continuous_actions": True}
    model = small_model(make_vec_env(env_id, n_envs=2, env_kwargs=kwargs, seed=0),
                        action_noise=NormalActionNoise(np.zeros(10), 0.1 * np.ones(10)))
    eval_env = make_vec_env(env_id, n_envs=1, env_kwargs=kwargs, seed=5)
    stop = StopTrainingOnRewardThreshold(reward_threshold=-1e9)  # any return passes: stops at the first evaluation
    evaluation = EvalCallback(eval_env, n_eval_episodes=2, eval_freq=60, callback_on_new_best=stop,
                              best_model_save_path=str(tmp_path / "best"), verbose=0)
    checkpoints = CheckpointCallback(save_freq=40, save_path=str(tmp_path / "checkpoints"))
    model.learn(2000, callback=[checkpoints, evaluation])
    assert model.num_timesteps == 120  # stopped by the threshold at the first evaluation (60 calls x 2 envs)
    assert (tmp_path / "best" / "best_model.zip").is_file() and list((tmp_path / "checkpoints").glob("*.zip"))

    path = tmp_path / "maddpg.zip"
    model.save(path)
    loaded = MADDPG.load(path)  # no env needed: the agents' structure is in the checkpoint
    obs = eval_env.reset()
    np.testing.assert_array_equal(model.predict(obs, deterministic=True)[0], loaded.predict(obs, deterministic=True)[0])
    assert loaded.multiagent == model.multiagent and loaded.policy_kwargs == model.policy_kwargs
    # on one env now: the saved noise was vectorised for two (as for SB3's TD3), so a new one is passed
    with_env = MADDPG.load(path, env=simple_spread_v3.parallel_env(**kwargs), action_noise=None)
    mean, std = evaluate_policy(with_env, eval_env, n_eval_episodes=3)
    assert np.isfinite(mean) and mean < 0
    with_env.learn(40, reset_num_timesteps=False)  # a loaded model trains on

    # the Hub's pickle-free loader: JSON data, policy_aliases, weights_only state dicts
    from hub.safe_load import load_sb3_zip

    safe = load_sb3_zip(path, MADDPG)
    assert safe.multiagent == model.multiagent
    np.testing.assert_array_equal(model.predict(obs, deterministic=True)[0], safe.predict(obs, deterministic=True)[0])


def test_discrete_model_loads_pickle_free(tmp_path) -> None:
    from hub.safe_load import load_sb3_zip

    model = small_model(simple_speaker_listener_v4.parallel_env(), policy_kwargs={"share_parameters": True})
    model.learn(80)
    model.save(tmp_path / "m.zip")
    safe = load_sb3_zip(tmp_path / "m.zip", MADDPG)
    obs = np.stack([model.env.reset()[0] for _ in range(4)])
    np.testing.assert_array_equal(model.predict(obs, deterministic=True)[0], safe.predict(obs, deterministic=True)[0])
    assert safe.policy.share_parameters and safe.multiagent["action_sizes"] == [3, 5]


def test_evaluation_hook_reports_team_then_each_agent() -> None:
    model = small_model(simple_spread_v3.parallel_env(N=2))
    request = EvaluationRequest(
        env_id="mpe2/simple_spread_v3",
        make_vec_env=lambda: make_vec_env("mpe2/simple_spread_v3", n_envs=1, env_kwargs={"N": 2}, seed=0),
        make_env=lambda: gym.make("mpe2/simple_spread_v3", N=2),
        n_eval_episodes=3,
    )
    figures = evaluate_agent(model, request)
    keys = list(figures)
    assert keys[: len(STANDARD_KEYS)] == list(STANDARD_KEYS)
    assert keys[len(STANDARD_KEYS):] == ["agent_0/mean_reward", "agent_0/std_reward", "agent_1/mean_reward", "agent_1/std_reward"]
    assert figures["n_eval_episodes"] == 3 and figures["mean_ep_length"] == 25
    team = figures["agent_0/mean_reward"] + figures["agent_1/mean_reward"]
    assert team == pytest.approx(figures["mean_reward"], rel=1e-4)


def test_bad_envs_are_refused_in_one_line() -> None:
    from pettingzoo.classic import tictactoe_v3

    with pytest.raises(ZooError) as error:
        MADDPG("MlpPolicy", tictactoe_v3.env())
    assert "MADDPG needs simultaneous moves" in str(error.value) and "mcts" in str(error.value)
    assert "\n" not in str(error.value)
    with pytest.raises(ZooError, match="MADDPG needs a multi-agent env"):
        MADDPG("MlpPolicy", make_vec_env("Pendulum-v1"))


def test_zoo_train_then_enjoy_round_trip(tmp_path, capsys) -> None:
    from zoo.cli import main  # the command line's entry point, in this process (no second torch import)

    logs = tmp_path / "logs"
    assert main(["train", "--algo", "maddpg", "--env", "mpe2/simple_spread_v3", "-n", "200", "--seed", "2",
                 "-f", str(logs), "--eval-freq", "100", "--eval-episodes", "2", "-q",
                 "--env-kwargs", "N=2", "continuous_actions=True",
                 "--hyperparams", "learning_starts=50", "batch_size=32", "train_freq=10"]) == 0
    run = logs / "maddpg" / "mpe2-simple_spread_v3_1"
    assert f"Saved to {run}" in capsys.readouterr().out
    assert (run / "mpe2-simple_spread_v3.zip").is_file() and (run / "best_model.zip").is_file()
    loaded = MADDPG.load(run / "mpe2-simple_spread_v3.zip")
    assert loaded.multiagent["agent_ids"] == ["agent_0", "agent_1"] and not loaded.multiagent["discrete"]
    assert main(["enjoy", "--algo", "maddpg", "--env", "mpe2/simple_spread_v3", "-f", str(logs), "-n", "60", "--no-render"]) == 0
    out = capsys.readouterr().out
    assert "from " + str(run / "mpe2-simple_spread_v3.zip") in out and "episodes, mean return" in out


def test_zoo_refuses_a_misspelt_scenario_or_kwarg_in_one_line(capsys) -> None:
    from zoo.cli import main

    assert main(["train", "--algo", "maddpg", "--env", "mpe2/simple_spred_v3", "-n", "10"]) == 2
    assert "did you mean mpe2/simple_spread_v3" in capsys.readouterr().err
    assert main(["train", "--algo", "maddpg", "--env", "mpe2/simple_spread_v3", "-n", "10",
                 "--env-kwargs", "local_ration=0.5"]) == 2
    err = capsys.readouterr().err
    assert "did you mean local_ratio" in err and "Traceback" not in err and err.count("\n") == 1


@pytest.mark.parametrize("continuous", [False, True])
def test_every_shipped_config_entry_builds_a_model(continuous: bool) -> None:
    from zoo.config import config_path, configured_envs, load_hyperparams, make_action_noise
    from zoo.envs.factory import create_env

    entries = configured_envs(config_path("maddpg"))
    assert {"mpe2/simple_spread_v3", "mpe2/simple_speaker_listener_v4", "mpe2/simple_adversary_v3"} <= set(entries)
    for env_id in entries:
        hp = load_hyperparams("maddpg", env_id, overrides={"buffer_size": 1000})
        env = create_env(env_id, 1, hyperparams=hp.raw, env_kwargs={"continuous_actions": continuous})
        kwargs = dict(hp.algo_kwargs)
        if hp.action_noise is not None:
            kwargs["action_noise"] = make_action_noise(hp.action_noise, int(np.prod(env.action_space.shape)))
        model = MADDPG(hp.policy, env, **kwargs)
        assert model.train_freq.frequency == 25 and model.gamma == 0.95
        env.close()
