"""REINFORCE: Monte-Carlo policy gradient over whole episodes (Williams, 1992).

The update of the notes (``rl-algorithms-notes.md``, "REINFORCE"), batched over episodes:

1. run the current policy until every environment has finished its share of the batch: the first
   ``ceil(min_episodes / n_envs)`` episodes of each environment, all environments reset when a batch starts
   (so every episode is sampled by one policy). The batch is a fixed number of complete episodes chosen by
   count, never by length: a fast environment's extra episodes and the slow ones' unfinished ones are not
   taken, so short episodes are not favoured;
2. for each finished episode compute the discounted returns ``G_t = r_{t+1} + gamma * G_{t+1}``
   (an episode cut by a time limit is treated as ended: a Monte-Carlo return does not bootstrap);
3. weights ``A_t = G_t`` or, with the learned baseline, ``A_t = G_t - V(s_t)``; standardised over the
   batch (zero mean, unit std) when ``standardize_returns`` (on by default, as the notes recommend);
4. loss ``L = -(1 / n_episodes) * sum_t A_t log pi(a_t | s_t) - ent_coef * mean_t H(pi(.|s_t))
   + vf_coef * mean_t (G_t - V(s_t))^2`` (the value term only with the baseline), one gradient step.

Policies are Stable-Baselines3's actor-critic policies (``MlpPolicy``, ``CnnPolicy``,
``MultiInputPolicy``); their value head is trained and used only when ``baseline=True``.
"""

from __future__ import annotations

from typing import Any, ClassVar, TypeVar

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.policies import ActorCriticCnnPolicy, ActorCriticPolicy, BasePolicy, MultiInputActorCriticPolicy
from stable_baselines3.common.type_aliases import GymEnv, MaybeCallback, Schedule
from stable_baselines3.common.utils import obs_as_tensor
from stable_baselines3.common.vec_env import VecEnv
from torch.nn import functional as F

from agents.common.logging import dump_logs

SelfREINFORCE = TypeVar("SelfREINFORCE", bound="REINFORCE")


def discounted_returns(rewards: np.ndarray, gamma: float) -> np.ndarray:
    """Returns-to-go of one episode: ``G_t = sum_{k >= t} gamma^(k - t) r_{k+1}`` (backward loop of the notes).

    :param rewards: rewards ``r_1 .. r_T`` of one episode, in order
    :param gamma: discount factor
    :return: array of ``G_0 .. G_{T-1}`` (float32)
    """
    returns = np.zeros(len(rewards), dtype=np.float32)
    running = 0.0
    for t in reversed(range(len(rewards))):
        running = float(rewards[t]) + gamma * running
        returns[t] = running
    return returns


def standardize(values: th.Tensor, eps: float = 1e-8) -> th.Tensor:
    """``(x - mean) / (std + eps)``; a single value (no spread to measure) is only centred."""
    if values.numel() < 2:
        return values - values.mean()
    return (values - values.mean()) / (values.std() + eps)


class REINFORCE(BaseAlgorithm):
    """Monte-Carlo policy gradient (REINFORCE) with optional learned baseline and entropy bonus.

    :param policy: policy class or name (``"MlpPolicy"``, ``"CnnPolicy"``, ``"MultiInputPolicy"``)
    :param env: environment, or its gymnasium id
    :param learning_rate: learning rate of the policy's optimizer (Adam), a float or a schedule of the
        remaining progress (1 -> 0)
    :param gamma: discount factor
    :param standardize_returns: standardise the policy-gradient weights (returns, or returns minus
        baseline) over each batch to zero mean and unit standard deviation
    :param baseline: learn a state-value baseline ``V(s)`` with the policy's value head and use
        ``G_t - V(s_t)`` as weights
    :param ent_coef: weight of the entropy bonus in the loss
    :param vf_coef: weight of the value (baseline) loss in the loss
    :param max_grad_norm: clip the gradient to this global norm (``None``: no clipping)
    :param min_episodes: episodes per update at least: each environment contributes its first
        ``ceil(min_episodes / n_envs)`` episodes (``None``: one per environment)
    :param stats_window_size: number of episodes averaged in the logged episode statistics
    :param tensorboard_log: folder for TensorBoard logs (``None``: no logging)
    :param policy_kwargs: extra arguments for the policy (e.g. ``net_arch``, ``activation_fn``)
    :param verbose: 0 silent, 1 training statistics, 2 debug
    :param seed: random seed of the policy, the action sampling and the environments
    :param device: torch device (``"cpu"``, ``"cuda"``, ``"auto"``)
    :param _init_setup_model: build the network at construction (``False`` when loading)
    """

    policy_aliases: ClassVar[dict[str, type[BasePolicy]]] = {
        "MlpPolicy": ActorCriticPolicy,
        "CnnPolicy": ActorCriticCnnPolicy,
        "MultiInputPolicy": MultiInputActorCriticPolicy,
    }
    policy: ActorCriticPolicy

    def __init__(
        self,
        policy: str | type[ActorCriticPolicy],
        env: GymEnv | str,
        learning_rate: float | Schedule = 1e-2,
        gamma: float = 0.99,
        standardize_returns: bool = True,
        baseline: bool = False,
        ent_coef: float = 0.0,
        vf_coef: float = 0.5,
        max_grad_norm: float | None = None,
        min_episodes: int | None = None,
        stats_window_size: int = 100,
        tensorboard_log: str | None = None,
        policy_kwargs: dict[str, Any] | None = None,
        verbose: int = 0,
        seed: int | None = None,
        device: th.device | str = "auto",
        _init_setup_model: bool = True,
    ) -> None:
        super().__init__(
            policy,
            env,
            learning_rate=learning_rate,
            policy_kwargs=policy_kwargs,
            stats_window_size=stats_window_size,
            tensorboard_log=tensorboard_log,
            verbose=verbose,
            device=device,
            support_multi_env=True,
            seed=seed,
            supported_action_spaces=(spaces.Box, spaces.Discrete, spaces.MultiDiscrete, spaces.MultiBinary),
        )
        if not 0.0 <= gamma <= 1.0:
            raise ValueError(f"gamma must be in [0, 1], got {gamma}")
        if min_episodes is not None and min_episodes < 1:
            raise ValueError(f"min_episodes must be at least 1, got {min_episodes}")
        self.gamma = gamma
        self.standardize_returns = standardize_returns
        self.baseline = baseline
        self.ent_coef = ent_coef
        self.vf_coef = vf_coef
        self.max_grad_norm = max_grad_norm
        self.min_episodes = min_episodes
        if _init_setup_model:
            self._setup_model()

    def _setup_model(self) -> None:
        self._setup_lr_schedule()
        self.set_random_seed(self.seed)
        self.policy = self.policy_class(self.observation_space, self.action_space, self.lr_schedule, **self.policy_kwargs)
        self.policy = self.policy.to(self.device)

    # ------------------------------------------------------------------ collecting episodes
    def collect_episodes(self, env: VecEnv, callback: BaseCallback) -> list[dict[str, np.ndarray]] | None:
        """Run the current policy until the batch is complete (see the class docstring).

        :return: the finished episodes as dicts of ``observations``, ``actions`` and ``rewards``,
            or ``None`` when a callback asked to stop training
        """
        assert self._last_obs is not None
        if not np.all(self._last_episode_starts):  # an episode is under way: start every env afresh
            self._last_obs = env.reset()
            self._last_episode_starts = np.ones((env.num_envs,), dtype=bool)
        per_env = -(-max(self.min_episodes or env.num_envs, 1) // env.num_envs)  # ceil: each env's share
        ongoing: list[dict[str, list]] = [{"observations": [], "actions": [], "rewards": []} for _ in range(env.num_envs)]
        finished: list[dict[str, np.ndarray]] = []
        n_finished = np.zeros(env.num_envs, dtype=np.int64)
        self.policy.set_training_mode(False)
        callback.on_rollout_start()
        while (n_finished < per_env).any():
            with th.no_grad():
                actions, _, _ = self.policy(obs_as_tensor(self._last_obs, self.device))
            actions = actions.cpu().numpy()
            env_actions = actions
            if isinstance(self.action_space, spaces.Box):  # the Gaussian's sample is learned from, the env gets it clipped
                env_actions = np.clip(actions, self.action_space.low, self.action_space.high)
            new_obs, rewards, dones, infos = env.step(env_actions)
            self.num_timesteps += env.num_envs
            callback.update_locals(locals())
            if not callback.on_step():
                return None
            self._update_info_buffer(infos, dones)
            for i in range(env.num_envs):
                if n_finished[i] >= per_env:
                    continue  # this env's share is complete: its further steps are not part of the batch
                record = ongoing[i]
                record["observations"].append(_index_obs(self._last_obs, i))
                record["actions"].append(actions[i])
                record["rewards"].append(rewards[i])
                if dones[i]:
                    finished.append({key: _stack(value) for key, value in record.items()})
                    ongoing[i] = {"observations": [], "actions": [], "rewards": []}
                    n_finished[i] += 1
            self._last_obs = new_obs  # type: ignore[assignment]
            self._last_episode_starts = dones
        callback.update_locals(locals())
        callback.on_rollout_end()
        return finished

    # ------------------------------------------------------------------ the update
    def compute_loss(self, episodes: list[dict[str, np.ndarray]]) -> dict[str, th.Tensor]:
        """Loss of one batch of finished episodes (step 2-4 of the class docstring).

        :return: ``loss`` (to minimise) and its parts ``policy_loss``, ``entropy_loss``, ``value_loss``,
            plus the ``returns`` and the ``weights`` used
        """
        returns = th.as_tensor(np.concatenate([discounted_returns(ep["rewards"], self.gamma) for ep in episodes]), device=self.device)
        observations = _concat_obs([ep["observations"] for ep in episodes])
        actions = th.as_tensor(np.concatenate([ep["actions"] for ep in episodes]), device=self.device)
        if isinstance(self.action_space, spaces.Discrete):
            actions = actions.long().flatten()
        values, log_prob, entropy = self.policy.evaluate_actions(obs_as_tensor(observations, self.device), actions)
        values = values.flatten()
        weights = returns - values.detach() if self.baseline else returns
        if self.standardize_returns:
            weights = standardize(weights)
        policy_loss = -(weights * log_prob).sum() / len(episodes)
        entropy_loss = -th.mean(entropy) if entropy is not None else -th.mean(-log_prob)
        value_loss = F.mse_loss(values, returns) if self.baseline else th.zeros((), device=self.device)
        loss = policy_loss + self.ent_coef * entropy_loss + self.vf_coef * value_loss
        return {
            "loss": loss,
            "policy_loss": policy_loss,
            "entropy_loss": entropy_loss,
            "value_loss": value_loss,
            "returns": returns,
            "weights": weights,
        }

    def train(self, episodes: list[dict[str, np.ndarray]]) -> None:
        """One gradient step on the loss of ``episodes``."""
        self.policy.set_training_mode(True)
        self._update_learning_rate(self.policy.optimizer)
        losses = self.compute_loss(episodes)
        self.policy.optimizer.zero_grad()
        losses["loss"].backward()
        if self.max_grad_norm is not None:
            th.nn.utils.clip_grad_norm_(self.policy.parameters(), self.max_grad_norm)
        self.policy.optimizer.step()
        self._n_updates += 1
        self.logger.record("train/n_updates", self._n_updates, exclude="tensorboard")
        self.logger.record("train/episodes_per_update", len(episodes))
        for key in ("loss", "policy_loss", "entropy_loss", "value_loss"):
            self.logger.record(f"train/{key}", losses[key].item())

    def learn(
        self: SelfREINFORCE,
        total_timesteps: int,
        callback: MaybeCallback = None,
        log_interval: int = 10,
        tb_log_name: str = "REINFORCE",
        reset_num_timesteps: bool = True,
        progress_bar: bool = False,
    ) -> SelfREINFORCE:
        """Train until ``total_timesteps`` environment steps (the last batch of episodes is finished first).

        :param total_timesteps: environment steps to train for (counted over all environments)
        :param callback: SB3 callback(s) called at every environment step
        :param log_interval: log every this many updates (``None``: never)
        :param tb_log_name: name of the TensorBoard run
        :param reset_num_timesteps: start the step count from zero
        :param progress_bar: show a progress bar
        """
        total_timesteps, callback = self._setup_learn(total_timesteps, callback, reset_num_timesteps, tb_log_name, progress_bar)
        callback.on_training_start(locals(), globals())
        assert self.env is not None
        iteration = 0
        while self.num_timesteps < total_timesteps:
            episodes = self.collect_episodes(self.env, callback)
            if episodes is None:
                break
            iteration += 1
            self._episode_num += len(episodes)
            self._update_current_progress_remaining(self.num_timesteps, total_timesteps)
            if log_interval is not None and iteration % log_interval == 0:
                self.dump_logs(iteration)
            self.train(episodes)
        callback.on_training_end()
        return self

    def dump_logs(self, iteration: int = 0) -> None:
        """Write the episode statistics and counters to the logger (SB3's keys, :mod:`agents.common.logging`)."""
        self.logger.record("time/episodes", self._episode_num, exclude="tensorboard")
        dump_logs(self, iteration)

    def _get_torch_save_params(self) -> tuple[list[str], list[str]]:
        return ["policy", "policy.optimizer"], []


def _index_obs(obs: np.ndarray | dict[str, np.ndarray], i: int) -> np.ndarray | dict[str, np.ndarray]:
    if isinstance(obs, dict):
        return {key: value[i] for key, value in obs.items()}
    return obs[i]


def _stack(items: list) -> np.ndarray | dict[str, np.ndarray]:
    if items and isinstance(items[0], dict):
        return {key: np.stack([item[key] for item in items]) for key in items[0]}
    return np.stack(items)


def _concat_obs(parts: list) -> np.ndarray | dict[str, np.ndarray]:
    if parts and isinstance(parts[0], dict):
        return {key: np.concatenate([part[key] for part in parts]) for key in parts[0]}
    return np.concatenate(parts)
