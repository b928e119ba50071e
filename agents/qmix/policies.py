"""QMIX's networks: one agent Q-network shared by all agents, the mixers, and their target copies.

* :class:`AgentQNetwork` maps one agent's observation, with a one-hot agent id appended (EPyMARL's
  ``obs_agent_id``), to a Q-value per action. All agents share its parameters, so every agent of every
  episode and time step of a batch goes through it in one pass. Agents with different observation or
  action sizes are padded to the largest ones (padded actions are never available). With
  ``recurrent=True`` a GRU cell sits between its two layers (EPyMARL's ``rnn`` agent), for partial
  observability; its hidden state runs along each episode.
* :class:`QMixer` combines the chosen ``Q_i`` into ``Q_tot(s, a) = w_2(s)^T elu(W_1(s) q + b_1(s)) + V(s)``
  where the weights ``W_1``, ``w_2`` come from hypernetworks on the global state ``s`` and are made
  non-negative by ``abs``, so ``dQ_tot / dQ_i >= 0`` (monotonic mixing, Rashid et al., 2018). The state
  is scaled into ``[-1, 1]`` by its space's bounds where they are finite (``normalize_state``; EPyMARL feeds
  it raw): lbforaging's raw coordinates (up to 7) made the hypernetworks' gradients 30-250 times the clip
  and QMIX collapse; scaled, they stay near 5 and it learns (see benchmarks/qmix.py).
* :class:`VDNMixer` is the plain sum ``Q_tot = sum_i Q_i`` (Sunehag et al., 2018); with no mixer each agent
  learns on its own (independent Q-learning on the team reward).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.policies import BasePolicy
from stable_baselines3.common.type_aliases import Schedule
from torch import nn
from torch.nn import functional as F

from agents.multiagent.adapter import MultiAgentSpec

MIXERS = ("qmix", "vdn", None)


class AgentQNetwork(nn.Module):
    """The agents' shared Q-network: ``obs_i ++ one_hot(i) -> Q_i(., a)`` for every action ``a``.

    :param in_features: padded observation size plus the number of agents (the id)
    :param hidden_dim: width of the hidden layers
    :param n_actions: the largest number of actions of any agent
    :param recurrent: a GRU cell as the middle layer (else a linear layer with ReLU)
    """

    def __init__(self, in_features: int, hidden_dim: int, n_actions: int, recurrent: bool = False):
        super().__init__()
        self.recurrent = recurrent
        self.hidden_dim = hidden_dim
        self.fc1 = nn.Linear(in_features, hidden_dim)
        self.middle = nn.GRUCell(hidden_dim, hidden_dim) if recurrent else nn.Linear(hidden_dim, hidden_dim)
        self.fc2 = nn.Linear(hidden_dim, n_actions)

    def forward(self, inputs: th.Tensor, hidden: th.Tensor | None = None) -> tuple[th.Tensor, th.Tensor | None]:
        """Q-values of ``inputs`` of shape ``(..., in_features)``; with a GRU, ``(N, in_features)`` and a hidden state."""
        if not self.recurrent and inputs.dim() > 2:  # as one matrix: its weight gradients are one product, not a batch
            lead = inputs.shape[:-1]
            return self(inputs.reshape(-1, inputs.shape[-1]))[0].view(*lead, -1), None
        x = F.relu_(self.fc1(inputs))  # in place: a linear layer's backward does not need its output
        if self.recurrent:
            if hidden is None:
                hidden = x.new_zeros(x.shape[0], self.hidden_dim)
            hidden = self.middle(x, hidden)
            return self.fc2(hidden), hidden
        return self.fc2(F.relu_(self.middle(x))), None

    def sequence(self, inputs: th.Tensor) -> th.Tensor:
        """Q-values of whole episodes: ``(B, T, n_agents, in_features) -> (B, T, n_agents, n_actions)``.

        The feed-forward network takes every step at once; the GRU steps along ``T`` from a zero state.
        """
        if not self.recurrent:
            return self(inputs)[0]
        batch, steps, n_agents, _ = inputs.shape
        hidden = None
        out = []
        for t in range(steps):
            q, hidden = self(inputs[:, t].reshape(batch * n_agents, -1), hidden)
            out.append(q.view(batch, n_agents, -1))
        return th.stack(out, dim=1)


class QMixer(nn.Module):
    """Monotonic mixing network; its weights come from hypernetworks on the global state.

    Four hypernetworks read the state: ``W_1`` (two layers), ``w_2`` (two layers), ``b_1`` (one layer) and
    ``V`` (two layers), as in EPyMARL's ``QMixer``. Their first layers all read the same state, so they are
    kept as one linear layer (``hyper_in``), applied in four row blocks of its weight: each block's output is
    a contiguous tensor, where splitting one wide output gave strided views whose backward (a concatenation
    and copies of the whole ``(N, 192)`` gradient) cost a sixth of the update.

    :param n_agents: number of agents
    :param state_dim: size of the global state
    :param embed_dim: width of the mixing layer (EPyMARL's ``mixing_embed_dim``, 32)
    :param hypernet_embed: width of the hypernetworks' hidden layer (``hypernet_embed``, 64)
    """

    def __init__(self, n_agents: int, state_dim: int, embed_dim: int = 32, hypernet_embed: int = 64):
        super().__init__()
        self.n_agents, self.embed_dim, self.hypernet_embed = n_agents, embed_dim, hypernet_embed
        # first layers of: W_1's hypernetwork, w_2's, b_1 (the whole of it), V's
        self.hyper_in = nn.Linear(state_dim, 2 * hypernet_embed + 2 * embed_dim)
        self.hyper_w_1 = nn.Linear(hypernet_embed, embed_dim * n_agents)
        self.hyper_w_final = nn.Linear(hypernet_embed, embed_dim)
        self.V = nn.Linear(embed_dim, 1)

    def forward(self, agent_qs: th.Tensor, states: th.Tensor) -> th.Tensor:
        """``Q_tot`` of shape ``(...,)`` from agent values ``(..., n_agents)`` and states ``(..., state_dim)``."""
        lead = agent_qs.shape[:-1]
        qs = agent_qs.reshape(-1, self.n_agents, 1)
        h, e = self.hypernet_embed, self.embed_dim
        states = states.reshape(-1, states.shape[-1])
        blocks = zip(self.hyper_in.weight.split([h, h, e, e]), self.hyper_in.bias.split([h, h, e, e]))
        hyper_w1, hyper_w_final, b1, hyper_v = (F.linear(states, weight, bias) for weight, bias in blocks)
        w1 = th.abs(self.hyper_w_1(F.relu_(hyper_w1))).view(-1, self.n_agents, e)
        # one tiny (1 x n) @ (n x embed) product per sample: as a broadcast product and a sum (bmm is slow for these)
        hidden = F.elu((qs * w1).sum(dim=1) + b1)  # (N, embed)
        w_final = th.abs(self.hyper_w_final(F.relu_(hyper_w_final)))  # (N, embed)
        v = self.V(F.relu_(hyper_v)).squeeze(-1)
        return ((hidden * w_final).sum(dim=-1) + v).view(lead)


class VDNMixer(nn.Module):
    """Value decomposition: ``Q_tot = sum_i Q_i`` (the state is ignored)."""

    def forward(self, agent_qs: th.Tensor, states: th.Tensor) -> th.Tensor:
        return agent_qs.sum(dim=-1)


class QMIXPolicy(BasePolicy):
    """The agent network and the mixer of QMIX (VDN, IQL), with their target copies.

    Acting is decentralised: :meth:`q_values` gives each agent's Q-values from its own observation only,
    and :meth:`predict` picks each agent's best available action.

    :param observation_space: the joint observation space (a flat ``Box``)
    :param action_space: the joint action space (``MultiDiscrete``)
    :param lr_schedule: learning-rate schedule
    :param multiagent: the env's :class:`~agents.multiagent.adapter.MultiAgentSpec` as a dict
    :param mixer: ``"qmix"``, ``"vdn"`` or ``None`` (independent learners)
    :param hidden_dim: width of the agent network (EPyMARL: 64)
    :param recurrent: GRU agents (EPyMARL's ``use_rnn``) instead of feed-forward ones
    :param mixing_embed_dim: width of QMIX's mixing layer
    :param hypernet_embed: width of QMIX's hypernetworks
    :param normalize_state: divide each state feature by the largest magnitude its bounds allow, where the
        state is the joint observation and its bounds are finite (other features are left as they are)
    :param optimizer_class: optimizer of agent network and mixer together
    :param optimizer_kwargs: its extra arguments (default for Adam: ``fused=True``)
    """

    def __init__(
        self,
        observation_space: spaces.Box,
        action_space: spaces.MultiDiscrete,
        lr_schedule: Schedule,
        multiagent: dict[str, Any],
        mixer: str | None = "qmix",
        hidden_dim: int = 64,
        recurrent: bool = False,
        mixing_embed_dim: int = 32,
        hypernet_embed: int = 64,
        normalize_state: bool = True,
        optimizer_class: type[th.optim.Optimizer] = th.optim.Adam,
        optimizer_kwargs: dict[str, Any] | None = None,
    ):
        if optimizer_kwargs is None and optimizer_class is th.optim.Adam:
            optimizer_kwargs = {"fused": True}  # one kernel for all parameters: half the step's time on a CPU
        super().__init__(observation_space, action_space, optimizer_class=optimizer_class, optimizer_kwargs=optimizer_kwargs)
        self.multiagent = dict(multiagent)
        spec = MultiAgentSpec.from_dict(self.multiagent)
        self.spec = spec
        self.n_agents = spec.n_agents
        self.obs_dim = max(spec.obs_sizes)
        self.n_actions = max(spec.action_sizes)
        self.state_dim = spec.state_size
        self.mixer_name = mixer
        self.hidden_dim, self.recurrent = hidden_dim, recurrent
        self.mixing_embed_dim, self.hypernet_embed = mixing_embed_dim, hypernet_embed
        self.normalize_state = bool(normalize_state)

        in_features = self.obs_dim + self.n_agents
        self.agent = AgentQNetwork(in_features, hidden_dim, self.n_actions, recurrent)
        self.agent_target = AgentQNetwork(in_features, hidden_dim, self.n_actions, recurrent)
        self.mixer = self._make_mixer()
        self.mixer_target = self._make_mixer()
        self.agent_target.load_state_dict(self.agent.state_dict())
        if self.mixer is not None:
            self.mixer_target.load_state_dict(self.mixer.state_dict())
        for target in (self.agent_target, self.mixer_target):
            if target is not None:
                target.requires_grad_(False)
        params = list(self.agent.parameters()) + (list(self.mixer.parameters()) if self.mixer is not None else [])
        self.optimizer = self.optimizer_class(params, lr=lr_schedule(1), **self.optimizer_kwargs)

        # constant tensors: the one-hot ids, and the actions each agent has at all
        self.register_buffer("agent_ids", th.eye(self.n_agents), persistent=False)
        has = th.zeros(self.n_agents, self.n_actions, dtype=th.bool)
        for i, n in enumerate(spec.action_sizes):
            has[i, :n] = True
        self.register_buffer("has_actions", has, persistent=False)
        self._obs_index = self._padding_index(spec)
        self.register_buffer("state_scale", th.as_tensor(self._state_scale(observation_space, spec)), persistent=False)

    def _make_mixer(self) -> nn.Module | None:
        if self.mixer_name == "qmix":
            return QMixer(self.n_agents, self.state_dim, self.mixing_embed_dim, self.hypernet_embed)
        if self.mixer_name == "vdn":
            return VDNMixer()
        return None

    def _state_scale(self, observation_space: spaces.Space, spec: MultiAgentSpec) -> np.ndarray:
        """Per state feature, ``1 / max(|low|, |high|)`` where that is finite and positive, else 1."""
        scale = np.ones(spec.state_size, dtype=np.float32)
        if not (self.normalize_state and spec.state_is_observation and isinstance(observation_space, spaces.Box)
                and observation_space.shape == (spec.state_size,)):
            return scale
        largest = np.maximum(np.abs(observation_space.low), np.abs(observation_space.high)).astype(np.float64)
        usable = np.isfinite(largest) & (largest > 0)
        scale[usable] = (1.0 / largest[usable]).astype(np.float32)
        return scale

    def scaled_state(self, state: th.Tensor) -> th.Tensor:
        """The state as the mixer reads it (see ``normalize_state``)."""
        return state * self.state_scale

    @staticmethod
    def _padding_index(spec: MultiAgentSpec) -> np.ndarray | None:
        """Indices into the joint observation (plus a zero column) giving each agent's padded observation."""
        if len(set(spec.obs_sizes)) == 1:
            return None
        total, width = sum(spec.obs_sizes), max(spec.obs_sizes)
        index = np.full((spec.n_agents, width), total)  # index ``total`` is the appended zero
        for i, (start, size) in enumerate(zip(spec.obs_offsets, spec.obs_sizes)):
            index[i, :size] = np.arange(start, start + size)
        return index

    def agent_obs(self, joint_obs: np.ndarray) -> np.ndarray:
        """Each agent's padded observation ``(..., n_agents, obs_dim)`` from joint ones ``(..., sum(obs_sizes))``."""
        if self._obs_index is None:
            return joint_obs.reshape(*joint_obs.shape[:-1], self.n_agents, self.obs_dim)
        padded = np.concatenate([joint_obs, np.zeros((*joint_obs.shape[:-1], 1), joint_obs.dtype)], axis=-1)
        return padded[..., self._obs_index]

    def agent_inputs(self, agent_obs: th.Tensor) -> th.Tensor:
        """``(..., n_agents, obs_dim) -> (..., n_agents, obs_dim + n_agents)``: the one-hot id appended."""
        ids = self.agent_ids.expand(*agent_obs.shape[:-2], self.n_agents, self.n_agents)
        return th.cat([agent_obs, ids], dim=-1)

    def _build(self, lr_schedule: Schedule) -> None:  # everything is built in __init__
        pass

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()
        data.update(multiagent=self.multiagent, mixer=self.mixer_name, hidden_dim=self.hidden_dim,
                    recurrent=self.recurrent, mixing_embed_dim=self.mixing_embed_dim,
                    hypernet_embed=self.hypernet_embed, normalize_state=self.normalize_state,
                    optimizer_class=self.optimizer_class,
                    optimizer_kwargs=self.optimizer_kwargs)
        return data

    # ------------------------------------------------------------------ acting (decentralised)
    def available(self, masks: np.ndarray | None, n: int) -> th.Tensor:
        """``(n, n_agents, n_actions)`` booleans: the flattened masks ``(n, sum(action_sizes))`` or all actions."""
        if masks is None:
            return self.has_actions.expand(n, -1, -1)
        masks = np.asarray(masks, dtype=bool).reshape(n, -1)
        out = th.zeros(n, self.n_agents, self.n_actions, dtype=th.bool, device=self.device)
        for i, (start, size) in enumerate(zip(self.spec.action_offsets, self.spec.action_sizes)):
            out[:, i, :size] = th.as_tensor(masks[:, start:start + size], device=self.device)
        return out

    def q_values(self, agent_obs: th.Tensor, hidden: th.Tensor | None = None) -> tuple[th.Tensor, th.Tensor | None]:
        """Each agent's Q-values ``(n, n_agents, n_actions)`` from its own observation ``(n, n_agents, obs_dim)``."""
        n = agent_obs.shape[0]
        inputs = self.agent_inputs(agent_obs)
        if self.recurrent:
            q, hidden = self.agent(inputs.reshape(n * self.n_agents, -1), hidden)
            return q.view(n, self.n_agents, -1), hidden
        return self.agent(inputs)[0], None

    def _predict(self, observation: th.Tensor, deterministic: bool = True) -> th.Tensor:
        agent_obs = th.as_tensor(self.agent_obs(observation.cpu().numpy()), device=self.device)
        q, _ = self.q_values(agent_obs.float())
        return q.masked_fill(~self.has_actions, -th.inf).argmax(dim=-1)

    def predict(  # type: ignore[override]
        self,
        observation: np.ndarray,
        state: tuple[np.ndarray, ...] | None = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = True,
        action_masks: np.ndarray | None = None,
    ) -> tuple[np.ndarray, tuple[np.ndarray, ...] | None]:
        """Each agent's greedy action on its own Q-values (among its available ones when masks are given).

        :param observation: joint observations ``(sum(obs_sizes),)`` or ``(n_envs, sum(obs_sizes))``
        :param state: GRU agents: the hidden states returned by the last call (``None``: zeros)
        :param episode_start: GRU agents: where a new episode starts (its hidden state is reset)
        :param deterministic: unused: a greedy policy (exploration belongs to training)
        :param action_masks: the available actions, flattened over agents (``MultiAgentEnv.action_masks()``)
        :return: the joint actions and, for GRU agents, the next hidden states
        """
        self.set_training_mode(False)
        obs = np.asarray(observation, dtype=np.float32)
        single = obs.ndim == 1
        obs = obs.reshape(-1, obs.shape[-1])
        n = obs.shape[0]
        hidden = None
        if self.recurrent:
            hidden_np = np.zeros((n * self.n_agents, self.hidden_dim), np.float32) if state is None else np.array(state[0], np.float32)
            if episode_start is not None:
                starts = np.repeat(np.asarray(episode_start, dtype=bool).reshape(-1), self.n_agents)
                hidden_np[starts] = 0.0
            hidden = th.as_tensor(hidden_np, device=self.device)
        with th.no_grad():
            q, hidden = self.q_values(th.as_tensor(self.agent_obs(obs), device=self.device), hidden)
            q = q.masked_fill(~self.available(action_masks, n), -th.inf)
            actions = q.argmax(dim=-1).cpu().numpy()
        next_state = (hidden.cpu().numpy(),) if hidden is not None else None
        return (actions[0] if single else actions), next_state


class QMIXRnnPolicy(QMIXPolicy):
    """:class:`QMIXPolicy` with GRU agents (``recurrent=True``), QMIX's ``"RnnPolicy"``."""

    def __init__(self, *args: Any, recurrent: bool = True, **kwargs: Any):
        super().__init__(*args, recurrent=recurrent, **kwargs)
