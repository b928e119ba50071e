"""One A3C worker: its own environment and local network, n-step actor-critic gradients applied to the global model.

The loop of the notes (``rl-algorithms-notes.md``, "A3C", steps per worker):

1. copy the global parameters into the local network;
2. run the local policy for up to ``n_steps`` steps (fewer when the episode ends or the global
   step budget is spent);
3. n-step returns ``R_t = r_{t+1} + gamma * R_{t+1}``, bootstrapped from ``V(s_last)`` unless the
   episode terminated (a time-limit truncation bootstraps from the final observation);
   advantages ``A_t = R_t - V(s_t)``;
4. loss ``-mean(A_t log pi(a_t|s_t)) - ent_coef * mean(H) + vf_coef * mean((R_t - V(s_t))^2)``,
   gradients on the local network, clipped, handed to the global parameters, and one step of the
   shared Adam, without a lock (Hogwild);
5. report the steps taken (and any finished episodes) to the main process.

Everything a worker receives is picklable, so the ``spawn`` start method works: the global policy
(its parameters in shared memory), the Adam state tensors (shared memory), ``multiprocessing``
values and queues, and a zero-argument environment factory.
"""

from __future__ import annotations

import copy
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.policies import ActorCriticPolicy
from torch.nn import functional as F


@dataclass
class WorkerSettings:
    """What every worker needs besides the shared objects (see :class:`agents.a3c.A3C` for the meanings).

    :param env_fn: zero-argument, picklable callable returning a fresh ``gym.Env``
    :param n_steps: steps per update at most
    :param gamma: discount factor
    :param ent_coef: entropy bonus weight
    :param vf_coef: value loss weight
    :param max_grad_norm: global norm the gradient is clipped to (``None``: no clipping)
    :param total_timesteps: global step count at which every worker stops
    :param seed: base seed (worker ``rank`` uses ``seed + rank``), or ``None``
    :param adam_kwargs: ``betas``, ``eps``, ``weight_decay``, ``amsgrad`` of the shared Adam
    """

    env_fn: Callable[[], gym.Env]
    n_steps: int
    gamma: float
    ent_coef: float
    vf_coef: float
    max_grad_norm: float | None
    total_timesteps: int
    seed: int | None
    adam_kwargs: dict[str, Any]


def claim_step(counter: Any, total_timesteps: int) -> bool:
    """Take one step from the global budget; ``False`` when it is spent (the count stays exact)."""
    with counter.get_lock():
        if counter.value >= total_timesteps:
            return False
        counter.value += 1
        return True


def n_step_returns(rewards: list[float], bootstrap: float, gamma: float) -> np.ndarray:
    """``R_t = r_{t+1} + gamma * R_{t+1}`` backwards from ``R_T = bootstrap``."""
    returns = np.zeros(len(rewards), dtype=np.float32)
    running = bootstrap
    for t in reversed(range(len(rewards))):
        running = rewards[t] + gamma * running
        returns[t] = running
    return returns


def worker_loop(
    rank: int,
    settings: WorkerSettings,
    global_policy: ActorCriticPolicy,
    optimizer_state: list[dict[str, th.Tensor]],
    counter: Any,
    learning_rate: Any,
    stop: Any,
    reports: Any,
) -> None:
    """Process entry point: train until the global budget is spent or ``stop`` is set.

    Sends ``("steps", rank, n_steps, episodes)`` after each update (``episodes``: list of
    ``(step_index, {"r", "l", "t"})`` for the episodes that ended), ``("error", rank, traceback)``
    if anything fails, and ``("done", rank)`` last.
    """
    env = None
    try:
        th.set_num_threads(1)
        th.distributions.Distribution.set_default_validate_args(False)  # this process only: saves time per step
        env = Monitor(settings.env_fn())
        seed = None if settings.seed is None else settings.seed + rank
        if seed is not None:
            th.manual_seed(seed)
            env.action_space.seed(seed)
        global_params = list(global_policy.parameters())
        optimizer = th.optim.Adam(global_params, lr=learning_rate.value, foreach=True, **settings.adam_kwargs)
        for param, state in zip(global_params, optimizer_state):
            optimizer.state[param] = state  # the shared tensors: every worker steps the same moments
        local = copy.deepcopy(global_policy)
        local.set_training_mode(True)
        local_params = list(local.parameters())
        obs, _ = env.reset(seed=seed)
        while not stop.is_set():
            with th.no_grad():  # step 1: local <- global
                th._foreach_copy_(local_params, global_params)
            observations, actions, rewards, episodes = [], [], [], []
            bootstrap_obs, terminated = None, False
            for step in range(settings.n_steps):
                if stop.is_set() or not claim_step(counter, settings.total_timesteps):
                    break
                with th.no_grad():
                    action = local(_batch_of_one(obs))[0].numpy()[0]
                env_action = action
                if isinstance(env.action_space, spaces.Box):
                    env_action = np.clip(action, env.action_space.low, env.action_space.high)
                next_obs, reward, terminated, truncated, info = env.step(env_action)
                observations.append(obs)
                actions.append(action)
                rewards.append(float(reward))
                if terminated or truncated:
                    episodes.append((step, dict(info["episode"])))
                    bootstrap_obs = None if terminated else next_obs
                    obs, _ = env.reset()
                    break
                obs = next_obs
                bootstrap_obs = obs
            if not rewards:
                break  # budget spent or told to stop
            if stop.is_set():  # told to stop mid-rollout: its steps are reported, its update is not applied
                reports.put(("steps", rank, len(rewards), episodes, {}))
                break
            losses = update(local, global_params, optimizer, observations, actions, rewards, bootstrap_obs, settings,
                            learning_rate.value)
            reports.put(("steps", rank, len(rewards), episodes, losses))
    except KeyboardInterrupt:  # Ctrl-C reaches every process of the group; the main process cleans up
        pass
    except BaseException:
        reports.put(("error", rank, traceback.format_exc()))
    finally:
        if env is not None:
            env.close()
        reports.put(("done", rank))


def _batch_of_one(obs: Any) -> th.Tensor:
    """One observation as a batch of one (the policy preprocesses it: scaling, one-hot)."""
    return th.as_tensor(np.asarray(obs)[None])


def update(
    local: ActorCriticPolicy,
    global_params: list[th.nn.Parameter],
    optimizer: th.optim.Optimizer,
    observations: list,
    actions: list,
    rewards: list[float],
    bootstrap_obs: Any,
    settings: WorkerSettings,
    lr: float,
) -> dict[str, float]:
    """Steps 3-4 of the module docstring: n-step loss on the local network, gradients to the global one.
    Returns the losses (SB3's names: ``policy_loss``, ``value_loss``, ``entropy_loss``, ``loss``)."""
    bootstrap = 0.0
    if bootstrap_obs is not None:
        with th.no_grad():
            bootstrap = float(local.predict_values(_batch_of_one(bootstrap_obs)).item())
    returns = th.as_tensor(n_step_returns(rewards, bootstrap, settings.gamma))
    obs_batch = th.as_tensor(np.stack(observations))
    action_batch = th.as_tensor(np.stack(actions))
    if isinstance(local.action_space, spaces.Discrete):
        action_batch = action_batch.long().flatten()
    values, log_prob, entropy = local.evaluate_actions(obs_batch, action_batch)
    values = values.flatten()
    advantages = returns - values.detach()
    policy_loss = -(advantages * log_prob).mean()
    entropy_loss = -entropy.mean() if entropy is not None else log_prob.mean()
    value_loss = F.mse_loss(values, returns)
    loss = policy_loss + settings.ent_coef * entropy_loss + settings.vf_coef * value_loss
    local.zero_grad(set_to_none=True)
    loss.backward()
    if settings.max_grad_norm is not None:
        th.nn.utils.clip_grad_norm_(local.parameters(), settings.max_grad_norm)
    for local_param, global_param in zip(local.parameters(), global_params):
        global_param.grad = local_param.grad
    for group in optimizer.param_groups:
        group["lr"] = lr
    optimizer.step()
    return {"policy_loss": policy_loss.item(), "value_loss": value_loss.item(), "entropy_loss": entropy_loss.item(),
            "loss": loss.item()}
