"""HAC: Hierarchical Actor-Critic (Levy, Konidaris, Platt and Saenko, "Learning Multi-Level Hierarchies with
Hindsight", ICLR 2019), on goal-conditioned envs (the ``observation`` / ``achieved_goal`` / ``desired_goal``
Dict convention of SB3's ``HerReplayBuffer`` and gymnasium-robotics).

``k`` levels, each a DDPG-style actor-critic (:mod:`agents.hac.policies`). The top level's goal is the env's
``desired_goal``; each level above 0 acts by setting a subgoal for the level below, which then has at
most ``H`` actions to reach it; level 0 acts in the env. One episode, as in the paper's Algorithm 2:

1. every level whose goal just ended (reached, a higher goal reached, or ``H`` actions spent), lowest
   first, finishes one action of the level above; the levels that need a goal get one, top-down, from the
   level above: its actor's action plus Gaussian noise (``exploration_noise`` of the half range), or a
   uniformly random one with probability ``random_action_prob``;
2. **subgoal testing**: each new subgoal is tested with probability ``subgoal_testing_rate`` (λ), and so
   is every subgoal set under a tested one; the levels below a tested subgoal act without noise;
3. level 0 acts in the env (one SB3 callback step per env step);
4. each finished action of level ``i`` is stored in level ``i``'s replay buffer as a hindsight action
   transition, plus a ``-H`` penalty when it was a tested subgoal missed in ``H`` actions; when a level's
   run toward one goal ends, its actions get hindsight goal transitions (:mod:`agents.hac.hindsight`);
5. when the episode ends, every level makes ``gradient_steps`` DDPG updates on its own buffer, with
   targets ``r + gamma * Q'(s', g, pi'(s', g))`` (no bootstrap when done) clipped to ``[-H, 0]``.

**Subgoal spaces.** By default subgoals live in the goal space (``subgoal_projection="achieved_goal"``):
a state reaches a subgoal when its ``achieved_goal`` is within ``subgoal_threshold`` of it. When the goal
says too little to steer by, pick the observation coordinates subgoals are made of: on
``GoalMountainCarContinuous-v0`` the goal is the car's position only, but reaching the flag needs speed,
so the subgoals are (position, velocity)::

    HAC("MultiInputPolicy", "GoalMountainCarContinuous-v0", subgoal_projection=[0, 1],
        subgoal_bounds=([-1.2, -0.07], [0.6, 0.07]), subgoal_threshold=[0.05, 0.01])

Where this differs from the paper and the authors' code (and from the notes' sketch, whose intrinsic
reward and relabelling at sampling time are not the paper's):

- the top level is not limited to ``H`` actions: the episode ends when the env ends it (its time limit),
  so every episode is one env episode, as SB3's ``Monitor`` counts them;
- a level's actions end when a higher level's goal is reached too, and then without a testing penalty
  (the authors do the same); an action cut by the end of the episode is stored without penalty;
- target networks (Polyak ``tau``) as in DDPG; the authors' own code trains without them;
- inputs are scaled by their spaces' bounds where finite (the authors feed raw inputs), and the critic's
  sigmoid starts unbiased (the authors shift it so that Q starts near 0);
- the projection is a choice of observation coordinates, not a function, so that a saved agent needs no
  pickled code to load.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.type_aliases import GymEnv, MaybeCallback, Schedule
from stable_baselines3.common.utils import polyak_update, safe_mean
from torch.nn import functional as F

from agents.errors import ZooError
from agents.hac.hindsight import Attempt, LevelReplayBuffer, action_transitions, goal_transitions
from agents.hac.policies import HACPolicy

SelfHAC = TypeVar("SelfHAC", bound="HAC")

GOAL_KEYS = ("observation", "achieved_goal", "desired_goal")


@dataclass
class _Pending:
    """An action of a level above 0 under way: the subgoal it set and where it was set."""

    obs: dict[str, np.ndarray]
    goal: np.ndarray
    action: np.ndarray
    tested: bool


class HACReplay:
    """The replay buffers of all levels, lowest first (``model.replay_buffer``; saved with checkpoints)."""

    def __init__(self, levels: list[LevelReplayBuffer]) -> None:
        self.levels = levels

    def __len__(self) -> int:
        return sum(len(level) for level in self.levels)


class HAC(BaseAlgorithm):
    """Hierarchical Actor-Critic on goal-conditioned envs (see the module docstring).

    :param policy: ``"MultiInputPolicy"`` (or :class:`HACPolicy`)
    :param env: a goal-conditioned env (Dict observation with ``observation``, ``achieved_goal``,
        ``desired_goal``), or its gymnasium id
    :param n_levels: number of levels ``k`` (at least 2)
    :param subgoal_horizon: ``H``, the most actions a level takes toward one goal; also the penalty of a
        missed tested subgoal and the bound of every Q-value (``[-H, 0]``)
    :param subgoal_testing_rate: λ, the probability that a new subgoal is tested
    :param goal_threshold: per-dimension tolerance of the env's goal, a number or one per goal coordinate
        (``None``: the env's ``goal_threshold`` attribute, which the zoo's goal envs have)
    :param subgoal_threshold: per-dimension tolerance of subgoals (``None``: ``goal_threshold``, when
        subgoals live in the goal space)
    :param subgoal_bounds: ``(low, high)`` of the subgoal space, one number per subgoal coordinate each
        (``None``: the bounds of the goal space, or of the chosen observation coordinates, when finite)
    :param subgoal_projection: ``"achieved_goal"`` (subgoals are goals) or the indices of the
        ``observation`` coordinates a subgoal is made of
    :param learning_rate: Adam learning rate of every actor and critic
    :param buffer_size: transitions kept per level
    :param batch_size: minibatch size of each update
    :param gradient_steps: updates per level after each episode
    :param gamma: discount factor
    :param tau: Polyak coefficient of the target networks (1: copy)
    :param exploration_noise: std of the Gaussian action noise, as a fraction of each dimension's half range
    :param random_action_prob: probability of a uniformly random action instead of the noisy one
    :param n_hindsight_goals: hindsight goals per action (the run's last achieved goal and future ones)
    :param learning_starts: env steps before the first update
    :param stats_window_size: episodes averaged in the logged episode statistics
    :param tensorboard_log: folder for TensorBoard logs (``None``: no logging)
    :param policy_kwargs: extra arguments for the policy (``net_arch``, ``activation_fn``)
    :param verbose: 0 silent, 1 training statistics
    :param seed: random seed
    :param device: torch device
    :param _init_setup_model: build the networks at construction (``False`` when loading)
    """

    policy_aliases: ClassVar[dict[str, type[HACPolicy]]] = {"MultiInputPolicy": HACPolicy}
    policy: HACPolicy

    def __init__(
        self,
        policy: str | type[HACPolicy],
        env: GymEnv | str,
        n_levels: int = 2,
        subgoal_horizon: int = 20,
        subgoal_testing_rate: float = 0.3,
        goal_threshold: float | list[float] | None = None,
        subgoal_threshold: float | list[float] | None = None,
        subgoal_bounds: tuple[list[float], list[float]] | None = None,
        subgoal_projection: str | list[int] = "achieved_goal",
        learning_rate: float | Schedule = 1e-3,
        buffer_size: int = 200_000,
        batch_size: int = 128,
        gradient_steps: int = 40,
        gamma: float = 0.98,
        tau: float = 0.05,
        exploration_noise: float = 0.1,
        random_action_prob: float = 0.2,
        n_hindsight_goals: int = 3,
        learning_starts: int = 0,
        stats_window_size: int = 100,
        tensorboard_log: str | None = None,
        policy_kwargs: dict[str, Any] | None = None,
        verbose: int = 0,
        seed: int | None = None,
        device: th.device | str = "auto",
        _init_setup_model: bool = True,
    ) -> None:
        super().__init__(policy, env, learning_rate=learning_rate, policy_kwargs=policy_kwargs,
                         stats_window_size=stats_window_size, tensorboard_log=tensorboard_log, verbose=verbose,
                         device=device, support_multi_env=False, seed=seed, supported_action_spaces=(spaces.Box,))
        if n_levels < 2:
            raise ValueError(f"n_levels must be at least 2 (one level is DDPG with HER), got {n_levels}")
        if subgoal_horizon < 1:
            raise ValueError(f"subgoal_horizon must be at least 1, got {subgoal_horizon}")
        if not 0.0 <= subgoal_testing_rate <= 1.0:
            raise ValueError(f"subgoal_testing_rate must be in [0, 1], got {subgoal_testing_rate}")
        self.n_levels = n_levels
        self.subgoal_horizon = subgoal_horizon
        self.subgoal_testing_rate = subgoal_testing_rate
        self.buffer_size = buffer_size
        self.batch_size = batch_size
        self.gradient_steps = gradient_steps
        self.gamma = gamma
        self.tau = tau
        self.exploration_noise = exploration_noise
        self.random_action_prob = random_action_prob
        self.n_hindsight_goals = n_hindsight_goals
        self.learning_starts = learning_starts
        # the goal spaces as plain lists (JSON in the saved data): resolved from the env here; a model being
        # loaded (no env) gets the resolved values back from its data
        self.subgoal_projection: Any = subgoal_projection
        self.goal_threshold: Any = goal_threshold
        self.subgoal_bounds: Any = subgoal_bounds
        self.subgoal_threshold: Any = subgoal_threshold
        if _init_setup_model:
            check_goal_env(self.observation_space)
            self.subgoal_projection = _projection(subgoal_projection, self.observation_space)  # type: ignore[arg-type]
            self.goal_threshold = _goal_threshold(goal_threshold, self.env, self.observation_space)  # type: ignore[arg-type]
            self.subgoal_bounds = list(_subgoal_bounds(subgoal_bounds, self.subgoal_projection, self.observation_space))  # type: ignore[arg-type]
            self.subgoal_threshold = _subgoal_threshold(subgoal_threshold, self.goal_threshold, self.subgoal_projection,
                                                        len(self.subgoal_bounds[0]))
            self._setup_model()

    def _setup_model(self) -> None:
        self._setup_lr_schedule()
        self.set_random_seed(self.seed)
        self._rng = np.random.default_rng(self.seed)
        self.policy = self.policy_class(  # type: ignore[assignment]
            self.observation_space, self.action_space, self.lr_schedule, n_levels=self.n_levels,
            subgoal_horizon=self.subgoal_horizon, goal_threshold=self.goal_threshold, subgoal_threshold=self.subgoal_threshold,
            subgoal_low=list(self.subgoal_bounds[0]), subgoal_high=list(self.subgoal_bounds[1]), subgoal_projection=self.subgoal_projection,
            **self.policy_kwargs,
        ).to(self.device)
        obs_dim = int(np.prod(self.observation_space["observation"].shape))  # type: ignore[index]
        goal_dim = int(np.prod(self.observation_space["desired_goal"].shape))  # type: ignore[index]
        subgoal_dim, action_dim = len(self.subgoal_bounds[0]), int(np.prod(self.action_space.shape))  # type: ignore[arg-type]
        self.replay_buffer = HACReplay([
            LevelReplayBuffer(self.buffer_size, obs_dim, goal_dim if level == self.n_levels - 1 else subgoal_dim,
                              action_dim if level == 0 else subgoal_dim)
            for level in range(self.n_levels)
        ])

    # ------------------------------------------------------------------ acting while training
    def _bounds(self, level: int) -> tuple[np.ndarray, np.ndarray]:
        if level == 0:
            return self.action_space.low, self.action_space.high  # type: ignore[union-attr]
        return self.policy.subgoal_low, self.policy.subgoal_high

    def _explore(self, level: int, obs: dict[str, np.ndarray], goal: np.ndarray, greedy: bool) -> np.ndarray:
        """The action of ``level``: greedy under a tested subgoal, else noisy or (sometimes) random."""
        action = self.policy.level_action(level, obs, goal)
        if greedy:
            return action
        low, high = self._bounds(level)
        if self._rng.random() < self.random_action_prob:
            return self._rng.uniform(low, high).astype(np.float32)
        noise = self._rng.normal(0.0, self.exploration_noise * (high - low) / 2)
        return np.clip(action + noise, low, high).astype(np.float32)

    def _goal_of(self, level: int, obs: dict[str, np.ndarray]) -> np.ndarray:
        return obs["desired_goal"] if level == self.n_levels - 1 else self._subgoals[level]

    def _threshold(self, level: int) -> np.ndarray:
        return self.policy.goal_threshold if level == self.n_levels - 1 else self.policy.subgoal_threshold

    def _store(self, level: int, attempt: Attempt) -> None:
        for transition in action_transitions(attempt, self._threshold(level), self.subgoal_horizon):
            self.replay_buffer.levels[level].add(transition)
        self._runs[level].append(attempt)

    def _finish_run(self, level: int) -> None:
        """The run of ``level`` toward its goal is over: its hindsight goal transitions."""
        if self._runs[level]:
            for transition in goal_transitions(self._runs[level], self._threshold(level), self.n_hindsight_goals, self._rng):
                self.replay_buffer.levels[level].add(transition)
        self._runs[level] = []

    def _finish_action(self, level: int, end: dict[str, np.ndarray], reached: bool, spent: bool, terminal: bool) -> None:
        """The subgoal ``level`` set has ended at ``end`` (``reached`` it or not, ``spent``: ``H`` actions)."""
        start = self._pending[level]
        assert start is not None
        self._store(level, Attempt(
            obs=_flat(start.obs), goal=start.goal, action=start.action, next_obs=_flat(end),
            achieved=self.policy.achieved(level, end),
            hindsight_action=start.action if reached else self.policy.project(end),
            terminal=terminal, missed_test=start.tested and spent and not reached,
        ))
        self._pending[level] = None

    def _plan(self, obs: dict[str, np.ndarray], highest: int) -> None:
        """New goals for levels ``highest`` down to 0, each set (and maybe tested) by the level above."""
        for below in range(highest, -1, -1):
            above = below + 1
            goal = self._goal_of(above, obs)
            subgoal = self._explore(above, obs, goal, greedy=bool(self._tested[above]))
            self._subgoals[below], self._counts[below] = subgoal, 0
            self._tested[below] = self._tested[above] or self._rng.random() < self.subgoal_testing_rate
            self._pending[above] = _Pending(obs, np.array(goal, dtype=np.float32), subgoal, bool(self._tested[below]))

    def collect_episode(self, callback: BaseCallback) -> bool:
        """Play one episode with exploration and store every level's transitions (steps 1-4 above).

        :return: ``False`` when a callback asked to stop training
        """
        assert self.env is not None and self._last_obs is not None
        below_top = self.n_levels - 1
        self._subgoals = np.zeros((below_top, len(self.subgoal_bounds[0])), np.float32)
        self._counts = np.zeros(below_top, np.int64)
        self._tested = np.zeros(self.n_levels, dtype=bool)  # the top level is never under test
        self._pending: list[_Pending | None] = [None] * self.n_levels
        self._runs: list[list[Attempt]] = [[] for _ in range(self.n_levels)]
        obs = _first(self._last_obs)  # type: ignore[arg-type]
        highest, keep_going = below_top - 1, True
        self.policy.set_training_mode(False)
        callback.on_rollout_start()
        while True:
            self._plan(obs, highest)
            action = self._explore(0, obs, self._subgoals[0], greedy=bool(self._tested[0]))
            new_obs, rewards, dones, infos = self.env.step(action[None])
            self.num_timesteps += 1
            callback.update_locals(locals())
            keep_going = callback.on_step()
            self._update_info_buffer(infos, dones)
            done = bool(dones[0])
            end = _first(infos[0]["terminal_observation"], batched=False) if done else _first(new_obs)  # type: ignore[arg-type]
            terminal = done and not infos[0].get("TimeLimit.truncated", False)
            self._counts[0] += 1
            self._store(0, Attempt(obs=_flat(obs), goal=self._subgoals[0].copy(), action=action, next_obs=_flat(end),
                                   achieved=self.policy.achieved(0, end), hindsight_action=action, terminal=terminal))
            if done or not keep_going:
                break
            ended = self.policy.ending_goals(end, self._subgoals, self._counts)
            for level, reached, spent in ended:
                self._finish_run(level)
                self._finish_action(level + 1, end, reached, spent, terminal=False)
            highest = max([-1] + [level for level, _, _ in ended])
            obs = end
        for level in range(self.n_levels):  # the episode is over: every run ends, no penalties
            if level > 0 and self._pending[level] is not None:
                self._finish_action(level, end, self.policy.reached(level - 1, end, self._goal_of(level - 1, end)), False, terminal)
            self._finish_run(level)
        self._last_obs = new_obs  # type: ignore[assignment]
        self._last_episode_starts = dones
        callback.update_locals(locals())
        callback.on_rollout_end()
        return keep_going

    # ------------------------------------------------------------------ learning
    def td_targets(self, level: Any, batch: dict[str, th.Tensor]) -> th.Tensor:
        """``r + gamma * Q'(s', g, pi'(s', g))`` (no bootstrap when done), clipped to ``[-H, 0]``."""
        with th.no_grad():
            next_actions = level.act(batch["next_obs"], batch["goals"], target=True)
            next_q = level.q_value(batch["next_obs"], batch["goals"], next_actions, target=True)
            target = batch["rewards"] + self.gamma * (1.0 - batch["dones"]) * next_q
            return target.clamp(-float(self.subgoal_horizon), 0.0)

    def train(self, gradient_steps: int, batch_size: int) -> None:
        """``gradient_steps`` DDPG updates of every level on its own buffer (step 5 above)."""
        self.policy.set_training_mode(True)
        for index, level in enumerate(self.policy.levels):
            buffer = self.replay_buffer.levels[index]
            if len(buffer) < batch_size:
                continue
            critic_losses, actor_losses = [], []
            for _ in range(gradient_steps):
                batch = {key: th.as_tensor(value, device=self.device) for key, value in buffer.sample(batch_size, self._rng).items()}
                target = self.td_targets(level, batch)
                critic_loss = F.mse_loss(level.q_value(batch["obs"], batch["goals"], batch["actions"]), target)
                level.critic_optimizer.zero_grad()
                critic_loss.backward()
                level.critic_optimizer.step()
                actor_loss = -level.q_value(batch["obs"], batch["goals"], level.act(batch["obs"], batch["goals"])).mean()
                level.actor_optimizer.zero_grad()
                actor_loss.backward()
                level.actor_optimizer.step()
                polyak_update(level.critic.parameters(), level.critic_target.parameters(), self.tau)
                polyak_update(level.actor.parameters(), level.actor_target.parameters(), self.tau)
                critic_losses.append(critic_loss.item())
                actor_losses.append(actor_loss.item())
            self.logger.record(f"train/level_{index}/critic_loss", float(np.mean(critic_losses)))
            self.logger.record(f"train/level_{index}/actor_loss", float(np.mean(actor_losses)))
        self._n_updates += gradient_steps
        self.logger.record("train/n_updates", self._n_updates, exclude="tensorboard")

    def learn(
        self: SelfHAC,
        total_timesteps: int,
        callback: MaybeCallback = None,
        log_interval: int = 10,
        tb_log_name: str = "HAC",
        reset_num_timesteps: bool = True,
        progress_bar: bool = False,
    ) -> SelfHAC:
        """Train for ``total_timesteps`` env steps (the last episode is played to its end).

        :param total_timesteps: env steps to train for
        :param callback: SB3 callback(s), called at every env step
        :param log_interval: log every this many episodes (``None``: never)
        :param tb_log_name: name of the TensorBoard run
        :param reset_num_timesteps: start the step count from zero
        :param progress_bar: show a progress bar
        """
        total_timesteps, callback = self._setup_learn(total_timesteps, callback, reset_num_timesteps, tb_log_name, progress_bar)
        callback.on_training_start(locals(), globals())
        while self.num_timesteps < total_timesteps:
            keep_going = self.collect_episode(callback)
            self._episode_num += 1
            self._update_current_progress_remaining(self.num_timesteps, total_timesteps)
            if log_interval is not None and self._episode_num % log_interval == 0:
                self.dump_logs()
            if not keep_going:
                break
            if self.num_timesteps >= self.learning_starts:
                self.train(self.gradient_steps, self.batch_size)
        callback.on_training_end()
        return self

    def dump_logs(self) -> None:
        """Write the episode statistics and counters to the logger."""
        assert self.ep_info_buffer is not None and self.ep_success_buffer is not None
        if len(self.ep_info_buffer) > 0:
            self.logger.record("rollout/ep_rew_mean", safe_mean([info["r"] for info in self.ep_info_buffer]))
            self.logger.record("rollout/ep_len_mean", safe_mean([info["l"] for info in self.ep_info_buffer]))
        if len(self.ep_success_buffer) > 0:
            self.logger.record("rollout/success_rate", safe_mean(self.ep_success_buffer))
        self.logger.record("time/episodes", self._episode_num, exclude="tensorboard")
        self.logger.record("time/total_timesteps", self.num_timesteps, exclude="tensorboard")
        self.logger.dump(step=self.num_timesteps)

    # ------------------------------------------------------------------ saving
    def _excluded_save_params(self) -> list[str]:
        return [*super()._excluded_save_params(), "_rng", "_subgoals", "_counts", "_tested", "_pending", "_runs"]

    def _get_torch_save_params(self) -> tuple[list[str], list[str]]:
        optimizers = [f"policy.levels.{i}.{name}_optimizer" for i in range(self.n_levels) for name in ("actor", "critic")]
        return ["policy", *optimizers], []

    def save_replay_buffer(self, path: Any) -> None:
        """Save every level's replay buffer (a pickle, for resuming one's own runs)."""
        from stable_baselines3.common.save_util import save_to_pkl

        save_to_pkl(path, self.replay_buffer, self.verbose)

    def load_replay_buffer(self, path: Any, truncate_last_traj: bool = True) -> None:
        """Load replay buffers saved by :meth:`save_replay_buffer` (unpickles: only files you wrote)."""
        from stable_baselines3.common.save_util import load_from_pkl

        replay = load_from_pkl(path, self.verbose)
        if not isinstance(replay, HACReplay) or len(replay.levels) != self.n_levels:
            raise ZooError(f"{path} holds no replay buffers of a {self.n_levels}-level HAC")
        self.replay_buffer = replay

    # ------------------------------------------------------------------ evaluation hook
    def evaluation_figures(self, request: Any) -> dict[str, Any]:
        """The standard figures plus ``success_rate`` (from ``info["is_success"]``, or gymnasium-robotics'
        ``info["success"]``) and ``mean_ep_length``."""
        from agents.common.evaluation import run_episodes, summarise

        episodes = run_episodes(self, request)
        figures = summarise(episodes, request)
        finals = [infos[-1] for infos in episodes.infos if infos]
        if "success_rate" not in figures and finals and all("success" in info for info in finals):
            figures["success_rate"] = float(np.mean([bool(info["success"]) for info in finals]))
        return figures


# ---------------------------------------------------------------------- checking and resolving arguments


def check_goal_env(observation_space: spaces.Space) -> None:
    """One line naming the keys HAC needs, for an env without the goal-conditioned Dict observation."""
    keys = list(observation_space.spaces) if isinstance(observation_space, spaces.Dict) else None
    if keys is None or not set(GOAL_KEYS) <= set(keys):
        got = f"a Dict with keys {', '.join(keys)}" if keys is not None else f"a {type(observation_space).__name__} observation"
        raise ZooError(
            f"HAC needs a goal-conditioned env: a Dict observation with the keys {', '.join(GOAL_KEYS)} (got {got}); "
            "agents.envs.goal_envs.GoalObservation makes one from a Box observation (e.g. as the config's env_wrapper)"
        )


def _projection(projection: str | Sequence[int], observation_space: spaces.Dict) -> str | list[int]:
    if isinstance(projection, str):
        if projection != "achieved_goal":
            raise ZooError(f"subgoal_projection must be 'achieved_goal' or a list of observation indices, got {projection!r}")
        return projection
    size = int(np.prod(observation_space["observation"].shape))  # type: ignore[index]
    indices = [int(i) for i in projection]
    if not indices or any(not 0 <= i < size for i in indices):
        raise ZooError(f"subgoal_projection {indices} must pick indices of the {size}-dimensional observation")
    return indices


def _vector(value: float | Sequence[float], size: int, name: str, space_name: str) -> list[float]:
    vector = np.asarray(value, dtype=np.float64)
    if vector.ndim == 0:
        vector = np.full(size, float(vector))
    if vector.shape != (size,):
        raise ZooError(f"{name} has {vector.size} numbers but {space_name} has {size} dimensions")
    return [float(v) for v in vector]


def _goal_threshold(threshold: float | Sequence[float] | None, env: Any, observation_space: spaces.Dict) -> list[float]:
    size = int(np.prod(observation_space["desired_goal"].shape))  # type: ignore[index]
    if threshold is None:
        found = env.get_attr("goal_threshold")[0] if env is not None and env.has_attr("goal_threshold") else None
        if found is None:
            raise ZooError("the env has no goal_threshold attribute: pass HAC's goal_threshold (one tolerance per goal coordinate)")
        threshold = np.asarray(found).tolist()
    return _vector(threshold, size, "goal_threshold", f"the goal space (desired_goal, {observation_space['desired_goal']})")  # type: ignore[arg-type]


def _subgoal_space(projection: str | list[int], observation_space: spaces.Dict) -> tuple[str, np.ndarray, np.ndarray]:
    if projection == "achieved_goal":
        box = observation_space["achieved_goal"]
        return f"the subgoal space (achieved_goal, {box})", box.low.ravel(), box.high.ravel()  # type: ignore[union-attr]
    box = observation_space["observation"]
    return (f"the subgoal space (observation{list(projection)})", box.low.ravel()[list(projection)],  # type: ignore[union-attr]
            box.high.ravel()[list(projection)])  # type: ignore[union-attr]


def _subgoal_bounds(bounds: tuple[Sequence[float], Sequence[float]] | None, projection: str | list[int],
                    observation_space: spaces.Dict) -> tuple[list[float], list[float]]:
    name, low, high = _subgoal_space(projection, observation_space)
    if bounds is None:
        if not (np.all(np.isfinite(low)) and np.all(np.isfinite(high))):
            raise ZooError(f"{name} is unbounded: pass subgoal_bounds=(low, high) with {len(low)} numbers each")
        return [float(v) for v in low], [float(v) for v in high]
    if len(bounds) != 2:
        raise ZooError(f"subgoal_bounds must be (low, high), got {bounds!r}")
    sub_low, sub_high = (_vector(b, len(low), "subgoal_bounds", name) for b in bounds)
    if not all(lo < hi for lo, hi in zip(sub_low, sub_high)):
        raise ZooError(f"subgoal_bounds low {sub_low} must be below high {sub_high} in every dimension")
    return sub_low, sub_high


def _subgoal_threshold(threshold: float | Sequence[float] | None, goal_threshold: list[float],
                       projection: str | list[int], size: int) -> list[float]:
    if threshold is None:
        if projection != "achieved_goal":
            raise ZooError("subgoals made of observation coordinates need subgoal_threshold (one tolerance per subgoal coordinate)")
        return list(goal_threshold)
    return _vector(threshold, size, "subgoal_threshold", f"the subgoal space ({size} dimensions)")


def _first(obs: dict[str, np.ndarray], batched: bool = True) -> dict[str, np.ndarray]:
    """One env's observation out of a ``VecEnv``'s (as float32 arrays)."""
    return {key: np.asarray(value[0] if batched else value, dtype=np.float32) for key, value in obs.items()}


def _flat(obs: dict[str, np.ndarray]) -> np.ndarray:
    return np.asarray(obs["observation"], dtype=np.float32).reshape(-1)
