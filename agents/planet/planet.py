"""PlaNet: a latent world model planned with CEM (Hafner et al., 2019), on SB3's ``BaseAlgorithm``.

The loop of the paper (``rl-algorithms-notes.md``, "PlaNet"):

1. collect ``seed_episodes`` episodes with uniformly random actions into the episode replay;
2. repeat until ``total_timesteps`` environment steps:

   a. ``update_every`` gradient steps on the world model (:mod:`agents.planet.world_model`), each on
      ``batch_size`` chunks of ``sequence_length`` steps, loss = the ELBO with ``free_nats``;
   b. one episode with the planner: at every step update the belief with the new observation (the
      posterior's mean), plan with CEM in latent space (:mod:`agents.planet.planner`), add Gaussian
      exploration noise ``exploration_noise`` to the planned action, store the episode.

Actions are planned in ``[-1, 1]`` and rescaled to the env's bounds. Action repeat is an env wrapper
(:class:`agents.planet.wrappers.ActionRepeat`, set in the config); terminations are not modelled (the
paper's tasks have none). ``predict`` carries the belief across calls the way SB3's recurrent policies
do: pass back the ``state`` it returns and ``episode_start`` (the previous step's ``done``).
"""

from __future__ import annotations

import time
from typing import Any, ClassVar, TypeVar

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.policies import BasePolicy
from stable_baselines3.common.preprocessing import is_image_space, maybe_transpose
from stable_baselines3.common.type_aliases import GymEnv, MaybeCallback, Schedule
from stable_baselines3.common.utils import safe_mean

from agents.common.evaluation import EvaluationRequest, run_episodes, summarise
from agents.planet.planner import cem_plan
from agents.planet.replay import EpisodeReplay
from agents.planet.world_model import (
    RSSM, ConvDecoder, ConvEncoder, RewardModel, StateDecoder, StateEncoder, free_nats_kl, preprocess_pixels,
)

SelfPlaNet = TypeVar("SelfPlaNet", bound="PlaNet")

#: The loss terms kept on the model after training (``loss_observation`` ...), averaged over the last updates.
LOSS_NAMES = ("observation", "reward", "kl", "total")


class PlaNetPolicy(BasePolicy):
    """The world model (encoder, RSSM, decoder, reward model) and its optimizer, for vector observations.

    :param observation_space: observation space (a 1-D ``Box``; images: :class:`PlaNetCnnPolicy`)
    :param action_space: action space (a bounded ``Box``)
    :param lr_schedule: learning rate schedule (only its first value is used)
    :param deterministic_size: units of the GRU belief ``h``
    :param stochastic_size: dimensions of the Gaussian state ``s``
    :param hidden_size: units of the hidden layers (RSSM, encoder, decoder, reward model)
    :param embedding_size: size of the state encoder's features (images: set by the convolutions)
    :param cnn_depth: channels of the first convolution (images only; doubled at each of the four)
    :param min_std: lower bound of the Gaussians' standard deviations
    :param bit_depth: bits per colour channel images are reduced to (images only)
    :param optimizer_class: optimizer of the world model
    :param optimizer_kwargs: its arguments besides the learning rate (default ``eps=1e-4``, the paper's Adam)
    """

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Box,
        lr_schedule: Schedule,
        deterministic_size: int = 200,
        stochastic_size: int = 30,
        hidden_size: int = 200,
        embedding_size: int = 200,
        cnn_depth: int = 32,
        min_std: float = 0.1,
        bit_depth: int = 5,
        optimizer_class: type[th.optim.Optimizer] = th.optim.Adam,
        optimizer_kwargs: dict[str, Any] | None = None,
    ):
        super().__init__(observation_space, action_space, optimizer_class=optimizer_class,
                         optimizer_kwargs={"eps": 1e-4} if optimizer_kwargs is None else optimizer_kwargs)
        self.pixels = is_image_space(observation_space, check_channels=False)
        self._check_observation_space()
        self.bit_depth = bit_depth
        self.action_dim = int(np.prod(action_space.shape))
        self.hyperparams = dict(deterministic_size=deterministic_size, stochastic_size=stochastic_size, hidden_size=hidden_size,
                                embedding_size=embedding_size, cnn_depth=cnn_depth, min_std=min_std, bit_depth=bit_depth)
        if self.pixels:
            self.encoder: th.nn.Module = ConvEncoder(observation_space.shape[0], cnn_depth)
            embedding_size = self.encoder.embedding_size
        else:
            self.encoder = StateEncoder(int(np.prod(observation_space.shape)), hidden_size, embedding_size)
        self.rssm = RSSM(self.action_dim, embedding_size, deterministic_size, stochastic_size, hidden_size, min_std)
        latent = self.rssm.latent_size
        self.decoder = ConvDecoder(latent, observation_space.shape[0], cnn_depth) if self.pixels else StateDecoder(latent, hidden_size, int(np.prod(observation_space.shape)))
        self.reward_model = RewardModel(latent, hidden_size)
        self.optimizer = self.optimizer_class(self.parameters(), lr=lr_schedule(1), **self.optimizer_kwargs)

    def _check_observation_space(self) -> None:
        if self.pixels or not (isinstance(self.observation_space, spaces.Box) and len(self.observation_space.shape) == 1):
            raise ValueError(f"MlpPolicy needs a 1-D Box observation space, got {self.observation_space} (images: CnnPolicy)")

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()
        data.update(self.hyperparams, optimizer_class=self.optimizer_class, optimizer_kwargs=self.optimizer_kwargs)
        return data

    # ---------------------------------------------------------------- the model's parts
    def observation_target(self, obs: th.Tensor, noise: bool = False) -> th.Tensor:
        """Observations as the model sees them: 5-bit floats for images, floats otherwise."""
        return preprocess_pixels(obs, self.bit_depth, noise) if self.pixels else obs.float()

    def embed(self, obs: th.Tensor, noise: bool = False) -> th.Tensor:
        return self.encoder(self.observation_target(obs, noise))

    def imagine_step(self, latent: th.Tensor, action: th.Tensor) -> th.Tensor:
        return self.rssm.imagine_step(latent, action)

    def predict_reward(self, latent: th.Tensor) -> th.Tensor:
        return self.reward_model(latent)

    def initial_state(self, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The belief at an episode's start: ``h = 0``, ``s = 0`` and a zero previous action, for ``n`` envs."""
        return (np.zeros((n, self.rssm.deterministic_size), np.float32), np.zeros((n, self.rssm.stochastic_size), np.float32),
                np.zeros((n, self.action_dim), np.float32))

    @th.no_grad()
    def filter(self, obs: th.Tensor, h: th.Tensor, s: th.Tensor, action: th.Tensor) -> tuple[th.Tensor, th.Tensor]:
        """Belief update with a new observation: ``h' = GRU(h, f(s, a))``, ``s'`` = the posterior's mean."""
        h = self.rssm.deterministic_step(h, s, action)
        return h, self.rssm.posterior(h, self.embed(obs)).mean

    # ---------------------------------------------------------------- the loss (ELBO)
    def loss(self, observations: th.Tensor, actions: th.Tensor, rewards: th.Tensor, free_nats: float) -> dict[str, th.Tensor]:
        """Negative ELBO of a batch of chunks (see :mod:`agents.planet.world_model`).

        :param observations: ``(L, B, ...)`` raw observations ``o_0 .. o_{L-1}``
        :param actions: ``(L - 1, B, A)`` normalised actions; ``rewards``: ``(L - 1, B)``, ``r_t`` after ``a_t``
        :param free_nats: the KL term's floor
        """
        targets = self.observation_target(observations, noise=True)
        out = self.rssm.observe(self.encoder(targets), actions)
        latent = th.cat([out["h"], out["s"]], dim=-1)
        dims = tuple(range(2, targets.dim()))
        observation_loss = 0.5 * ((self.decoder(latent) - targets) ** 2).sum(dim=dims).mean()
        reward_loss = 0.5 * ((self.reward_model(latent[1:]) - rewards) ** 2).mean()
        kl_loss = free_nats_kl(out["posterior"], out["prior"], free_nats)
        total = observation_loss + reward_loss + kl_loss
        return {"observation": observation_loss, "reward": reward_loss, "kl": kl_loss, "total": total}

    @th.no_grad()
    def open_loop(self, observations: th.Tensor, actions: th.Tensor, context: int) -> th.Tensor:
        """Decoded predictions of one sequence: filtered for ``context`` steps, then imagined from the actions.

        :param observations: ``(T, ...)`` raw observations; ``actions``: ``(T - 1, A)`` normalised actions
        :return: ``(T, ...)`` decoded means (floats as :meth:`observation_target` gives them)
        """
        out = self.rssm.observe(self.embed(observations[:context, None]), actions[: context - 1, None])
        latent = th.cat([out["h"][-1, 0], out["posterior"].mean[-1, 0]])
        latents = [th.cat([out["h"][t, 0], out["posterior"].mean[t, 0]]) for t in range(context)]
        for t in range(context - 1, len(observations) - 1):
            latent = self.imagine_step(latent[None], actions[t][None])[0]
            latents.append(latent)
        return self.decoder(th.stack(latents))

    def _predict(self, observation: th.Tensor, deterministic: bool = False) -> th.Tensor:
        raise NotImplementedError("PlaNet plans with a belief state: call PlaNet.predict(obs, state, episode_start)")


class PlaNetCnnPolicy(PlaNetPolicy):
    """:class:`PlaNetPolicy` for images (channels first after SB3's transpose): convolutional encoder and decoder."""

    def _check_observation_space(self) -> None:
        if not self.pixels:
            raise ValueError(f"CnnPolicy needs image observations (uint8, e.g. 64x64x3), got {self.observation_space}")
        if tuple(self.observation_space.shape[1:]) != (64, 64):
            raise ValueError(f"CnnPolicy needs 64x64 images, got shape {self.observation_space.shape} "
                             "(agents.planet.wrappers.PixelObservation renders them)")


class PlaNet(BaseAlgorithm):
    """PlaNet: learn a recurrent state-space model from sequence chunks, act by CEM planning in its latent space.

    :param policy: ``"MlpPolicy"`` (vector observations) or ``"CnnPolicy"`` (64x64 images), or the class
    :param env: environment, or its gymnasium id (one env; continuous actions with finite bounds)
    :param learning_rate: learning rate of the world model's Adam
    :param buffer_size: environment steps kept in the episode replay
    :param batch_size: chunks per gradient step ``B``
    :param sequence_length: observations per chunk ``L``
    :param free_nats: KL below this many nats is not penalised
    :param max_grad_norm: clip the gradient to this global norm
    :param seed_episodes: episodes of random actions collected before the first update
    :param update_every: gradient steps between two collected episodes (the paper's collect interval ``C``)
    :param exploration_noise: standard deviation of the Gaussian noise on planned actions while collecting
        (and in ``predict`` with ``deterministic=False``), in the normalised ``[-1, 1]`` action scale
    :param horizon: planning horizon ``H``
    :param n_candidates: action sequences CEM draws per iteration ``J``
    :param n_elites: best sequences CEM refits to ``K``
    :param cem_iterations: CEM iterations ``I``
    :param stats_window_size: episodes averaged in the logged episode statistics
    :param tensorboard_log: folder for TensorBoard logs (``None``: no logging)
    :param policy_kwargs: sizes of the world model (see :class:`PlaNetPolicy`)
    :param verbose: 0 silent, 1 training statistics
    :param seed: random seed
    :param device: torch device (``"cpu"``, ``"cuda"``, ``"auto"``)
    :param _init_setup_model: build the networks at construction (``False`` when loading)
    """

    policy_aliases: ClassVar[dict[str, type[BasePolicy]]] = {"MlpPolicy": PlaNetPolicy, "CnnPolicy": PlaNetCnnPolicy}
    policy: PlaNetPolicy

    def __init__(
        self,
        policy: str | type[PlaNetPolicy],
        env: GymEnv | str | None,
        learning_rate: float | Schedule = 1e-3,
        buffer_size: int = 1_000_000,
        batch_size: int = 50,
        sequence_length: int = 50,
        free_nats: float = 3.0,
        max_grad_norm: float = 1000.0,
        seed_episodes: int = 5,
        update_every: int = 100,
        exploration_noise: float = 0.3,
        horizon: int = 12,
        n_candidates: int = 1000,
        n_elites: int = 100,
        cem_iterations: int = 10,
        stats_window_size: int = 100,
        tensorboard_log: str | None = None,
        policy_kwargs: dict[str, Any] | None = None,
        verbose: int = 0,
        seed: int | None = None,
        device: th.device | str = "auto",
        _init_setup_model: bool = True,
    ) -> None:
        super().__init__(policy, env, learning_rate=learning_rate, policy_kwargs=policy_kwargs, stats_window_size=stats_window_size,
                         tensorboard_log=tensorboard_log, verbose=verbose, device=device, support_multi_env=False, seed=seed,
                         supported_action_spaces=(spaces.Box,))
        for name, value, least in (("batch_size", batch_size, 1), ("sequence_length", sequence_length, 2), ("seed_episodes", seed_episodes, 1),
                                   ("update_every", update_every, 1), ("horizon", horizon, 1), ("n_elites", n_elites, 2),
                                   ("cem_iterations", cem_iterations, 1)):
            if value < least:
                raise ValueError(f"{name} must be at least {least}, got {value}")
        if n_candidates < n_elites:
            raise ValueError(f"n_candidates ({n_candidates}) must be at least n_elites ({n_elites})")
        self.buffer_size = buffer_size
        self.batch_size = batch_size
        self.sequence_length = sequence_length
        self.free_nats = free_nats
        self.max_grad_norm = max_grad_norm
        self.seed_episodes = seed_episodes
        self.update_every = update_every
        self.exploration_noise = exploration_noise
        self.horizon = horizon
        self.n_candidates = n_candidates
        self.n_elites = n_elites
        self.cem_iterations = cem_iterations
        # figures kept on the model (plain floats, so they are saved readable): the last training's losses, planner time
        for name in LOSS_NAMES:
            setattr(self, f"loss_{name}", float("nan"))
        self.planner_seconds = 0.0
        self.planned_actions = 0
        if _init_setup_model:
            self._setup_model()

    def _setup_model(self) -> None:
        self._setup_lr_schedule()
        self.set_random_seed(self.seed)
        self.policy = self.policy_class(self.observation_space, self.action_space, self.lr_schedule, **self.policy_kwargs).to(self.device)
        self.replay = EpisodeReplay(self.buffer_size)
        self._rng = np.random.default_rng(self.seed)

    # ---------------------------------------------------------------- acting
    def _to_env_action(self, action: np.ndarray) -> np.ndarray:
        """``[-1, 1]`` actions to the env's bounds."""
        low, high = self.action_space.low, self.action_space.high
        return (low + (action + 1.0) * 0.5 * (high - low)).astype(self.action_space.dtype)

    def plan(self, h: th.Tensor, s: th.Tensor) -> np.ndarray:
        """CEM from each belief ``(h_i, s_i)``; returns normalised actions ``(n, A)`` and times the planner."""
        start = time.perf_counter()
        actions = [cem_plan(self.policy, th.cat([h[i], s[i]]), self.policy.action_dim, self.horizon, self.n_candidates,
                            self.n_elites, self.cem_iterations) for i in range(h.shape[0])]
        self.planner_seconds += time.perf_counter() - start
        self.planned_actions += h.shape[0]
        return th.stack(actions).cpu().numpy()

    def predict(
        self,
        observation: np.ndarray | dict[str, np.ndarray],
        state: tuple[np.ndarray, ...] | None = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = False,
    ) -> tuple[np.ndarray, tuple[np.ndarray, ...] | None]:
        """Update the belief with ``observation`` and plan an action.

        :param observation: one observation or a batch of them (one per env)
        :param state: the belief returned by the previous call (``None``: every env starts an episode)
        :param episode_start: per env, whether ``observation`` is the first of an episode (the belief is reset)
        :param deterministic: the planned action as it is (else with ``exploration_noise``)
        :return: the env-scaled actions and the new belief ``(h, s, action)`` to pass back next time
        """
        obs = np.asarray(observation)
        if self.policy.pixels:
            obs = maybe_transpose(obs, self.observation_space)
        single = obs.shape == self.observation_space.shape
        if single:
            obs = obs[None]
        n = obs.shape[0]
        h, s, a = (np.array(part, dtype=np.float32, copy=True) for part in (state or self.policy.initial_state(n)))
        if episode_start is not None:
            starts = np.asarray(episode_start, dtype=bool).reshape(n)
            h[starts], s[starts], a[starts] = 0.0, 0.0, 0.0
        self.policy.set_training_mode(False)
        tensor = lambda x: th.as_tensor(x, device=self.device)  # noqa: E731
        h_t, s_t = self.policy.filter(tensor(obs), tensor(h), tensor(s), tensor(a))
        actions = self.plan(h_t, s_t)
        if not deterministic:
            actions = np.clip(actions + self.exploration_noise * np.random.randn(*actions.shape), -1.0, 1.0).astype(np.float32)
        new_state = (h_t.cpu().numpy(), s_t.cpu().numpy(), actions)
        env_actions = self._to_env_action(actions).reshape(n, *self.action_space.shape)
        return (env_actions[0] if single else env_actions), new_state

    # ---------------------------------------------------------------- collecting episodes
    def collect_episode(self, callback: Any, total_timesteps: int, random: bool) -> bool:
        """Play one episode (random actions or the planner with exploration noise), store it in the replay.

        Ends early at ``total_timesteps`` or when a callback asks to stop (the steps so far are stored).

        :return: ``False`` when a callback asked to stop training
        """
        env = self.env
        assert env is not None and self._last_obs is not None
        observations, actions, rewards = [self._last_obs[0]], [], []
        state, episode_start = None, np.ones(1, dtype=bool)
        keep_going = True
        callback.on_rollout_start()
        while True:
            if random:
                action = self._rng.uniform(-1.0, 1.0, self.policy.action_dim).astype(np.float32)
            else:
                _, state = self.predict(self._last_obs, state, episode_start, deterministic=False)
                action = state[2][0]
            new_obs, reward, dones, infos = env.step(self._to_env_action(action).reshape(1, *self.action_space.shape))
            self.num_timesteps += 1
            episode_start = dones
            observations.append(infos[0]["terminal_observation"] if dones[0] else new_obs[0])
            actions.append(action)
            rewards.append(reward[0])
            self._last_obs = new_obs
            callback.update_locals(locals())
            if not callback.on_step():
                keep_going = False
            self._update_info_buffer(infos, dones)
            if dones[0]:
                self._episode_num += 1
            if dones[0] or not keep_going or self.num_timesteps >= total_timesteps:
                break
        self.replay.add(np.stack(observations), np.stack(actions), np.asarray(rewards))
        if not dones[0]:  # the next episode starts from a fresh reset
            self._last_obs = env.reset()
        callback.on_rollout_end()
        return keep_going

    # ---------------------------------------------------------------- training the world model
    def train(self, gradient_steps: int) -> None:
        """``gradient_steps`` Adam steps on the negative ELBO of sampled chunks; keeps the mean losses on the model."""
        self.policy.set_training_mode(True)
        self._update_learning_rate(self.policy.optimizer)
        sums = dict.fromkeys(LOSS_NAMES, 0.0)
        for _ in range(gradient_steps):
            batch = self.replay.sample(self.batch_size, self.sequence_length, self._rng)
            tensors = {key: th.as_tensor(value, device=self.device) for key, value in batch.items()}
            losses = self.policy.loss(tensors["observations"], tensors["actions"], tensors["rewards"], self.free_nats)
            self.policy.optimizer.zero_grad()
            losses["total"].backward()
            th.nn.utils.clip_grad_norm_(self.policy.parameters(), self.max_grad_norm)
            self.policy.optimizer.step()
            for key in LOSS_NAMES:
                sums[key] += losses[key].item()
        self._n_updates += gradient_steps
        self.policy.set_training_mode(False)
        for key in LOSS_NAMES:
            setattr(self, f"loss_{key}", sums[key] / gradient_steps)
            self.logger.record(f"train/loss_{key}", sums[key] / gradient_steps)
        self.logger.record("train/n_updates", self._n_updates, exclude="tensorboard")

    def learn(
        self: SelfPlaNet,
        total_timesteps: int,
        callback: MaybeCallback = None,
        log_interval: int = 1,
        tb_log_name: str = "PlaNet",
        reset_num_timesteps: bool = True,
        progress_bar: bool = False,
    ) -> SelfPlaNet:
        """Train for ``total_timesteps`` environment steps (the loop of the module docstring).

        :param total_timesteps: environment steps (one callback step each)
        :param callback: SB3 callback(s)
        :param log_interval: log every this many collected episodes (``None``: never)
        :param tb_log_name: name of the TensorBoard run
        :param reset_num_timesteps: start the step count from zero
        :param progress_bar: show a progress bar
        """
        total_timesteps, callback = self._setup_learn(total_timesteps, callback, reset_num_timesteps, tb_log_name, progress_bar)
        callback.on_training_start(locals(), globals())
        episodes = 0
        while self.num_timesteps < total_timesteps:
            seeding = len(self.replay) < self.seed_episodes
            if not seeding:
                self.train(self.update_every)
            self.planner_seconds, self.planned_actions = 0.0, 0
            if not self.collect_episode(callback, total_timesteps, random=seeding):
                break
            episodes += 1
            self._update_current_progress_remaining(self.num_timesteps, total_timesteps)
            if log_interval is not None and episodes % log_interval == 0:
                self.dump_logs()
        callback.on_training_end()
        return self

    def dump_logs(self) -> None:
        """Episode statistics, planner time and counters to the logger."""
        assert self.ep_info_buffer is not None
        if len(self.ep_info_buffer) > 0:
            self.logger.record("rollout/ep_rew_mean", safe_mean([info["r"] for info in self.ep_info_buffer]))
            self.logger.record("rollout/ep_len_mean", safe_mean([info["l"] for info in self.ep_info_buffer]))
        if self.planned_actions:
            self.logger.record("time/planner_seconds_per_action", self.planner_seconds / self.planned_actions)
        self.logger.record("time/episodes", self._episode_num, exclude="tensorboard")
        self.logger.record("time/total_timesteps", self.num_timesteps, exclude="tensorboard")
        self.logger.dump(step=self.num_timesteps)

    # ---------------------------------------------------------------- evaluation figures, saving
    def evaluation_figures(self, request: EvaluationRequest) -> dict[str, Any]:
        """The standard figures, the planner's seconds per action, and the last training's model losses."""
        self.planner_seconds, self.planned_actions = 0.0, 0
        figures = summarise(run_episodes(self, request), request)
        figures["planner_seconds_per_action"] = self.planner_seconds / max(self.planned_actions, 1)
        for name in LOSS_NAMES:
            value = float(getattr(self, f"loss_{name}"))
            if np.isfinite(value):
                figures[f"model_loss/{name}"] = value
        return figures

    def _excluded_save_params(self) -> list[str]:
        return [*super()._excluded_save_params(), "replay", "_rng"]

    def _get_torch_save_params(self) -> tuple[list[str], list[str]]:
        return ["policy", "policy.optimizer"], []
