"""A3C: asynchronous advantage actor-critic (Mnih et al., 2016) as a Stable-Baselines3 ``BaseAlgorithm``.

``learn()`` puts the global policy and a shared Adam's state in shared memory, starts ``n_workers``
processes (:func:`agents.a3c.worker.worker_loop`: own environment, own local network, n-step
gradients applied to the global parameters without a lock) and joins them. The main process does
not step an environment: it receives the workers' reports and calls the SB3 callbacks once per
environment step taken by any worker, with ``num_timesteps`` the exact global step count, so
``EvalCallback``, ``CheckpointCallback``, ``StopTrainingOnRewardThreshold`` etc. work unchanged.
A callback returning ``False`` stops every worker. A worker that fails stops the others and its
traceback is raised in the main process; no worker outlives ``learn()``, Ctrl-C included.

Workers build their own environment (a process cannot share one): from ``env_fn`` when given (a
zero-argument callable returning a ``gym.Env``; it must be picklable for the ``spawn`` and
``forkserver`` start methods, e.g. a module-level function or ``functools.partial(gym.make, "Pendulum-v1")``),
otherwise from the gymnasium spec of ``env`` (id, kwargs, time limit and the wrappers gymnasium can
recreate; SB3's ``Monitor`` is re-added by each worker). ``env`` itself only gives the spaces.
"""

from __future__ import annotations

import multiprocessing as mp
import queue
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, ClassVar, TypeVar

import gymnasium as gym
import numpy as np
import torch as th
from gymnasium import spaces
from gymnasium.envs.registration import EnvSpec
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.policies import ActorCriticPolicy, BasePolicy
from stable_baselines3.common.type_aliases import GymEnv, MaybeCallback, Schedule
from stable_baselines3.common.vec_env import VecEnv, VecEnvWrapper

from agents.common.logging import dump_logs
from agents.a3c.worker import WorkerSettings, worker_loop
from agents.errors import ZooError

SelfA3C = TypeVar("SelfA3C", bound="A3C")


class A3CWorkerError(RuntimeError):
    """A worker process failed; the message holds its traceback."""


@dataclass
class SpecEnvFactory:
    """Picklable ``env_fn`` that remakes an environment from its gymnasium spec (no rendering).

    :param spec: the spec, with only wrappers gymnasium can recreate
    """

    spec: EnvSpec

    def __call__(self) -> gym.Env:
        return gym.make(self.spec)


def env_factory_from(env: VecEnv) -> SpecEnvFactory:
    """The :class:`SpecEnvFactory` of the first environment of ``env`` (Monitor wrappers dropped)."""
    if isinstance(env, VecEnvWrapper):
        raise ZooError(
            f"A3C's workers cannot reproduce the {type(env).__name__} vec-env wrapper; "
            "remove normalize/frame_stack from the config (or pass env_fn)"
        )
    spec = env.get_attr("spec", indices=[0])[0]
    if spec is None:
        raise ZooError("A3C needs env_fn: the environment has no gymnasium spec to rebuild it from in the workers")
    wrappers = tuple(w for w in spec.additional_wrappers if not w.entry_point.endswith(":Monitor"))
    if any(w.kwargs is None for w in wrappers):
        names = ", ".join(w.name for w in wrappers if w.kwargs is None)
        raise ZooError(f"A3C cannot rebuild the wrappers {names} in its workers; pass env_fn (a picklable env factory)")
    kwargs = {key: value for key, value in spec.kwargs.items() if key != "render_mode"}
    return SpecEnvFactory(replace(spec, kwargs=kwargs, additional_wrappers=wrappers))


def share_adam_state(optimizer: th.optim.Adam) -> list[dict[str, th.Tensor]]:
    """Create Adam's per-parameter state now (if absent) and move it to shared memory.

    :return: the state dicts in the order of the optimizer's parameters
    """
    states = []
    for group in optimizer.param_groups:
        for param in group["params"]:
            state = optimizer.state[param]
            if len(state) == 0:
                state["step"] = th.tensor(0.0)
                state["exp_avg"] = th.zeros_like(param, memory_format=th.preserve_format)
                state["exp_avg_sq"] = th.zeros_like(param, memory_format=th.preserve_format)
                if group["amsgrad"]:
                    state["max_exp_avg_sq"] = th.zeros_like(param, memory_format=th.preserve_format)
            for tensor in state.values():
                tensor.share_memory_()
            states.append(state)
    return states


class A3C(BaseAlgorithm):
    """Asynchronous advantage actor-critic with ``n_workers`` processes and a shared Adam (Hogwild).

    :param policy: policy class or name (``"MlpPolicy"``)
    :param env: environment (only its spaces and spec are used, see the module docstring), or its id
    :param learning_rate: learning rate of the shared Adam, a float or a schedule of the remaining progress
    :param n_workers: number of worker processes
    :param n_steps: steps per worker update at most (``t_max`` of the paper)
    :param gamma: discount factor
    :param ent_coef: entropy bonus weight
    :param vf_coef: value loss weight
    :param max_grad_norm: clip each worker's gradient to this global norm (``None``: no clipping)
    :param env_fn: picklable zero-argument callable building one worker environment (``None``: from
        ``env``'s spec); not saved with the model
    :param start_method: ``multiprocessing`` start method (``"fork"``, ``"spawn"``, ``"forkserver"``;
        ``None``: the platform's default)
    :param stats_window_size: number of episodes averaged in the logged episode statistics
    :param tensorboard_log: folder for TensorBoard logs (``None``: no logging)
    :param policy_kwargs: extra arguments for the policy (``net_arch``, ``optimizer_kwargs`` for Adam, ...)
    :param verbose: 0 silent, 1 training statistics, 2 debug
    :param seed: random seed (worker ``i`` uses ``seed + i``)
    :param device: torch device; A3C runs on the CPU (shared memory), anything else is refused
    :param _init_setup_model: build the network at construction (``False`` when loading)
    """

    policy_aliases: ClassVar[dict[str, type[BasePolicy]]] = {"MlpPolicy": ActorCriticPolicy}
    policy: ActorCriticPolicy

    def __init__(
        self,
        policy: str | type[ActorCriticPolicy],
        env: GymEnv | str,
        learning_rate: float | Schedule = 1e-3,
        n_workers: int = 2,
        n_steps: int = 5,
        gamma: float = 0.99,
        ent_coef: float = 0.01,
        vf_coef: float = 0.5,
        max_grad_norm: float | None = 0.5,
        env_fn: Callable[[], gym.Env] | None = None,
        start_method: str | None = None,
        stats_window_size: int = 100,
        tensorboard_log: str | None = None,
        policy_kwargs: dict[str, Any] | None = None,
        verbose: int = 0,
        seed: int | None = None,
        device: th.device | str = "cpu",
        _init_setup_model: bool = True,
    ) -> None:
        if str(device) not in ("cpu", "auto"):
            raise ZooError(f"A3C runs on the CPU (its global model lives in shared memory); got device={device!r}")
        super().__init__(
            policy,
            env,
            learning_rate=learning_rate,
            policy_kwargs=policy_kwargs,
            stats_window_size=stats_window_size,
            tensorboard_log=tensorboard_log,
            verbose=verbose,
            device="cpu",
            support_multi_env=True,
            seed=seed,
            supported_action_spaces=(spaces.Box, spaces.Discrete, spaces.MultiDiscrete, spaces.MultiBinary),
        )
        if n_workers < 1 or n_steps < 1:
            raise ZooError(f"A3C needs n_workers >= 1 and n_steps >= 1, got {n_workers} and {n_steps}")
        if self.env is not None and self.env.num_envs != 1:
            raise ZooError(f"A3C runs one environment per worker: set n_envs to 1 (got {self.env.num_envs}); use n_workers")
        if start_method is not None and start_method not in mp.get_all_start_methods():
            raise ZooError(f"unknown start_method {start_method!r}; use one of {', '.join(mp.get_all_start_methods())}")
        self.n_workers = n_workers
        self.n_steps = n_steps
        self.gamma = gamma
        self.ent_coef = ent_coef
        self.vf_coef = vf_coef
        self.max_grad_norm = max_grad_norm
        self.env_fn = env_fn
        self.start_method = start_method
        self._learn_calls = 0
        if _init_setup_model:
            self._setup_model()

    def _setup_model(self) -> None:
        self._setup_lr_schedule()
        self.set_random_seed(self.seed)
        self.policy = self.policy_class(self.observation_space, self.action_space, self.lr_schedule, **self.policy_kwargs)
        if not isinstance(self.policy.optimizer, th.optim.Adam):
            raise ZooError(f"A3C's shared optimizer is Adam; remove optimizer_class={type(self.policy.optimizer).__name__}")

    #: the last update's losses, as a worker reported them (written to the logs)
    _last_losses: dict[str, float] = {}

    def learn(
        self: SelfA3C,
        total_timesteps: int,
        callback: MaybeCallback = None,
        log_interval: int = 100,
        tb_log_name: str = "A3C",
        reset_num_timesteps: bool = True,
        progress_bar: bool = False,
    ) -> SelfA3C:
        """Run the workers until ``total_timesteps`` environment steps in all (or a callback stops them).

        :param total_timesteps: environment steps, counted over all workers
        :param callback: SB3 callback(s), called in this process once per worker environment step
        :param log_interval: log every this many worker updates (``None``: never)
        :param tb_log_name: name of the TensorBoard run
        :param reset_num_timesteps: start the step count from zero
        :param progress_bar: show a progress bar
        """
        total_timesteps, callback = self._setup_learn(total_timesteps, callback, reset_num_timesteps, tb_log_name, progress_bar)
        assert self.env is not None
        env_fn = self.env_fn if self.env_fn is not None else env_factory_from(self.env)
        seed = None if self.seed is None else self.seed + 1 + self._learn_calls * self.n_workers
        self._learn_calls += 1
        settings = WorkerSettings(
            env_fn=env_fn,
            n_steps=self.n_steps,
            gamma=self.gamma,
            ent_coef=self.ent_coef,
            vf_coef=self.vf_coef,
            max_grad_norm=self.max_grad_norm,
            total_timesteps=total_timesteps,
            seed=seed,
            adam_kwargs={k: v for k, v in self.policy.optimizer.defaults.items() if k in ("betas", "eps", "weight_decay", "amsgrad")},
        )
        self.policy.share_memory()
        optimizer_state = share_adam_state(self.policy.optimizer)
        context = mp.get_context(self.start_method)
        counter = context.Value("q", self.num_timesteps)
        learning_rate = context.Value("d", self.lr_schedule(self._current_progress_remaining))
        stop = context.Event()
        reports = context.Queue()
        workers = [
            context.Process(
                target=worker_loop,
                args=(rank, settings, self.policy, optimizer_state, counter, learning_rate, stop, reports),
                name=f"a3c-worker-{rank}",
                daemon=True,
            )
            for rank in range(self.n_workers)
        ]
        callback.on_training_start(locals(), globals())
        callback.on_rollout_start()
        try:
            for worker in workers:
                worker.start()
            self._drive_callbacks(workers, reports, stop, callback, total_timesteps, learning_rate, log_interval)
        finally:
            stop.set()
            _stop_workers(workers, reports)
        with counter.get_lock():
            assert self.num_timesteps == counter.value, "A3C lost count of its workers' steps"
        self._update_current_progress_remaining(self.num_timesteps, total_timesteps)
        callback.on_rollout_end()
        callback.on_training_end()
        return self

    def _drive_callbacks(
        self,
        workers: list,
        reports: Any,
        stop: Any,
        callback: Any,
        total_timesteps: int,
        learning_rate: Any,
        log_interval: int | None,
    ) -> None:
        """Receive the workers' reports until every worker is done; callbacks once per reported step."""
        running = set(range(len(workers)))
        quiet_since: dict[int, float] = {}
        stopping = False
        while running:
            try:
                message = reports.get(timeout=0.2)
            except queue.Empty:
                for rank in list(running):  # a worker killed from outside sends nothing: notice it
                    code = workers[rank].exitcode
                    if code is not None and code != 0:
                        raise A3CWorkerError(f"A3C worker {rank} died with exit code {code}")
                    if code == 0 and time.monotonic() - quiet_since.setdefault(rank, time.monotonic()) > 5.0:
                        running.discard(rank)
                continue
            kind, rank = message[0], message[1]
            if kind == "error":
                raise A3CWorkerError(f"A3C worker {rank} failed:\n{message[2]}")
            if kind == "done":
                running.discard(rank)
                continue
            n_steps, episodes = message[2], dict(message[3])
            self._last_losses = dict(message[4]) or self._last_losses
            for step in range(n_steps):
                self.num_timesteps += 1
                if stopping:
                    continue  # steps already taken when the stop came: counted, not reported
                episode = episodes.get(step)
                dones = np.array([episode is not None])
                infos = [{"episode": episode}] if episode is not None else [{}]
                callback.update_locals({"dones": dones, "infos": infos, "rewards": None, "worker": rank})
                if not callback.on_step():
                    stopping = True
                    stop.set()
                    continue
                self._update_info_buffer(infos, dones)
                if episode is not None:
                    self._episode_num += 1
            self._n_updates += 1
            self._update_current_progress_remaining(self.num_timesteps, total_timesteps)
            learning_rate.value = self.lr_schedule(self._current_progress_remaining)
            if log_interval is not None and self._n_updates % log_interval == 0:
                self.dump_logs()

    def dump_logs(self) -> None:
        """Write the episode statistics, counters, speed and the last losses to the logger (SB3's keys,
        :mod:`agents.common.logging`)."""
        self.logger.record("time/episodes", self._episode_num, exclude="tensorboard")
        self.logger.record("train/n_updates", self._n_updates, exclude="tensorboard")
        for key, value in self._last_losses.items():
            self.logger.record(f"train/{key}", value)
        dump_logs(self)

    def _excluded_save_params(self) -> list[str]:
        return [*super()._excluded_save_params(), "env_fn", "_last_losses"]

    def _get_torch_save_params(self) -> tuple[list[str], list[str]]:
        return ["policy", "policy.optimizer"], []


def _stop_workers(workers: list, reports: Any, grace_s: float = 10.0) -> None:
    """Wait for the (already told to stop) workers, draining their reports; terminate any left."""
    workers = [worker for worker in workers if worker.pid is not None]  # those that were started
    deadline = time.monotonic() + grace_s
    while any(worker.is_alive() for worker in workers) and time.monotonic() < deadline:
        try:
            while True:  # a child blocks at exit until what it put in the queue is read
                reports.get_nowait()
        except queue.Empty:
            pass
        for worker in workers:
            worker.join(timeout=0.05)
    for worker in workers:
        if worker.is_alive():
            worker.terminate()
            worker.join(timeout=2.0)
        if worker.is_alive():
            worker.kill()
            worker.join()
        worker.close()
    reports.close()
    reports.join_thread()
