"""HAC's networks: one deterministic actor and one bounded critic per level, in one SB3 ``BasePolicy``.

Level ``i`` sees the env's ``observation`` and its goal (the env's ``desired_goal`` at the top level, the
subgoal set by level ``i + 1`` below it) and outputs an action: a primitive action at level 0, a subgoal
for level ``i - 1`` above it. Its critic is ``Q_i(s, g, a) = -H * sigmoid(f(s, g, a))``, so every Q-value
lies in ``[-H, 0]`` (the paper bounds Q this way: a level that fails its goal for all its ``H`` actions
gets ``-H`` at most, discounted less). Inputs are scaled to ``[-1, 1]`` by the bounds of their spaces when
those are finite (the authors feed raw inputs; MountainCar's velocity, within 0.07, learns slowly then).

:class:`HACPolicy` also holds the hierarchy's bookkeeping shared by acting and training: which levels'
goals end at an observation (reached, or ``H`` actions spent) and the greedy choice of new subgoals.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.policies import BasePolicy
from stable_baselines3.common.torch_layers import create_mlp
from stable_baselines3.common.type_aliases import PyTorchObs, Schedule
from torch import nn


def goal_reached(achieved: np.ndarray, goal: np.ndarray, threshold: np.ndarray) -> bool | np.ndarray:
    """Whether every coordinate of ``achieved`` is within its ``threshold`` of ``goal`` (per dimension)."""
    return np.all(np.abs(np.asarray(achieved) - np.asarray(goal)) <= threshold, axis=-1)


class Scaler(nn.Module):
    """``(x - centre) / half_range`` for finite bounds, identity where a bound is infinite."""

    def __init__(self, low: np.ndarray, high: np.ndarray) -> None:
        super().__init__()
        low, high = np.asarray(low, dtype=np.float64), np.asarray(high, dtype=np.float64)
        finite = np.isfinite(low) & np.isfinite(high) & (high > low)
        centre = np.where(finite, (low + high) / 2, 0.0)
        half = np.where(finite, (high - low) / 2, 1.0)
        self.register_buffer("centre", th.as_tensor(centre, dtype=th.float32))
        self.register_buffer("half_range", th.as_tensor(half, dtype=th.float32))

    def forward(self, x: th.Tensor) -> th.Tensor:
        return (x - self.centre) / self.half_range


class Level(nn.Module):
    """Actor, critic, their target copies and optimizers of one level.

    :param obs_dim: size of the env's ``observation``
    :param goal_low: lower bounds of this level's goal space (``-inf`` where unbounded)
    :param goal_high: upper bounds of this level's goal space
    :param action_low: lower bounds of this level's actions (env actions or subgoals)
    :param action_high: upper bounds of this level's actions
    :param horizon: ``H``; the critic's output lies in ``[-H, 0]``
    :param net_arch: hidden layer sizes of actor and critic
    :param activation_fn: activation of the hidden layers
    :param learning_rate: Adam learning rate of actor and critic
    :param obs_low: lower bounds of the observation (for scaling)
    :param obs_high: upper bounds of the observation (for scaling)
    """

    def __init__(self, obs_dim: int, goal_low: np.ndarray, goal_high: np.ndarray, action_low: np.ndarray,
                 action_high: np.ndarray, horizon: int, net_arch: list[int], activation_fn: type[nn.Module],
                 learning_rate: float, obs_low: np.ndarray, obs_high: np.ndarray) -> None:
        super().__init__()
        goal_dim, action_dim = len(goal_low), len(action_low)
        self.horizon = horizon
        self.obs_scaler = Scaler(obs_low, obs_high)
        self.goal_scaler = Scaler(goal_low, goal_high)
        self.action_scaler = Scaler(action_low, action_high)
        self.actor = nn.Sequential(*create_mlp(obs_dim + goal_dim, action_dim, net_arch, activation_fn), nn.Tanh())
        self.critic = nn.Sequential(*create_mlp(obs_dim + goal_dim + action_dim, 1, net_arch, activation_fn))
        self.actor_target = nn.Sequential(*create_mlp(obs_dim + goal_dim, action_dim, net_arch, activation_fn), nn.Tanh())
        self.critic_target = nn.Sequential(*create_mlp(obs_dim + goal_dim + action_dim, 1, net_arch, activation_fn))
        self.actor_target.load_state_dict(self.actor.state_dict())
        self.critic_target.load_state_dict(self.critic.state_dict())
        self.actor_target.requires_grad_(False)
        self.critic_target.requires_grad_(False)
        self.actor_optimizer = th.optim.Adam(self.actor.parameters(), lr=learning_rate)
        self.critic_optimizer = th.optim.Adam(self.critic.parameters(), lr=learning_rate)

    def _inputs(self, obs: th.Tensor, goal: th.Tensor) -> th.Tensor:
        return th.cat([self.obs_scaler(obs), self.goal_scaler(goal)], dim=-1)

    def act(self, obs: th.Tensor, goal: th.Tensor, target: bool = False) -> th.Tensor:
        """The deterministic action ``pi(s, g)`` within the action bounds."""
        actor = self.actor_target if target else self.actor
        squashed = actor(self._inputs(obs, goal))
        return squashed * self.action_scaler.half_range + self.action_scaler.centre

    def q_value(self, obs: th.Tensor, goal: th.Tensor, action: th.Tensor, target: bool = False) -> th.Tensor:
        """``Q(s, g, a) = -H * sigmoid(f(s, g, a))``, in ``[-H, 0]``; shape ``(batch,)``."""
        critic = self.critic_target if target else self.critic
        logits = critic(th.cat([self._inputs(obs, goal), self.action_scaler(action)], dim=-1)).squeeze(-1)
        return -self.horizon * th.sigmoid(logits)


class HACPolicy(BasePolicy):
    """The levels of a HAC hierarchy and how they act together (see the module docstring).

    :param observation_space: the env's ``Dict`` observation space
    :param action_space: the env's ``Box`` action space
    :param lr_schedule: learning-rate schedule (its initial value is used)
    :param n_levels: number of levels ``k``
    :param subgoal_horizon: ``H``, the most actions a level takes toward one goal
    :param goal_threshold: per-dimension tolerance of the env's goal (top level)
    :param subgoal_threshold: per-dimension tolerance of subgoals (lower levels)
    :param subgoal_low: lower bounds of the subgoal space
    :param subgoal_high: upper bounds of the subgoal space
    :param subgoal_projection: ``"achieved_goal"`` (subgoals live in the goal space) or the indices of the
        ``observation`` coordinates that form a subgoal
    :param net_arch: hidden layer sizes of every actor and critic
    :param activation_fn: activation of the hidden layers
    """

    def __init__(self, observation_space: spaces.Dict, action_space: spaces.Box, lr_schedule: Schedule,
                 n_levels: int = 2, subgoal_horizon: int = 20, goal_threshold: list[float] | None = None,
                 subgoal_threshold: list[float] | None = None, subgoal_low: list[float] | None = None,
                 subgoal_high: list[float] | None = None, subgoal_projection: str | list[int] = "achieved_goal",
                 net_arch: list[int] | None = None, activation_fn: type[nn.Module] = nn.ReLU) -> None:
        super().__init__(observation_space, action_space, squash_output=True)
        assert goal_threshold is not None and subgoal_threshold is not None and subgoal_low is not None and subgoal_high is not None
        self.n_levels = n_levels
        self.subgoal_horizon = subgoal_horizon
        self.goal_threshold = np.asarray(goal_threshold, dtype=np.float32)
        self.subgoal_threshold = np.asarray(subgoal_threshold, dtype=np.float32)
        self.subgoal_low = np.asarray(subgoal_low, dtype=np.float32)
        self.subgoal_high = np.asarray(subgoal_high, dtype=np.float32)
        self.subgoal_projection = subgoal_projection
        self.net_arch = [64, 64] if net_arch is None else list(net_arch)
        self.activation_fn = activation_fn
        obs_space, goal_space = observation_space["observation"], observation_space["desired_goal"]
        env_goal_low, env_goal_high = goal_space.low, goal_space.high
        if subgoal_projection == "achieved_goal" and not np.all(np.isfinite(env_goal_low) & np.isfinite(env_goal_high)):
            env_goal_low, env_goal_high = self.subgoal_low, self.subgoal_high  # same space: scale by the subgoal bounds
        levels = []
        for level in range(n_levels):
            top = level == n_levels - 1
            levels.append(Level(
                obs_dim=int(np.prod(obs_space.shape)),
                goal_low=env_goal_low if top else self.subgoal_low, goal_high=env_goal_high if top else self.subgoal_high,
                action_low=action_space.low if level == 0 else self.subgoal_low,
                action_high=action_space.high if level == 0 else self.subgoal_high,
                horizon=subgoal_horizon, net_arch=self.net_arch, activation_fn=activation_fn,
                learning_rate=lr_schedule(1), obs_low=obs_space.low.ravel(), obs_high=obs_space.high.ravel(),
            ))
        self.levels = nn.ModuleList(levels)

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()
        data.update(n_levels=self.n_levels, subgoal_horizon=self.subgoal_horizon, goal_threshold=self.goal_threshold.tolist(),
                    subgoal_threshold=self.subgoal_threshold.tolist(), subgoal_low=self.subgoal_low.tolist(),
                    subgoal_high=self.subgoal_high.tolist(), subgoal_projection=self.subgoal_projection,
                    net_arch=self.net_arch, activation_fn=self.activation_fn)
        return data

    # ------------------------------------------------------------------ goal spaces
    def project(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        """Where ``obs`` is in the subgoal space (``achieved_goal``, or the chosen observation coordinates)."""
        if self.subgoal_projection == "achieved_goal":
            return np.asarray(obs["achieved_goal"], dtype=np.float32)
        return np.asarray(obs["observation"], dtype=np.float32).reshape(-1)[list(self.subgoal_projection)]

    def achieved(self, level: int, obs: dict[str, np.ndarray]) -> np.ndarray:
        """What ``obs`` achieves in the goal space of ``level`` (the env's ``achieved_goal`` at the top)."""
        if level == self.n_levels - 1:
            return np.asarray(obs["achieved_goal"], dtype=np.float32)
        return self.project(obs)

    def reached(self, level: int, obs: dict[str, np.ndarray], goal: np.ndarray) -> bool:
        """Whether ``obs`` reaches ``goal`` of ``level`` (per-dimension thresholds)."""
        threshold = self.goal_threshold if level == self.n_levels - 1 else self.subgoal_threshold
        return bool(goal_reached(self.achieved(level, obs), goal, threshold))

    def ending_goals(self, obs: dict[str, np.ndarray], subgoals: np.ndarray, counts: np.ndarray) -> list[tuple[int, bool, bool]]:
        """The levels whose goal ends at ``obs``, lowest first, as ``(level, reached, spent)``.

        A level's goal ends when it is reached, when a higher level's goal is reached, or when the level
        has taken ``H`` actions toward it (``spent``: ended that way, not by a reached goal). Each ended goal
        completes one action of the level above: ``counts`` (actions taken per goal, modified in place)
        grows by one there, which may spend that level's ``H`` actions in turn.

        :param obs: the current observation of one env
        :param subgoals: goal of each level below the top, shape ``(n_levels - 1, subgoal_dim)``
        :param counts: actions each of those levels has taken toward its goal
        """
        below_top = self.n_levels - 1
        reached = [self.reached(level, obs, subgoals[level]) for level in range(below_top)]
        highest = below_top - 1 if self.reached(below_top, obs, obs["desired_goal"]) else -1
        highest = max([highest] + [level for level in range(below_top) if reached[level]])
        ended = []
        for level in range(below_top):
            if level > highest and counts[level] < self.subgoal_horizon:
                break
            ended.append((level, reached[level], level > highest))
            if level + 1 < below_top:
                counts[level + 1] += 1
        return ended

    # ------------------------------------------------------------------ acting
    def level_action(self, level: int, obs: dict[str, np.ndarray], goal: np.ndarray) -> np.ndarray:
        """The greedy action of ``level`` for one env's observation and goal."""
        with th.no_grad():
            observation = th.as_tensor(np.asarray(obs["observation"], dtype=np.float32).reshape(1, -1), device=self.device)
            goal_tensor = th.as_tensor(np.asarray(goal, dtype=np.float32).reshape(1, -1), device=self.device)
            return self.levels[level].act(observation, goal_tensor)[0].cpu().numpy()

    def plan(self, obs: dict[str, np.ndarray], subgoals: np.ndarray, counts: np.ndarray, highest: int,
             choose: Any = None) -> None:
        """Set new goals for levels ``highest`` down to 0, each chosen by the level above (in place).

        :param choose: ``choose(level, obs, goal) -> action``; the greedy :meth:`level_action` by default
        """
        choose = choose or self.level_action
        for below in range(highest, -1, -1):
            above = below + 1
            goal = obs["desired_goal"] if above == self.n_levels - 1 else subgoals[above]
            subgoals[below] = choose(above, obs, goal)
            counts[below] = 0

    def predict(self, observation: dict[str, np.ndarray], state: tuple[np.ndarray, ...] | None = None,  # type: ignore[override]
                episode_start: np.ndarray | None = None, deterministic: bool = False) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
        """The env actions for a batch of observations, carrying each env's subgoals in ``state``.

        ``state`` is ``(subgoals, counts)``: the current goal of every level below the top, shape
        ``(n_envs, n_levels - 1, subgoal_dim)``, and how many actions each level has taken toward it.
        ``episode_start`` (or ``state=None``) makes the hierarchy choose all its subgoals afresh.
        ``deterministic=False`` adds Gaussian noise (std: a tenth of the half range) at every level.
        """
        obs = {key: np.asarray(value) for key, value in observation.items()}
        n_envs = obs["observation"].shape[0] if obs["observation"].ndim > 1 else 1
        batch = obs if obs["observation"].ndim > 1 else {key: value[None] for key, value in obs.items()}
        below_top, dim = self.n_levels - 1, len(self.subgoal_low)
        if state is None:
            subgoals, counts = np.zeros((n_envs, below_top, dim), np.float32), np.zeros((n_envs, below_top), np.int64)
            fresh = np.ones(n_envs, dtype=bool)
        else:
            subgoals, counts = np.array(state[0], dtype=np.float32), np.array(state[1], dtype=np.int64)
            fresh = np.zeros(n_envs, dtype=bool) if episode_start is None else np.asarray(episode_start, dtype=bool)
        choose = None if deterministic else self._noisy_action
        actions = []
        for i in range(n_envs):
            one = {key: value[i] for key, value in batch.items()}
            highest = below_top - 1 if fresh[i] else max([-1] + [level for level, _, _ in self.ending_goals(one, subgoals[i], counts[i])])
            self.plan(one, subgoals[i], counts[i], highest, choose)
            actions.append((choose or self.level_action)(0, one, subgoals[i][0] if below_top else one["desired_goal"]))
            counts[i][0] += 1
        action = np.stack(actions).astype(self.action_space.dtype)
        if obs["observation"].ndim == 1:
            action = action[0]
        return action, (subgoals, counts)

    def _noisy_action(self, level: int, obs: dict[str, np.ndarray], goal: np.ndarray) -> np.ndarray:
        low, high = (self.action_space.low, self.action_space.high) if level == 0 else (self.subgoal_low, self.subgoal_high)
        noise = np.random.normal(0.0, 0.1 * (high - low) / 2)
        return np.clip(self.level_action(level, obs, goal) + noise, low, high)

    def _predict(self, observation: PyTorchObs, deterministic: bool = False) -> th.Tensor:
        """One step of a hierarchy that chooses all its subgoals afresh (no carried state)."""
        obs = {key: value.cpu().numpy() for key, value in observation.items()}  # type: ignore[union-attr]
        action, _ = self.predict(obs, None, None, deterministic)
        return th.as_tensor(action, device=self.device)

    def forward(self, observation: PyTorchObs, deterministic: bool = False) -> th.Tensor:
        return self._predict(observation, deterministic)
