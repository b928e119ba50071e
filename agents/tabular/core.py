"""The shared core of the zoo's tabular agents, built on Stable-Baselines3's ``BaseAlgorithm``.

- :class:`StateIndexer` turns an observation (``Discrete``, or ``Tuple`` of ``Discrete`` like
  Blackjack-v1's) into one row index of the tables. ``Box`` observations go through
  ``zoo.envs.wrappers.DiscretizeObservation`` first.
- :class:`TabularPolicy` holds the Q-table (and any other table an algorithm needs: the exploration
  bot's reward sums, Dyna-Q's model) as torch buffers, so SB3's ``save``/``load`` round-trips them
  exactly. The training loop works on NumPy views sharing their memory: no torch op per step.
- :class:`TabularAlgorithm` is the loop every tabular agent shares: epsilon-greedy behaviour with a
  schedule, a learning rate ``alpha`` (constant or an SB3 schedule), discount ``gamma``, any number of
  envs through SB3's ``VecEnv``, callbacks after every vector step, SB3 logging. At the end of an
  episode it learns from the real last observation (``infos[i]["terminal_observation"]``): a terminal
  state is worth 0 (no bootstrapping), a state cut by a time limit (``"TimeLimit.truncated"``) keeps
  its value (bootstrapping through the truncation).

An algorithm only says how it turns a transition into an update: :meth:`TabularAlgorithm._bootstrap_values`
(the value of the next state, for TD methods) or its own :meth:`TabularAlgorithm._update`.

Several envs at once: each vector step is one batched update. When several copies visit the same
state-action pair in one step, that pair gets one update with the mean of their TD errors; with one
env this is exactly the sequential rule.
"""

from __future__ import annotations

import math

import random
import time
from typing import Any, ClassVar, TypeVar

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.env_util import is_wrapped
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env import VecEnv
from stable_baselines3.common.vec_env.patch_gym import _patch_env
from stable_baselines3.common.policies import BasePolicy
from stable_baselines3.common.type_aliases import GymEnv, MaybeCallback, Schedule
from stable_baselines3.common.utils import safe_mean

from agents.common.evaluation import EvaluationRequest, standard_figures
from agents.common.schedules import make_schedule, parse_schedule
from agents.tabular.vec_env import LightDummyVecEnv
from agents.errors import ZooError

SelfTabular = TypeVar("SelfTabular", bound="TabularAlgorithm")

SUPPORTED_OBSERVATIONS = (
    "Discrete, Tuple of Discrete (e.g. Blackjack-v1), or Box wrapped in "
    "zoo.envs.wrappers.DiscretizeObservation (env_wrapper in the config)"
)


class StateIndexer:
    """Maps observations of a ``Discrete`` or ``Tuple``-of-``Discrete`` space to one index in ``[0, n_states)``.

    A tuple ``(x0, x1, ...)`` is numbered in mixed radix, the last component varying fastest.

    :param space: the observation space
    """

    def __init__(self, space: spaces.Space) -> None:
        if isinstance(space, spaces.Discrete):
            parts = [space]
        elif isinstance(space, spaces.Tuple) and space.spaces and all(isinstance(s, spaces.Discrete) for s in space.spaces):
            parts = list(space.spaces)
        else:
            raise ZooError(f"tabular agents need a {SUPPORTED_OBSERVATIONS} observation space, got {space}")
        self.is_tuple = isinstance(space, spaces.Tuple)
        self.sizes = np.array([int(s.n) for s in parts], dtype=np.int64)
        self.starts = np.array([int(s.start) for s in parts], dtype=np.int64)
        self.n_states = int(np.prod(self.sizes))
        # multiplier of each component: the last one varies fastest
        self.radix = np.array([int(np.prod(self.sizes[i + 1 :])) for i in range(len(parts))], dtype=np.int64)

    def __call__(self, observation: Any) -> np.ndarray:
        """State indices of a batch of observations (a VecEnv's), as an int64 array of shape ``(n,)``."""
        if not self.is_tuple:
            if type(observation) is np.ndarray and observation.dtype == np.int64 and observation.ndim == 1:
                states = observation  # a VecEnv's batch already
            else:
                states = np.asarray(observation, dtype=np.int64).reshape(-1)
            return states - self.starts[0] if self.starts[0] else states
        index = 0
        for component, start, radix in zip(observation, self.starts, self.radix):
            index = index + (np.asarray(component, dtype=np.int64).reshape(-1) - start) * radix
        return np.asarray(index, dtype=np.int64).reshape(-1)

    def one(self, observation: Any) -> int:
        """The state index of one (not vectorised) observation."""
        return int(self(observation)[0])

    def is_vectorized(self, observation: Any) -> bool:
        """Whether ``observation`` is a batch (from a VecEnv) rather than one observation."""
        first = observation[0] if self.is_tuple else observation
        return np.ndim(first) > 0


class TabularPolicy(BasePolicy):
    """A greedy policy over a table of action values.

    The tables are float64 torch buffers (saved by SB3 in ``policy.pth``, restored bit for bit); the
    algorithm trains through NumPy views of them (:meth:`table`). ``predict`` picks the best action:
    the first best one with ``deterministic=True``, a uniformly random best one otherwise (exploration
    itself, epsilon, belongs to the training loop).

    :param observation_space: ``Discrete`` or ``Tuple`` of ``Discrete``
    :param action_space: ``Discrete``
    :param lr_schedule: unused (SB3 passes it to every policy)
    :param initial_q: initial value of every entry of the Q-table
    """

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        lr_schedule: Schedule | None = None,
        initial_q: float = 0.0,
    ) -> None:
        super().__init__(observation_space, action_space)
        if not isinstance(action_space, spaces.Discrete):
            raise ZooError(f"tabular agents need a Discrete action space, got {action_space}")
        self.indexer = StateIndexer(observation_space)
        self.n_states = self.indexer.n_states
        self.n_actions = int(action_space.n)
        self.action_start = int(action_space.start)
        self.initial_q = initial_q
        self.rng = np.random.default_rng()
        self._resizable: set[str] = set()
        self.add_table("q_table", (self.n_states, self.n_actions), fill=initial_q)

    @staticmethod
    def table_entries(observation_space: spaces.Space, action_space: spaces.Space) -> int:
        """Entries of the Q-table for these spaces, computed without allocating it (checked before loading a
        download, whose spaces may claim any size)."""
        parts = observation_space.spaces if isinstance(observation_space, spaces.Tuple) else [observation_space]
        return math.prod(int(getattr(part, "n", 1)) for part in parts) * int(getattr(action_space, "n", 1))

    def add_table(self, name: str, shape: tuple[int, ...], fill: float = 0.0, resizable: bool = False) -> None:
        """Register a float64 table saved with the policy; a ``resizable`` one takes the saved shape on load."""
        self.register_buffer(name, th.full(shape, float(fill), dtype=th.float64))
        if resizable:
            self._resizable.add(name)

    def set_table(self, name: str, values: np.ndarray) -> None:
        """Replace a resizable table by ``values`` (copied)."""
        self._buffers[name] = th.from_numpy(np.array(values, dtype=np.float64))

    def table(self, name: str) -> np.ndarray:
        """A NumPy view sharing memory with the table ``name``: writes to it change the saved table."""
        return self._buffers[name].numpy()

    def _load_from_state_dict(self, state_dict: dict, prefix: str, *args: Any, **kwargs: Any) -> None:
        for name in self._resizable:
            saved = state_dict.get(prefix + name)
            if saved is not None and saved.shape != self._buffers[name].shape:
                self._buffers[name] = th.empty(saved.shape, dtype=th.float64)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()
        data.update(initial_q=self.initial_q)
        return data

    def forward(self, obs: th.Tensor, deterministic: bool = False) -> th.Tensor:
        return self._predict(obs, deterministic)

    def _predict(self, observation: Any, deterministic: bool = False) -> th.Tensor:
        states = self.indexer(observation)
        return th.as_tensor(self.greedy(states, deterministic))

    def greedy(self, states: np.ndarray, deterministic: bool = False) -> np.ndarray:
        """Best action (0-based) in each state: the first best one, or a random best one."""
        q_rows = self.table("q_table")[states]
        if deterministic:
            return q_rows.argmax(axis=1)
        is_best = q_rows == q_rows.max(axis=1, keepdims=True)
        return (self.rng.random(q_rows.shape) * is_best).argmax(axis=1)  # a uniform pick among the best

    def predict(
        self,
        observation: Any,
        state: tuple[np.ndarray, ...] | None = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = False,
    ) -> tuple[np.ndarray, tuple[np.ndarray, ...] | None]:
        """Greedy action(s) for one observation or a VecEnv's batch, like SB3's ``predict``."""
        vectorized = self.indexer.is_vectorized(observation)
        states = self.indexer(observation)
        if np.any((states < 0) | (states >= self.n_states)):
            raise ZooError(f"observation {observation} is outside the observation space {self.observation_space}")
        actions = self.greedy(states, deterministic) + self.action_start
        return (actions if vectorized else actions[0].reshape(())), state


class TabularAlgorithm(BaseAlgorithm):
    """Base class of the tabular agents: the rollout-and-update loop on SB3's ``BaseAlgorithm`` API.

    :param policy: ``"TabularPolicy"`` (or the class)
    :param env: the environment (a gymnasium env, an env id, or an SB3 ``VecEnv`` of several copies)
    :param alpha: learning rate, a number or an SB3 schedule of ``progress_remaining`` (1 -> 0); the
        configs' ``"lin_X"`` (X down to 0 linearly) is accepted as well
    :param gamma: discount factor
    :param epsilon: exploration rate of the epsilon-greedy behaviour policy (its initial value if it decays)
    :param epsilon_final: exploration rate at the end of the decay; ``None`` keeps ``epsilon`` constant
    :param epsilon_decay: shape of the decay: ``"linear"`` or ``"exponential"`` (geometric)
    :param epsilon_decay_per: ``"step"`` (decay along the ``learn()`` call's timesteps) or ``"episode"``
    :param epsilon_decay_length: how long the decay lasts: a fraction of the ``learn()`` call's timesteps
        when decaying per step (like SB3's ``exploration_fraction``), a number of episodes when per episode
    :param policy_kwargs: extra arguments of the policy (``initial_q``)
    :param stats_window_size: number of episodes averaged in the ``rollout/`` logs
    :param tensorboard_log: folder for tensorboard logs (``None``: none)
    :param verbose: 0 silent, 1 training logs
    :param seed: seed of every random choice (exploration, tie-breaking, planning) and of the env
    :param device: accepted for SB3 compatibility; the tables always live on the CPU
    :param _init_setup_model: build the tables now (SB3's ``load`` builds them later)
    """

    policy_aliases: ClassVar[dict[str, type[BasePolicy]]] = {"TabularPolicy": TabularPolicy}
    policy: TabularPolicy
    #: SARSA: the next action is chosen before the update and the update uses it
    chooses_next_action_first: ClassVar[bool] = False

    def __init__(
        self,
        policy: str | type[TabularPolicy],
        env: GymEnv | str | None,
        alpha: float | Schedule = 0.1,
        gamma: float = 0.99,
        epsilon: float = 0.1,
        epsilon_final: float | None = None,
        epsilon_decay: str = "linear",
        epsilon_decay_per: str = "step",
        epsilon_decay_length: float = 1.0,
        policy_kwargs: dict[str, Any] | None = None,
        stats_window_size: int = 100,
        tensorboard_log: str | None = None,
        verbose: int = 0,
        seed: int | None = None,
        device: th.device | str = "auto",
        _init_setup_model: bool = True,
    ) -> None:
        alpha = parse_schedule(alpha)
        if isinstance(alpha, str):
            raise ZooError(f"alpha must be a number, a schedule or 'lin_X', got {alpha!r}")
        super().__init__(
            policy,
            env,
            learning_rate=alpha,
            policy_kwargs=policy_kwargs,
            stats_window_size=stats_window_size,
            tensorboard_log=tensorboard_log,
            verbose=verbose,
            device="cpu",
            support_multi_env=True,
            seed=seed,
        )
        if epsilon_decay not in ("linear", "exponential"):
            raise ZooError(f"epsilon_decay must be 'linear' or 'exponential', got {epsilon_decay!r}")
        if epsilon_decay_per not in ("step", "episode"):
            raise ZooError(f"epsilon_decay_per must be 'step' or 'episode', got {epsilon_decay_per!r}")
        if epsilon_decay_length <= 0 or (epsilon_decay_per == "step" and epsilon_decay_length > 1):
            raise ZooError(
                "epsilon_decay_length must be a fraction in (0, 1] of the timesteps when decaying per step, "
                f"a number of episodes > 0 when per episode; got {epsilon_decay_length}"
            )
        self.alpha = alpha
        self.gamma = gamma
        self.epsilon = epsilon
        self.epsilon_final = epsilon_final
        self.epsilon_decay = epsilon_decay
        self.epsilon_decay_per = epsilon_decay_per
        self.epsilon_decay_length = epsilon_decay_length
        if _init_setup_model:
            self._setup_model()

    # ----------------------------------------------------------------------------------------- set-up
    @staticmethod
    def _wrap_env(env: GymEnv, verbose: int = 0, monitor_wrapper: bool = True) -> VecEnv:
        """Like SB3's, but a single gymnasium env goes into a :class:`LightDummyVecEnv` (no per-step deep copy)."""
        if not isinstance(env, VecEnv):
            env = _patch_env(env)
            if monitor_wrapper and not is_wrapped(env, Monitor):
                env = Monitor(env)
            env = LightDummyVecEnv([lambda: env])
        return BaseAlgorithm._wrap_env(env, verbose, monitor_wrapper)

    def _setup_model(self) -> None:
        self._setup_lr_schedule()
        self.policy = self.policy_class(self.observation_space, self.action_space, self.lr_schedule, **self.policy_kwargs)
        end_fraction = self.epsilon_decay_length if self.epsilon_decay_per == "step" else 1.0
        self.epsilon_schedule = make_schedule(self.epsilon_decay, self.epsilon, self.epsilon_final, end_fraction)
        self._setup_tables()
        self._seed_generators(self.seed)

    def _setup_tables(self) -> None:
        """Register the algorithm's extra tables on the policy (exploration bot, Dyna-Q)."""

    def _refresh_views(self) -> None:
        """Take NumPy views of the tables (again after a load may have replaced them)."""
        self.q_table = self.policy.table("q_table")
        self._q_flat = self.q_table.reshape(-1)

    def _seed_generators(self, seed: int | None) -> None:
        self._py_rng = random.Random(seed)
        self._np_rng = np.random.default_rng(seed)
        self.policy.rng = np.random.default_rng(None if seed is None else seed + 1)
        self._refresh_views()

    def set_random_seed(self, seed: int | None = None) -> None:
        super().set_random_seed(seed)
        if seed is not None and hasattr(self, "policy"):
            self._seed_generators(seed)

    def _excluded_save_params(self) -> list[str]:
        return [*super()._excluded_save_params(), "q_table", "_q_flat", "_py_rng", "_np_rng", "epsilon_schedule"]

    #: not a neural network: model cards leave out the deep-reinforcement-learning tag
    deep_learning = False

    def evaluation_figures(self, request: EvaluationRequest) -> dict[str, Any]:
        """The evaluation hook: the standard figures, plus, on an env with a transition table and a time limit,
        the greedy policy's exact expected return and the optimum (:func:`agents.tabular.exact.exact_evaluation`)."""
        from agents.tabular.exact import exact_evaluation

        figures = standard_figures(self, request)
        env = request.make_env()
        try:
            figures.update(exact_evaluation(self.policy, env) or {})
        finally:
            env.close()
        return figures

    def _get_torch_save_params(self) -> tuple[list[str], list[str]]:
        return ["policy"], []

    def _tables_to_policy(self) -> None:
        """Write state kept outside the policy's tables into them (before a save)."""

    def _tables_from_policy(self) -> None:
        """Read state kept outside the policy's tables back from them (after a load)."""

    def get_parameters(self) -> dict[str, dict]:
        self._tables_to_policy()
        return super().get_parameters()

    def set_parameters(self, load_path_or_dict: Any, exact_match: bool = True, device: th.device | str = "auto") -> None:
        super().set_parameters(load_path_or_dict, exact_match=exact_match, device=device)
        self._refresh_views()
        self._tables_from_policy()

    # ------------------------------------------------------------------------------------ exploration
    def current_epsilon(self) -> float:
        """The exploration rate now, from the schedule (per step or per episode)."""
        if self.epsilon_decay_per == "episode":
            return self.epsilon_schedule(1.0 - min(1.0, self._episode_num / self.epsilon_decay_length))
        return self.epsilon_schedule(self._current_progress_remaining)

    def _choose_actions(self, states: np.ndarray, epsilon: float) -> np.ndarray:
        """Epsilon-greedy actions (0-based): random with probability epsilon, else a random best one."""
        if len(states) == 1:  # one env: plain Python is several times faster than NumPy on 1 element
            rng = self._py_rng
            if rng.random() < epsilon:
                return np.array([rng.randrange(self.policy.n_actions)])
            row = self.q_table[states[0]].tolist()
            best = max(row)
            if row.count(best) == 1:
                return np.array([row.index(best)])
            return np.array([rng.choice([a for a, value in enumerate(row) if value == best])])
        rng = self._np_rng
        q_rows = self.q_table[states]
        is_best = q_rows == q_rows.max(axis=1, keepdims=True)
        actions = (rng.random(q_rows.shape) * is_best).argmax(axis=1)
        explore = rng.random(len(states)) < epsilon
        actions[explore] = rng.integers(self.policy.n_actions, size=int(explore.sum()))
        return actions

    # --------------------------------------------------------------------------------------- updates
    def _bootstrap_values(self, next_states: np.ndarray, next_actions: np.ndarray | None, epsilon: float) -> np.ndarray:
        """The value the TD target bootstraps from in each next state (Q-learning: ``max_a' Q(s', a')``)."""
        raise NotImplementedError

    def _update(
        self,
        states: np.ndarray,
        actions: np.ndarray,
        rewards: np.ndarray,
        next_states: np.ndarray,
        next_actions: np.ndarray | None,
        bootstrap: np.ndarray,
        alpha: float,
        epsilon: float,
    ) -> None:
        """One TD update per transition: ``Q(s,a) += alpha * (r + gamma * V(s') - Q(s,a))``, ``V(s') = 0`` if terminal.

        ``next_states`` are the true next states (the last observation where an episode ended),
        ``bootstrap`` is False where that state is terminal, ``next_actions`` the actions SARSA
        bootstraps from (``None`` for the other algorithms).
        """
        values = self._bootstrap_values(next_states, next_actions, epsilon)
        if len(states) == 1:  # one env: Python floats beat NumPy on one element
            target = float(rewards[0]) + (self.gamma * float(values[0]) if bootstrap[0] else 0.0)
            s, a = int(states[0]), int(actions[0])
            self.q_table[s, a] += alpha * (target - self.q_table[s, a])
            return
        targets = rewards + self.gamma * bootstrap * values
        self._apply_td(states, actions, targets, alpha)

    def _apply_td(self, states: np.ndarray, actions: np.ndarray, targets: np.ndarray, alpha: float) -> None:
        """Move ``Q(s, a)`` a step ``alpha`` towards each target (one mean step for a pair seen twice)."""
        if len(states) == 1:
            s, a = int(states[0]), int(actions[0])
            self.q_table[s, a] += alpha * (float(targets[0]) - self.q_table[s, a])
            return
        flat = states * self.policy.n_actions + actions
        pairs, which, counts = np.unique(flat, return_inverse=True, return_counts=True)
        td_errors = targets - self._q_flat[flat]
        self._q_flat[pairs] += alpha * np.bincount(which, weights=td_errors) / counts

    # ------------------------------------------------------------------------------------------ loop
    def learn(
        self: SelfTabular,
        total_timesteps: int,
        callback: MaybeCallback = None,
        log_interval: int | None = 100,
        tb_log_name: str = "run",
        reset_num_timesteps: bool = True,
        progress_bar: bool = False,
    ) -> SelfTabular:
        """Train for ``total_timesteps`` env steps (all envs together).

        :param total_timesteps: number of env steps to train for
        :param callback: SB3 callback(s), called after every vector step (``on_step`` False stops training)
        :param log_interval: dump the logs every this many episodes (``None``: never)
        :param tb_log_name: name of the tensorboard run
        :param reset_num_timesteps: start counting timesteps (and episodes) from 0
        :param progress_bar: show a progress bar (tqdm and rich)
        :return: the trained model
        """
        total_timesteps, callback = self._setup_learn(total_timesteps, callback, reset_num_timesteps, tb_log_name, progress_bar)
        callback.on_training_start(locals(), globals())
        assert self.env is not None
        env, indexer, n_envs, action_start = self.env, self.policy.indexer, self.env.num_envs, self.policy.action_start
        alpha_schedule, constant_alpha = self.lr_schedule, not callable(self.alpha)
        alpha = float(self.alpha) if constant_alpha else alpha_schedule(self._current_progress_remaining)
        epsilon, constant_epsilon = self.current_epsilon(), self.epsilon_final in (None, self.epsilon)
        states = indexer(self._last_obs)
        actions = self._choose_actions(states, epsilon)
        choose, update, update_locals, on_step = self._choose_actions, self._update, callback.update_locals, callback.on_step
        callback.on_rollout_start()
        while self.num_timesteps < total_timesteps:
            new_obs, rewards, dones, infos = env.step(actions + action_start if action_start else actions)
            self.num_timesteps += n_envs
            next_states = indexer(new_obs)
            # Where an episode ended the VecEnv has already reset: learn from the true last state.
            # A terminal state is worth 0; a state cut by a time limit keeps its value.
            true_next_states, bootstrap = next_states, ~dones
            if n_envs == 1:
                ended = (0,) if dones[0] else ()
            else:
                ended = np.flatnonzero(dones) if dones.any() else ()
            if len(ended):
                true_next_states, bootstrap = next_states.copy(), bootstrap.copy()
                for i in ended:
                    if infos[i].get("TimeLimit.truncated", False):
                        true_next_states[i] = indexer.one(infos[i]["terminal_observation"])
                        bootstrap[i] = True
            if self.chooses_next_action_first:  # SARSA: A' is chosen first, then used in the update
                next_actions = choose(next_states, epsilon)
                bootstrap_actions = next_actions
                if len(ended):
                    bootstrap_actions = next_actions.copy()
                    for i in ended:  # after a time limit, A' is what the policy would have done there
                        bootstrap_actions[i] = choose(true_next_states[i : i + 1], epsilon)[0]
                update(states, actions, rewards, true_next_states, bootstrap_actions, bootstrap, alpha, epsilon)
            else:
                update(states, actions, rewards, true_next_states, None, bootstrap, alpha, epsilon)
            self._current_progress_remaining = 1.0 - self.num_timesteps / total_timesteps
            if not constant_alpha:
                alpha = alpha_schedule(self._current_progress_remaining)
            if len(ended):
                self._update_info_buffer([infos[i] for i in ended])
                for _ in ended:
                    self._episode_num += 1
                    if log_interval is not None and self._episode_num % log_interval == 0:
                        self.dump_logs()
            if not constant_epsilon:
                epsilon = self.current_epsilon()
            if not self.chooses_next_action_first:
                next_actions = choose(next_states, epsilon)
            self._last_obs = new_obs
            # what SB3's callbacks read from the training loop (SB3 hands over locals(); these are its names)
            update_locals(
                {"self": self, "actions": actions, "new_obs": new_obs, "rewards": rewards, "dones": dones, "infos": infos,
                 "alpha": alpha, "epsilon": epsilon, "total_timesteps": total_timesteps}
            )
            if not on_step():
                break
            states, actions = next_states, next_actions
        callback.on_rollout_end()
        callback.on_training_end()
        return self

    def dump_logs(self) -> None:
        """Write the training figures to SB3's logger."""
        elapsed = max((time.time_ns() - self.start_time) / 1e9, 1e-9)
        fps = int((self.num_timesteps - self._num_timesteps_at_start) / elapsed)
        if self.ep_info_buffer:
            self.logger.record("rollout/ep_rew_mean", safe_mean([info["r"] for info in self.ep_info_buffer]))
            self.logger.record("rollout/ep_len_mean", safe_mean([info["l"] for info in self.ep_info_buffer]))
        self.logger.record("rollout/exploration_rate", self.current_epsilon())
        self.logger.record("train/alpha", self.lr_schedule(self._current_progress_remaining))
        self.logger.record("time/episodes", self._episode_num, exclude="tensorboard")
        self.logger.record("time/fps", fps)
        self.logger.record("time/total_timesteps", self.num_timesteps, exclude="tensorboard")
        self.logger.dump(step=self.num_timesteps)


__all__ = ["SUPPORTED_OBSERVATIONS", "StateIndexer", "TabularAlgorithm", "TabularPolicy"]
