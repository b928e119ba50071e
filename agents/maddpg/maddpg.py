"""MADDPG: multi-agent deep deterministic policy gradient (Lowe et al., 2017), on SB3's off-policy loop.

Centralised training, decentralised execution, as in the notes (``rl-algorithms-notes.md``, "MADDPG"):

1. every agent ``i`` has a deterministic actor ``mu_i(o_i)`` on its own observation and a centralised critic
   ``Q_i(x, a_1..a_n)`` on the joint observation ``x`` and every agent's action, each with a target copy;
2. acting: ``a_i = mu_i(o_i) + noise`` (continuous: SB3's ``action_noise``, Gaussian by the shipped configs)
   or a sample of ``softmax(logits_i)`` by the Gumbel-max trick (discrete); the joint transition, with every
   agent's reward and termination (``info["agent_rewards"]``, ``info["agent_terminated"]`` of the
   multi-agent adapter), goes into one replay buffer;
3. critic update, all agents at once: ``y_i = r_i + gamma (1 - d_i) Q'_i(x', mu'_1(o'_1) .. mu'_n(o'_n))``,
   loss ``sum_i mean (y_i - Q_i(x, a))^2`` (each agent learns from its own reward, so cooperative,
   competitive and mixed games work alike; discrete target actions are Gumbel-softmax samples);
4. actor update, all agents at once: agent ``i``'s action in the sampled joint action is replaced by its
   current ``mu_i(o_i)`` (discrete: a straight-through Gumbel-softmax sample) and ``-sum_i mean Q_i`` is
   minimised over the actors (plus a small penalty on the pre-activation outputs, ``action_reg``, as the
   authors' code has);
5. soft updates of all target networks with ``tau``.

Steps 3 and 4 run every agent's network in one batched pass (see :mod:`agents.maddpg.policies`);
``benchmarks/maddpg.py`` times it against the per-agent loop of the notes' code. Parameters keep SB3's
off-policy names and meanings (``buffer_size``, ``learning_starts``, ``batch_size``, ``tau``, ``gamma``,
``train_freq``, ``gradient_steps``, ``action_noise``).

The env is anything :class:`agents.multiagent.adapter.MultiAgentEnv` takes (a PettingZoo parallel env, a
simultaneous-move AEC env, an lbforaging env, an ``mpe2/...`` or ``lbforaging/...`` id), or a VecEnv of
adapted envs. The agents' structure is stored in the checkpoint as plain data (``multiagent``).
"""

from __future__ import annotations

from typing import Any, ClassVar, NamedTuple, TypeVar

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.buffers import ReplayBuffer
from stable_baselines3.common.noise import ActionNoise
from stable_baselines3.common.off_policy_algorithm import OffPolicyAlgorithm
from stable_baselines3.common.policies import BasePolicy
from stable_baselines3.common.type_aliases import GymEnv, MaybeCallback, Schedule
from stable_baselines3.common.utils import polyak_update
from stable_baselines3.common.vec_env import VecEnv, VecNormalize
from torch.nn import functional as F

from agents.errors import ZooError
from agents.maddpg.policies import MADDPGPolicy, clip_grad_norm_per_member

SelfMADDPG = TypeVar("SelfMADDPG", bound="MADDPG")


class MultiAgentSamples(NamedTuple):
    """A batch of joint transitions; rewards and dones are per agent ``(B, n_agents)``."""

    observations: th.Tensor
    actions: th.Tensor
    next_observations: th.Tensor
    dones: th.Tensor
    rewards: th.Tensor


class MultiAgentReplayBuffer(ReplayBuffer):
    """SB3's replay buffer plus every agent's reward and termination, read from the adapter's ``info``.

    ``dones[i]`` is agent ``i``'s termination (an agent cut by a time limit is not terminated, so its value
    bootstraps); an agent that left earlier stays terminated, and its reward is 0.

    :param n_agents: number of agents
    (the other parameters are SB3's ``ReplayBuffer``'s)
    """

    def __init__(self, buffer_size: int, observation_space: spaces.Space, action_space: spaces.Space,
                 device: th.device | str = "auto", n_envs: int = 1, optimize_memory_usage: bool = False,
                 handle_timeout_termination: bool = True, n_agents: int = 1):
        super().__init__(buffer_size, observation_space, action_space, device=device, n_envs=n_envs,
                         optimize_memory_usage=optimize_memory_usage, handle_timeout_termination=handle_timeout_termination)
        self.n_agents = n_agents
        self.agent_rewards = np.zeros((self.buffer_size, self.n_envs, n_agents), dtype=np.float32)
        self.agent_dones = np.zeros((self.buffer_size, self.n_envs, n_agents), dtype=np.float32)

    def add(self, obs: np.ndarray, next_obs: np.ndarray, action: np.ndarray, reward: np.ndarray,
            done: np.ndarray, infos: list[dict[str, Any]]) -> None:
        try:
            self.agent_rewards[self.pos] = np.stack([info["agent_rewards"] for info in infos])
            self.agent_dones[self.pos] = np.stack([info["agent_terminated"] for info in infos])
        except KeyError:
            raise ZooError("MADDPG's replay buffer needs info['agent_rewards'] and info['agent_terminated']: "
                           "train on an env made by agents.multiagent.adapter.MultiAgentEnv") from None
        super().add(obs, next_obs, action, reward, done, infos)

    def _get_samples(self, batch_inds: np.ndarray, env: VecNormalize | None = None) -> MultiAgentSamples:  # type: ignore[override]
        env_indices = np.random.randint(0, high=self.n_envs, size=(len(batch_inds),))
        if self.optimize_memory_usage:
            next_obs = self.observations[(batch_inds + 1) % self.buffer_size, env_indices, :]
        else:
            next_obs = self.next_observations[batch_inds, env_indices, :]
        data = (
            self._normalize_obs(self.observations[batch_inds, env_indices, :], env),
            self.actions[batch_inds, env_indices, :],
            self._normalize_obs(next_obs, env),
            self.agent_dones[batch_inds, env_indices],
            self.agent_rewards[batch_inds, env_indices],
        )
        return MultiAgentSamples(*tuple(map(self.to_torch, data)))


def _wrap_multiagent_env(env: Any) -> Any:
    """A PettingZoo / lbforaging env (or an mpe2/... id) as the adapter's gymnasium env; other envs unchanged."""
    from agents.multiagent.adapter import as_multiagent_env
    from agents.multiagent.envs import make_multiagent

    if isinstance(env, str):
        import gymnasium as gym

        if env not in gym.registry:
            return make_multiagent(env)
        return env
    if isinstance(env, VecEnv):
        return env
    return as_multiagent_env(env, algo="MADDPG")


class MADDPG(OffPolicyAlgorithm):
    """Multi-agent DDPG with centralised critics (see the module docstring for the algorithm).

    :param policy: ``"MlpPolicy"`` (or :class:`~agents.maddpg.policies.MADDPGPolicy`)
    :param env: a PettingZoo parallel env, a simultaneous-move AEC env, an lbforaging env, an ``mpe2/...``
        or ``lbforaging/...`` id, or a VecEnv of envs made by the multi-agent adapter
    :param learning_rate: learning rate of actors and critics (Adam), a float or a schedule
    :param buffer_size: size of the replay buffer (joint transitions)
    :param learning_starts: env steps of uniformly random actions before learning starts
    :param batch_size: minibatch size of each gradient step
    :param tau: soft-update coefficient of the target networks
    :param gamma: discount factor
    :param train_freq: update the networks every ``train_freq`` steps, or ``(n, "episode")``
    :param gradient_steps: gradient steps after each rollout (-1: as many as env steps collected)
    :param action_noise: exploration noise added to continuous actions (SB3's ``ActionNoise``; ``None``:
        none). Discrete actions explore by sampling their softmax and ignore it, as SB3 does
    :param replay_buffer_class: replay buffer class (``None``: :class:`MultiAgentReplayBuffer`)
    :param replay_buffer_kwargs: its extra arguments
    :param optimize_memory_usage: SB3's memory-efficient replay buffer
    :param max_grad_norm: clip each agent's actor and critic gradients to this norm (``None``: no clipping;
        0.5 as in the authors' code)
    :param action_reg: weight of the penalty on the actors' pre-activation outputs (squared mean)
    :param gumbel_temperature: temperature of the Gumbel-softmax of discrete actions
    :param multiagent: the agents' structure (:class:`~agents.multiagent.adapter.MultiAgentSpec` as a dict);
        read from the env when there is one, needed only to build the networks without an env (loading)
    :param policy_kwargs: extra arguments of the policy (``net_arch``, ``activation_fn``,
        ``share_parameters``: one actor and one critic with an agent-id input for all agents)
    :param stats_window_size: episodes averaged in the logged statistics
    :param tensorboard_log: folder for TensorBoard logs
    :param verbose: 0 silent, 1 training statistics, 2 debug
    :param seed: random seed
    :param device: torch device
    :param _init_setup_model: build the networks at construction (``False`` when loading)
    """

    policy_aliases: ClassVar[dict[str, type[BasePolicy]]] = {"MlpPolicy": MADDPGPolicy}
    policy: MADDPGPolicy

    def __init__(
        self,
        policy: str | type[MADDPGPolicy],
        env: GymEnv | str | Any,
        learning_rate: float | Schedule = 1e-2,
        buffer_size: int = 1_000_000,
        learning_starts: int = 1024,
        batch_size: int = 1024,
        tau: float = 0.01,
        gamma: float = 0.95,
        train_freq: int | tuple[int, str] = 100,
        gradient_steps: int = 1,
        action_noise: ActionNoise | None = None,
        replay_buffer_class: type[ReplayBuffer] | None = None,
        replay_buffer_kwargs: dict[str, Any] | None = None,
        optimize_memory_usage: bool = False,
        max_grad_norm: float | None = 0.5,
        action_reg: float = 1e-3,
        gumbel_temperature: float = 1.0,
        multiagent: dict[str, Any] | None = None,
        policy_kwargs: dict[str, Any] | None = None,
        stats_window_size: int = 100,
        tensorboard_log: str | None = None,
        verbose: int = 0,
        seed: int | None = None,
        device: th.device | str = "auto",
        _init_setup_model: bool = True,
    ):
        if env is not None:
            env = _wrap_multiagent_env(env)
        super().__init__(
            policy, env, learning_rate, buffer_size=buffer_size, learning_starts=learning_starts,
            batch_size=batch_size, tau=tau, gamma=gamma, train_freq=train_freq, gradient_steps=gradient_steps,
            action_noise=action_noise, replay_buffer_class=replay_buffer_class,
            replay_buffer_kwargs=replay_buffer_kwargs, optimize_memory_usage=optimize_memory_usage,
            policy_kwargs=policy_kwargs, stats_window_size=stats_window_size, tensorboard_log=tensorboard_log,
            verbose=verbose, device=device, seed=seed, sde_support=False, support_multi_env=True,
            supported_action_spaces=(spaces.Box, spaces.MultiDiscrete),
        )
        if max_grad_norm is not None and max_grad_norm <= 0:
            raise ValueError(f"max_grad_norm must be positive or None, got {max_grad_norm}")
        self.max_grad_norm = max_grad_norm
        self.action_reg = action_reg
        self.gumbel_temperature = gumbel_temperature
        #: the agents' structure (MultiAgentSpec as a dict): plain data, saved in the checkpoint
        self.multiagent: dict[str, Any] | None = self._read_multiagent(self.env) if self.env is not None else multiagent
        if _init_setup_model:
            self._setup_model()

    @staticmethod
    def _wrap_env(env: GymEnv, verbose: int = 0, monitor_wrapper: bool = True) -> VecEnv:
        return OffPolicyAlgorithm._wrap_env(_wrap_multiagent_env(env), verbose, monitor_wrapper)

    @staticmethod
    def _read_multiagent(env: VecEnv) -> dict[str, Any]:
        try:
            spec = env.get_attr("multiagent_spec", indices=[0])[0]
        except AttributeError:
            raise ZooError("MADDPG needs a multi-agent env: a PettingZoo parallel env, an lbforaging env, or an "
                           "mpe2/... or lbforaging/... id (its agents' observations, actions and rewards)") from None
        return spec.to_dict()

    def _setup_model(self) -> None:
        if self.multiagent is None:
            raise ZooError("MADDPG has no multi-agent env to build its networks for")
        if isinstance(self.action_space, spaces.Box) and not (
            np.all(self.action_space.low == -1.0) and np.all(self.action_space.high == 1.0)
        ):
            raise ZooError("MADDPG needs bounded continuous actions (the adapter maps finite bounds to [-1, 1]); "
                           f"{self.multiagent['name']} has unbounded ones")
        if self.replay_buffer_class is None:
            self.replay_buffer_class = MultiAgentReplayBuffer
        # the structure goes to the buffer and the policy, but is saved once, on its own, as plain data
        user_buffer_kwargs, user_policy_kwargs = self.replay_buffer_kwargs, self.policy_kwargs
        self.replay_buffer_kwargs = {"n_agents": len(self.multiagent["agent_ids"]), **user_buffer_kwargs}
        self.policy_kwargs = {"multiagent": self.multiagent, **user_policy_kwargs}
        try:
            super()._setup_model()
        finally:
            self.replay_buffer_kwargs, self.policy_kwargs = user_buffer_kwargs, user_policy_kwargs
        self.actor, self.critic = self.policy.actor, self.policy.critic
        self.actor_target, self.critic_target = self.policy.actor_target, self.policy.critic_target

    # ------------------------------------------------------------------ one gradient step
    def train(self, gradient_steps: int, batch_size: int = 100) -> None:
        self.policy.set_training_mode(True)
        self._update_learning_rate([self.actor.optimizer, self.critic.optimizer])
        policy = self.policy
        critic_losses, actor_losses = [], []
        for _ in range(gradient_steps):
            data = self.replay_buffer.sample(batch_size, env=self._vec_normalize_env)  # type: ignore[union-attr]
            joint_actions = policy.one_hot(data.actions) if policy.discrete else data.actions

            # critics: y_i = r_i + gamma (1 - d_i) Q'_i(x', mu'_1(o'_1), ..., mu'_n(o'_n)), all agents at once
            with th.no_grad():
                next_out = policy.actor_output(data.next_observations, target=True)
                if policy.discrete:
                    next_out = F.gumbel_softmax(next_out, tau=self.gumbel_temperature, hard=True, dim=2)
                next_q = policy.critic_values(data.next_observations, policy.joint_action(next_out), target=True)
                targets = data.rewards + self.gamma * (1.0 - data.dones) * next_q
            q = policy.critic_values(data.observations, joint_actions)
            critic_loss = F.mse_loss(q, targets, reduction="none").mean(dim=0).sum()
            self.critic.optimizer.zero_grad()
            critic_loss.backward()
            if self.max_grad_norm is not None:
                clip_grad_norm_per_member(self.critic, self.max_grad_norm)
            self.critic.optimizer.step()

            # actors: agent i's own action replaced by mu_i(o_i), the others' from the buffer; maximise Q_i
            raw = self.actor(policy.agent_obs(data.observations))
            if policy.discrete:
                logits = raw.masked_fill(~policy.valid_actions, float("-inf"))
                own = F.gumbel_softmax(logits, tau=self.gumbel_temperature, hard=True, dim=2)
                penalty = raw.masked_select(policy.valid_actions.expand_as(raw)).pow(2).mean()
            else:
                own = th.tanh(raw)
                penalty = raw.pow(2).mean()
            mixed = th.where(policy.own_slot, policy.joint_action(own).unsqueeze(0), joint_actions.unsqueeze(0))
            self.critic.requires_grad_(False)  # the actor loss differentiates through the critics, not into them
            actor_loss = -policy.critic_values(data.observations, mixed).mean(dim=0).sum() + self.action_reg * penalty
            self.actor.optimizer.zero_grad()
            actor_loss.backward()
            self.critic.requires_grad_(True)
            if self.max_grad_norm is not None:
                clip_grad_norm_per_member(self.actor, self.max_grad_norm)
            self.actor.optimizer.step()

            polyak_update(self.critic.parameters(), self.critic_target.parameters(), self.tau)
            polyak_update(self.actor.parameters(), self.actor_target.parameters(), self.tau)
            critic_losses.append(critic_loss.item())
            actor_losses.append(actor_loss.item())
        self._n_updates += gradient_steps
        self.logger.record("train/n_updates", self._n_updates, exclude="tensorboard")
        self.logger.record("train/critic_loss", float(np.mean(critic_losses)))
        self.logger.record("train/actor_loss", float(np.mean(actor_losses)))

    def learn(self: SelfMADDPG, total_timesteps: int, callback: MaybeCallback = None, log_interval: int = 4,
              tb_log_name: str = "MADDPG", reset_num_timesteps: bool = True, progress_bar: bool = False) -> SelfMADDPG:
        return super().learn(total_timesteps=total_timesteps, callback=callback, log_interval=log_interval,
                             tb_log_name=tb_log_name, reset_num_timesteps=reset_num_timesteps, progress_bar=progress_bar)

    # ------------------------------------------------------------------ saving
    def _excluded_save_params(self) -> list[str]:
        return [*super()._excluded_save_params(), "actor", "critic", "actor_target", "critic_target"]

    def _get_torch_save_params(self) -> tuple[list[str], list[str]]:
        return ["policy", "actor.optimizer", "critic.optimizer"], []

    # ------------------------------------------------------------------ evaluation hook
    def evaluation_figures(self, request: Any) -> dict[str, Any]:
        """The team return (``mean_reward``: the sum of the agents' rewards), then each agent's return, mean ± std."""
        from agents.common.evaluation import run_episodes, summarise

        episodes = run_episodes(self, request)
        figures = summarise(episodes, request)
        agents = (self.multiagent or {}).get("agent_ids", [])
        per_episode = np.array([np.sum([info["agent_rewards"] for info in infos], axis=0) for infos in episodes.infos])
        for i, agent in enumerate(agents):
            figures[f"{agent}/mean_reward"] = float(per_episode[:, i].mean())
            figures[f"{agent}/std_reward"] = float(per_episode[:, i].std())
        return figures

