"""QMIX: monotonic value function factorisation for cooperative multi-agent RL (Rashid et al., 2018).

Centralised training, decentralised execution, as in the notes (``rl-algorithms-notes.md``, "QMIX"), with
EPyMARL's choices (Papoudakis et al., 2021: its ``qmix.yaml`` and ``default.yaml``) as defaults:

1. every agent ``i`` acts epsilon-greedily on its own ``Q_i(o_i, .)`` among its available actions (one
   network shared by all agents, told apart by a one-hot id; epsilon falls linearly from 1.0 to 0.05 over
   50,000 env steps); the joint step goes into the current episode;
2. each finished episode goes whole into an episode replay buffer (5,000 episodes); after each, once it
   holds ``batch_size`` episodes, one update on 32 episodes sampled whole (padded and masked);
3. the target, double-Q (EPyMARL's ``double_q``): each agent's next action is the argmax of the *online*
   ``Q_i`` among the available next actions, valued by the *target* network,
   ``y_t = r_t + gamma (1 - terminated_t) Q'_tot(s_{t+1}, a'_{t+1})``, ``Q'_tot`` the target mixer's;
   the rewards are standardised by a running mean and variance (``standardize_rewards``);
4. the loss ``sum_t filled_t (Q_tot(s_t, a_t) - y_t)^2 / sum_t filled_t`` over agent network and mixer
   together (Adam 5e-4, gradient norm clipped to 10);
5. hard copy of agent network and mixer into their targets every 200 episodes (``tau=1``); with ``tau < 1``
   a soft (Polyak) update ``theta' <- tau theta + (1 - tau) theta'`` every ``target_update_interval``
   episodes instead (EPyMARL's ``target_update_interval_or_tau`` below 1, which its MPE settings use).

``mixer="qmix"``: ``Q_tot`` is a monotonic mixing network with hypernetworks on the global state
(``info["state"]`` of the multi-agent adapter); ``"vdn"``: their sum; ``None``: no ``Q_tot``, each agent
learns ``Q_i(o_i, a_i) -> r_t + gamma Q'_i(o'_i, a'_i)`` on the team reward (independent Q-learners).
The update runs every agent of every step of the batch through the networks at once
(:func:`qmix_loss`); ``benchmarks/qmix.py`` times it against the per-agent loop of the notes' code
(:mod:`agents.qmix.reference`).

QMIX optimises the team reward: the adapter's reward, the sum of the agents' rewards. It refuses envs
whose agents compete (see :func:`competitive_reason`); MADDPG learns from each agent's own reward.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar, TypeVar

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.policies import BasePolicy
from stable_baselines3.common.running_mean_std import RunningMeanStd
from stable_baselines3.common.type_aliases import GymEnv, MaybeCallback, Schedule
from stable_baselines3.common.utils import polyak_update, safe_mean
from stable_baselines3.common.vec_env import VecEnv

from agents.errors import ZooError
from agents.qmix.buffer import EpisodeBatch, EpisodeReplayBuffer
from agents.qmix.policies import MIXERS, QMIXPolicy, QMIXRnnPolicy

SelfQMIX = TypeVar("SelfQMIX", bound="QMIX")

#: mpe2 scenarios whose agents play against each other (adversaries, predators and prey, eavesdroppers)
COMPETITIVE_SCENARIOS = ("simple_adversary", "simple_crypto", "simple_push", "simple_tag", "simple_world_comm")


def competitive_reason(multiagent: dict[str, Any]) -> str | None:
    """Why an env's agents compete (so QMIX's team reward means nothing), or ``None`` for a cooperative one.

    A reward stream cannot tell a team from rivals, so this goes by what the env is: one of mpe2's
    competitive scenarios, or agents named adversaries (PettingZoo's convention). Other envs are trained
    on the sum of the agents' rewards, as EPyMARL does for lbforaging's tasks with individual rewards.
    """
    name = str(multiagent.get("name", ""))
    scenario = re.sub(r"_v\d+$", "", name.split("/")[-1])
    if scenario in COMPETITIVE_SCENARIOS:
        return f"{name} is competitive (its agents get different, opposing rewards)"
    rivals = [agent for agent in multiagent.get("agent_ids", []) if "adversary" in agent]
    if rivals:
        return f"{name} has adversaries ({', '.join(rivals)}): its agents get different rewards"
    return None


def _wrap_multiagent_env(env: Any) -> Any:
    """A PettingZoo / lbforaging env (or an mpe2/... id) as the adapter's gymnasium env; other envs unchanged."""
    from agents.multiagent.adapter import as_multiagent_env
    from agents.multiagent.envs import make_multiagent

    if isinstance(env, str):
        import gymnasium as gym

        return env if env in gym.registry else make_multiagent(env)
    if isinstance(env, VecEnv):
        return env
    return as_multiagent_env(env, algo="QMIX")


def qmix_loss(policy: QMIXPolicy, batch: EpisodeBatch, gamma: float, double_q: bool = True) -> th.Tensor:
    """The masked TD loss of QMIX (VDN, IQL) on a batch of episodes, every agent and step in one pass.

    :param policy: the networks
    :param batch: the episodes (rewards already standardised where wanted)
    :param gamma: discount factor
    :param double_q: pick the next actions with the online network (else: max of the target network)
    """
    inputs = policy.agent_inputs(batch.obs)  # (B, T+1, n, obs + n)
    q = policy.agent.sequence(inputs)  # (B, T+1, n, A)
    chosen = q[:, :-1].gather(-1, batch.actions.unsqueeze(-1)).squeeze(-1)  # (B, T, n)
    with th.no_grad():
        next_avail = batch.avail[:, 1:]
        next_avail = next_avail | ~next_avail.any(dim=-1, keepdim=True)  # no action at all: none is excluded
        target_q = policy.agent_target.sequence(inputs if policy.recurrent else inputs[:, 1:])  # a GRU runs from t=0
        if policy.recurrent:
            target_q = target_q[:, 1:]
        if double_q:
            best = q[:, 1:].detach().masked_fill(~next_avail, -th.inf).argmax(dim=-1, keepdim=True)
            next_q = target_q.gather(-1, best).squeeze(-1)  # (B, T, n)
        else:
            next_q = target_q.masked_fill(~next_avail, -th.inf).max(dim=-1).values
        not_done = 1.0 - batch.terminated
        state = policy.scaled_state(batch.state)
        if policy.mixer is not None:
            targets = batch.rewards + gamma * not_done * policy.mixer_target(next_q, state[:, 1:])
        else:
            targets = batch.rewards.unsqueeze(-1) + gamma * not_done.unsqueeze(-1) * next_q
    if policy.mixer is not None:
        td = policy.mixer(chosen, state[:, :-1]) - targets
        mask = batch.filled
    else:
        td = chosen - targets
        mask = batch.filled.unsqueeze(-1).expand_as(td)
    return (td.pow(2) * mask).sum() / mask.sum().clamp(min=1.0)


class QMIX(BaseAlgorithm):
    """QMIX, with VDN and independent Q-learners as its mixer options (see the module docstring).

    :param policy: ``"MlpPolicy"`` (feed-forward agents), ``"RnnPolicy"`` (GRU agents), or the class
    :param env: a cooperative PettingZoo parallel env, a simultaneous-move AEC env, an lbforaging env, an
        ``mpe2/...`` or ``lbforaging/...`` id, or a VecEnv of envs made by the multi-agent adapter; every
        agent's actions ``Discrete``
    :param mixer: ``"qmix"`` (monotonic mixing on the global state), ``"vdn"`` (sum) or ``None``
        (independent Q-learners)
    :param learning_rate: learning rate (Adam), a float or a schedule
    :param buffer_size: episodes in the replay buffer
    :param batch_size: episodes per update
    :param gamma: discount factor
    :param train_freq: one update after every ``train_freq`` finished episodes
    :param target_update_interval: update the targets every this many episodes
    :param tau: the target update's coefficient: 1 copies the networks (hard update), less moves the targets
        that share of the way towards them (soft, Polyak update)
    :param exploration_initial_eps: epsilon at the start
    :param exploration_final_eps: epsilon after ``exploration_steps``
    :param exploration_steps: env steps (over all envs) over which epsilon falls linearly
    :param max_grad_norm: clip the gradient to this global norm
    :param double_q: double-Q targets (next actions chosen by the online network)
    :param standardize_rewards: standardise the rewards of each batch by their running mean and std
    :param mixing_embed_dim: width of QMIX's mixing layer
    :param hypernet_embed: width of QMIX's hypernetworks
    :param multiagent: the agents' structure (:class:`~agents.multiagent.adapter.MultiAgentSpec` as a dict);
        read from the env when there is one, needed only to build the networks without an env (loading)
    :param policy_kwargs: extra arguments of the policy (``hidden_dim``, ``recurrent``)
    :param stats_window_size: episodes averaged in the logged statistics
    :param tensorboard_log: folder for TensorBoard logs
    :param verbose: 0 silent, 1 training statistics, 2 debug
    :param seed: random seed
    :param device: torch device
    :param _init_setup_model: build the networks at construction (``False`` when loading)
    """

    policy_aliases: ClassVar[dict[str, type[BasePolicy]]] = {"MlpPolicy": QMIXPolicy, "RnnPolicy": QMIXRnnPolicy}
    policy: QMIXPolicy

    def __init__(
        self,
        policy: str | type[QMIXPolicy],
        env: GymEnv | str | Any,
        mixer: str | None = "qmix",
        learning_rate: float | Schedule = 5e-4,
        buffer_size: int = 5000,
        batch_size: int = 32,
        gamma: float = 0.99,
        train_freq: int = 1,
        target_update_interval: int = 200,
        tau: float = 1.0,
        exploration_initial_eps: float = 1.0,
        exploration_final_eps: float = 0.05,
        exploration_steps: int = 50_000,
        max_grad_norm: float = 10.0,
        double_q: bool = True,
        standardize_rewards: bool = True,
        mixing_embed_dim: int = 32,
        hypernet_embed: int = 64,
        multiagent: dict[str, Any] | None = None,
        policy_kwargs: dict[str, Any] | None = None,
        stats_window_size: int = 100,
        tensorboard_log: str | None = None,
        verbose: int = 0,
        seed: int | None = None,
        device: th.device | str = "auto",
        _init_setup_model: bool = True,
    ):
        if mixer not in MIXERS:
            raise ZooError(f"unknown mixer {mixer!r}; QMIX's mixers are 'qmix', 'vdn' and None (independent learners)")
        if env is not None:
            env = _wrap_multiagent_env(env)
            if not isinstance(env, str):  # refused before SB3 asserts the action space
                self._read_multiagent(env)
                self._check_env_spaces(env)
        super().__init__(policy, env, learning_rate, policy_kwargs=policy_kwargs, stats_window_size=stats_window_size,
                         tensorboard_log=tensorboard_log, verbose=verbose, device=device, seed=seed,
                         support_multi_env=True, supported_action_spaces=(spaces.MultiDiscrete,))
        for name, value, low in (("buffer_size", buffer_size, 1), ("batch_size", batch_size, 1), ("train_freq", train_freq, 1),
                                 ("target_update_interval", target_update_interval, 1), ("exploration_steps", exploration_steps, 0)):
            if int(value) < low:
                raise ValueError(f"{name} must be at least {low}, got {value}")
        self.mixer = mixer
        self.buffer_size, self.batch_size, self.gamma = int(buffer_size), int(batch_size), gamma
        if not 0.0 < tau <= 1.0:
            raise ValueError(f"tau must be in (0, 1] (1: hard target updates), got {tau}")
        self.train_freq, self.target_update_interval, self.tau = int(train_freq), int(target_update_interval), float(tau)
        self.exploration_initial_eps, self.exploration_final_eps = exploration_initial_eps, exploration_final_eps
        self.exploration_steps = int(exploration_steps)
        self.exploration_rate = exploration_initial_eps
        self.max_grad_norm, self.double_q, self.standardize_rewards = max_grad_norm, double_q, standardize_rewards
        self.mixing_embed_dim, self.hypernet_embed = mixing_embed_dim, hypernet_embed
        #: running statistics of the team reward (plain floats, saved in the checkpoint's data)
        self.reward_mean, self.reward_var, self.reward_count = 0.0, 1.0, 1e-4
        self._last_target_update = 0  # episode count at the last target update
        self.replay_buffer: EpisodeReplayBuffer | None = None
        self._ongoing: list[dict[str, list]] | None = None
        self._hidden: th.Tensor | None = None
        self._ongoing_obs: Any = None
        #: the agents' structure (MultiAgentSpec as a dict): plain data, saved in the checkpoint
        self.multiagent: dict[str, Any] | None = self._read_multiagent(self.env) if self.env is not None else multiagent
        if self.multiagent is not None:
            reason = competitive_reason(self.multiagent)
            if reason:
                raise ZooError(f"{reason}; QMIX needs a shared team reward (a cooperative env); "
                               "maddpg learns from each agent's own reward in mixed and competitive games")
        if _init_setup_model:
            self._setup_model()

    @staticmethod
    def _check_env_spaces(env: Any) -> None:
        if isinstance(env.action_space, spaces.Box):
            raise ZooError("QMIX needs discrete actions: every agent's action space Discrete (the adapter's joint "
                           "MultiDiscrete); this env's are continuous (Box): use maddpg, or the env's discrete actions")

    @staticmethod
    def _wrap_env(env: GymEnv, verbose: int = 0, monitor_wrapper: bool = True) -> VecEnv:
        return BaseAlgorithm._wrap_env(_wrap_multiagent_env(env), verbose, monitor_wrapper)

    @staticmethod
    def _read_multiagent(env: VecEnv | Any) -> dict[str, Any]:
        try:
            if isinstance(env, VecEnv):
                spec = env.get_attr("multiagent_spec", indices=[0])[0]
            else:
                spec = env.get_wrapper_attr("multiagent_spec")
        except AttributeError:
            raise ZooError("QMIX needs a multi-agent env: a PettingZoo parallel env, an lbforaging env, or an "
                           "mpe2/... or lbforaging/... id (its agents' observations, actions and global state)") from None
        return spec.to_dict()

    def _setup_model(self) -> None:
        if self.multiagent is None:
            raise ZooError("QMIX has no multi-agent env to build its networks for")
        self._setup_lr_schedule()
        self.set_random_seed(self.seed)
        self._rng = np.random.default_rng(self.seed)
        kwargs = {"multiagent": self.multiagent, "mixer": self.mixer, "mixing_embed_dim": self.mixing_embed_dim,
                  "hypernet_embed": self.hypernet_embed, **self.policy_kwargs}
        self.policy = self.policy_class(self.observation_space, self.action_space, self.lr_schedule, **kwargs)
        self.policy = self.policy.to(self.device)
        p = self.policy
        self.replay_buffer = EpisodeReplayBuffer(self.buffer_size, p.n_agents, p.obs_dim, p.state_dim, p.n_actions,
                                                 device=self.device)

    # ------------------------------------------------------------------ acting
    def _update_exploration(self) -> None:
        fraction = min(1.0, self.num_timesteps / self.exploration_steps) if self.exploration_steps else 1.0
        self.exploration_rate = self.exploration_initial_eps + fraction * (self.exploration_final_eps - self.exploration_initial_eps)

    def _select_actions(self, agent_obs: np.ndarray, avail: np.ndarray, starts: np.ndarray) -> np.ndarray:
        """Epsilon-greedy actions ``(n_envs, n_agents)``, each among the agent's available actions."""
        p = self.policy
        n_envs = agent_obs.shape[0]
        if p.recurrent:
            if self._hidden is None or self._hidden.shape[0] != n_envs * p.n_agents:
                self._hidden = th.zeros(n_envs * p.n_agents, p.hidden_dim, device=self.device)
            reset = th.as_tensor(np.repeat(starts, p.n_agents), device=self.device)
            self._hidden[reset] = 0.0
        with th.no_grad():
            q, self._hidden = p.q_values(th.as_tensor(agent_obs, device=self.device), self._hidden)
            avail_t = th.as_tensor(avail, device=self.device)
            greedy = q.masked_fill(~avail_t, -th.inf).argmax(dim=-1).cpu().numpy()
        scores = self._rng.random(avail.shape)
        scores[~avail] = -1.0
        random = scores.argmax(axis=-1)
        explore = self._rng.random(greedy.shape) < self.exploration_rate
        return np.where(explore, random, greedy)

    def predict(  # type: ignore[override]
        self,
        observation: np.ndarray,
        state: tuple[np.ndarray, ...] | None = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = True,
        action_masks: np.ndarray | None = None,
    ) -> tuple[np.ndarray, tuple[np.ndarray, ...] | None]:
        """Decentralised greedy actions: each agent's best action on its own Q-values (see :meth:`QMIXPolicy.predict`).

        :param action_masks: the available actions flattened over agents (``MultiAgentEnv.action_masks()``;
            sb3-contrib's maskable ``evaluate_policy`` passes them); without them any action may be chosen
        """
        return self.policy.predict(observation, state, episode_start, deterministic, action_masks=action_masks)

    # ------------------------------------------------------------------ collecting episodes
    def _avail(self, info: dict[str, Any]) -> np.ndarray:
        p = self.policy
        mask = info.get("action_mask")
        if mask is None:
            return p.has_actions.cpu().numpy().copy()
        out = np.zeros((p.n_agents, p.n_actions), dtype=bool)
        mask = np.asarray(mask, dtype=bool)
        out[:, : mask.shape[1]] = mask[:, : p.n_actions]
        return out

    def _state(self, info: dict[str, Any], obs: np.ndarray) -> np.ndarray:
        state = info.get("state")
        return np.asarray(obs if state is None else state, dtype=np.float32)

    def _start_episodes(self, env: VecEnv) -> None:
        """Begin an episode in every env from the current observations and the reset infos."""
        reset_infos = getattr(env, "reset_infos", None) or [{} for _ in range(env.num_envs)]
        self._ongoing = []
        for i in range(env.num_envs):
            info = reset_infos[i] if i < len(reset_infos) else {}
            self._ongoing.append(self._new_episode(self._last_obs[i], info))
        self._ongoing_obs = self._last_obs
        self._hidden = None

    def _new_episode(self, obs: np.ndarray, info: dict[str, Any]) -> dict[str, list]:
        return {"obs": [np.asarray(obs, np.float32)], "state": [self._state(info, obs)], "avail": [self._avail(info)],
                "actions": [], "rewards": [], "terminated": []}

    def _record_step(self, env: VecEnv, actions: np.ndarray, new_obs: np.ndarray, rewards: np.ndarray,
                     dones: np.ndarray, infos: list[dict[str, Any]]) -> list[dict[str, list]]:
        """Add the step to each env's episode; return the episodes that ended."""
        assert self._ongoing is not None
        finished = []
        reset_infos = getattr(env, "reset_infos", None)
        for i, episode in enumerate(self._ongoing):
            info = infos[i]
            done = bool(dones[i])
            next_obs = info["terminal_observation"] if done and "terminal_observation" in info else new_obs[i]
            truncated = bool(info.get("TimeLimit.truncated", False))
            episode["actions"].append(actions[i])
            episode["rewards"].append(float(rewards[i]))
            episode["terminated"].append(float(done and not truncated))
            episode["obs"].append(np.asarray(next_obs, np.float32))
            episode["state"].append(self._state(info, next_obs))
            episode["avail"].append(self._avail(info))
            if done:
                finished.append(episode)
                start_info = reset_infos[i] if reset_infos is not None and i < len(reset_infos) else {}
                self._ongoing[i] = self._new_episode(new_obs[i], start_info)
        self._ongoing_obs = new_obs
        return finished

    def _store(self, episode: dict[str, list]) -> None:
        assert self.replay_buffer is not None
        obs = self.policy.agent_obs(np.stack(episode["obs"]))
        self.replay_buffer.add(obs, np.stack(episode["state"]), np.stack(episode["avail"]), np.stack(episode["actions"]),
                               np.asarray(episode["rewards"], np.float32), np.asarray(episode["terminated"], np.float32))

    # ------------------------------------------------------------------ the update
    def _standardize(self, batch: EpisodeBatch) -> EpisodeBatch:
        """Update the running reward statistics with the batch's real steps, and standardise its rewards."""
        real = batch.rewards[batch.filled > 0].double().cpu().numpy()
        stats = RunningMeanStd(shape=())
        stats.mean, stats.var, stats.count = self.reward_mean, self.reward_var, self.reward_count
        stats.update(real)
        self.reward_mean, self.reward_var, self.reward_count = float(stats.mean), float(stats.var), float(stats.count)
        rewards = (batch.rewards - self.reward_mean) / np.sqrt(self.reward_var + 1e-8)
        return batch._replace(rewards=rewards * batch.filled)

    def train(self, batch: EpisodeBatch | None = None) -> float:
        """One gradient step on ``batch`` (default: ``batch_size`` episodes from the buffer); returns the loss."""
        assert self.replay_buffer is not None
        self.policy.set_training_mode(True)
        self._update_learning_rate(self.policy.optimizer)
        if batch is None:
            batch = self.replay_buffer.sample(self.batch_size, self._rng)
        if self.standardize_rewards:
            batch = self._standardize(batch)
        loss = qmix_loss(self.policy, batch, self.gamma, self.double_q)
        self.policy.optimizer.zero_grad()
        loss.backward()
        params = [p for group in self.policy.optimizer.param_groups for p in group["params"]]
        grad_norm = th.nn.utils.clip_grad_norm_(params, self.max_grad_norm)
        self.policy.optimizer.step()
        self._n_updates += 1
        self.logger.record("train/n_updates", self._n_updates, exclude="tensorboard")
        self.logger.record("train/loss", loss.item())
        self.logger.record("train/grad_norm", float(grad_norm))
        return float(loss.item())

    def update_targets(self) -> None:
        """Move the target agent network and mixer towards the online ones by ``tau`` (1: copy them)."""
        pairs = [(self.policy.agent, self.policy.agent_target)]
        if self.policy.mixer is not None and self.policy.mixer_target is not None:
            pairs.append((self.policy.mixer, self.policy.mixer_target))
        for online, target in pairs:
            if self.tau == 1.0:
                target.load_state_dict(online.state_dict())
            else:
                polyak_update(online.parameters(), target.parameters(), self.tau)

    def learn(
        self: SelfQMIX,
        total_timesteps: int,
        callback: MaybeCallback = None,
        log_interval: int = 100,
        tb_log_name: str = "QMIX",
        reset_num_timesteps: bool = True,
        progress_bar: bool = False,
    ) -> SelfQMIX:
        """Train for ``total_timesteps`` env steps (counted over all envs); the callbacks are called at every step.

        :param total_timesteps: env steps to train for
        :param callback: SB3 callback(s)
        :param log_interval: log every this many episodes (``None``: never)
        :param tb_log_name: name of the TensorBoard run
        :param reset_num_timesteps: start the step count from zero
        :param progress_bar: show a progress bar
        """
        total_timesteps, callback = self._setup_learn(total_timesteps, callback, reset_num_timesteps, tb_log_name, progress_bar)
        if reset_num_timesteps:  # SB3 restarts the episode count: so does the target-update clock
            self._last_target_update = 0
        env = self.env
        assert env is not None and self._last_obs is not None
        if self._ongoing is None or self._ongoing_obs is not self._last_obs or len(self._ongoing) != env.num_envs:
            self._start_episodes(env)
        callback.on_training_start(locals(), globals())
        callback.on_rollout_start()
        while self.num_timesteps < total_timesteps:
            assert self._ongoing is not None
            agent_obs = self.policy.agent_obs(np.asarray(self._last_obs, np.float32))
            avail = np.stack([episode["avail"][-1] for episode in self._ongoing])
            starts = np.array([len(episode["actions"]) == 0 for episode in self._ongoing])
            actions = self._select_actions(agent_obs, avail, starts)
            new_obs, rewards, dones, infos = env.step(actions)
            self.num_timesteps += env.num_envs
            self._update_exploration()
            callback.update_locals(locals())
            if not callback.on_step():
                break
            self._update_info_buffer(infos, dones)
            finished = self._record_step(env, actions, new_obs, rewards, dones, infos)
            self._last_obs, self._last_episode_starts = new_obs, dones
            for episode in finished:
                self._store(episode)
                self._episode_num += 1
                self._update_current_progress_remaining(self.num_timesteps, total_timesteps)
                if self.replay_buffer.size() >= self.batch_size and self._episode_num % self.train_freq == 0:
                    callback.on_rollout_end()
                    self.train()
                    callback.on_rollout_start()
                if self._episode_num - self._last_target_update >= self.target_update_interval:
                    self.update_targets()
                    self._last_target_update = self._episode_num
                if log_interval is not None and self._episode_num % log_interval == 0:
                    self.dump_logs()
        callback.on_rollout_end()
        callback.on_training_end()
        return self

    def dump_logs(self) -> None:
        """Write the episode statistics and counters to the logger."""
        assert self.ep_info_buffer is not None
        if len(self.ep_info_buffer) > 0:
            self.logger.record("rollout/ep_rew_mean", safe_mean([info["r"] for info in self.ep_info_buffer]))
            self.logger.record("rollout/ep_len_mean", safe_mean([info["l"] for info in self.ep_info_buffer]))
        self.logger.record("rollout/exploration_rate", self.exploration_rate)
        self.logger.record("time/episodes", self._episode_num, exclude="tensorboard")
        self.logger.record("time/total_timesteps", self.num_timesteps, exclude="tensorboard")
        self.logger.dump(step=self.num_timesteps)

    # ------------------------------------------------------------------ saving
    def _excluded_save_params(self) -> list[str]:
        return [*super()._excluded_save_params(), "replay_buffer", "_ongoing", "_ongoing_obs", "_hidden", "_rng"]

    def _get_torch_save_params(self) -> tuple[list[str], list[str]]:
        return ["policy", "policy.optimizer"], []

    # ------------------------------------------------------------------ evaluation hook
    def evaluation_figures(self, request: Any) -> dict[str, Any]:
        """The team return (``mean_reward``), each agent's return and, for lbforaging, the food collected.

        Episodes are played with the env's action masks (sb3-contrib's maskable ``evaluate_policy``), as in
        training. ``food_collected``: the mean share of the food's levels the team loaded in an episode
        (lbforaging's normalised reward, without penalties, sums to exactly that); ``all_food_collected``:
        the share of episodes that ended with every item loaded.
        """
        from sb3_contrib.common.maskable.evaluation import evaluate_policy

        from agents.common.evaluation import run_episodes, summarise

        episodes = run_episodes(self, request, evaluate=evaluate_policy,
                                use_masking=bool((self.multiagent or {}).get("has_action_masks")))
        figures = summarise(episodes, request)
        agent_returns = np.array([np.sum([info["agent_rewards"] for info in infos], axis=0) for infos in episodes.infos])
        for i, agent in enumerate((self.multiagent or {}).get("agent_ids", [])):
            figures[f"{agent}/mean_reward"] = float(agent_returns[:, i].mean())
        foraging = _foraging_env(request.make_env())
        if foraging is not None and foraging._normalize_reward and foraging.penalty == 0:
            figures["food_collected"] = float(agent_returns.sum(axis=1).mean())
            figures["all_food_collected"] = float(np.mean([bool(np.any(infos[-1]["agent_terminated"])) for infos in episodes.infos]))
        return figures


def _foraging_env(env: Any) -> Any:
    """lbforaging's ``ForagingEnv`` inside an adapted env, or ``None``."""
    try:
        inner = env.unwrapped.parallel_env.env.unwrapped
    except AttributeError:
        inner = None
    env.close()
    return inner if inner is not None and hasattr(inner, "_food_spawned") else None
