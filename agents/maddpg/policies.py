"""MADDPG's networks: every agent's actor, and every agent's centralised critic, each evaluated in one batched pass.

A :class:`BatchedMLP` holds ``M`` independent MLPs as stacked weight tensors ``(M, in, out)``: one
``torch.baddbmm`` per layer runs all of them, so the critics of all agents are updated with one forward and
one backward pass instead of a Python loop over agents. With ``share_parameters`` ``M`` is 1: one network
for all agents, told apart by a one-hot agent id appended to its input.

Agents may differ (``simple_speaker_listener_v4``): each actor's input is its own observation padded with
zeros to the largest observation size (zeros that meet weights never change the function the actor can
express), and its output is padded to the largest action size; padded discrete actions get ``-inf`` logits,
padded continuous outputs are dropped. Every critic sees the same input: the joint observation and the joint
action (discrete actions one-hot).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.policies import BasePolicy
from stable_baselines3.common.type_aliases import PyTorchObs, Schedule
from torch import nn
from torch.nn import functional as F

from agents.multiagent.adapter import MultiAgentSpec


class BatchedLinear(nn.Module):
    """``M`` independent linear layers in one batched matrix product: ``(M or 1, B, in) -> (M', B, out)``.

    :param n_members: number of independent layers ``M`` (1: one layer shared by every member of the batch)
    :param in_features: input size
    :param out_features: output size
    """

    def __init__(self, n_members: int, in_features: int, out_features: int):
        super().__init__()
        bound = 1.0 / math.sqrt(in_features)  # nn.Linear's default initialisation
        self.weight = nn.Parameter(th.empty(n_members, in_features, out_features).uniform_(-bound, bound))
        self.bias = nn.Parameter(th.empty(n_members, 1, out_features).uniform_(-bound, bound))

    def forward(self, x: th.Tensor) -> th.Tensor:
        if x.shape[0] == self.weight.shape[0]:
            return th.baddbmm(self.bias, x, self.weight)
        return th.matmul(x, self.weight) + self.bias  # a shared layer (M = 1) on every agent's input


class BatchedMLP(nn.Sequential):
    """``M`` independent MLPs evaluated together (see :class:`BatchedLinear`).

    :param n_members: number of MLPs
    :param in_features: input size
    :param net_arch: hidden layer sizes
    :param out_features: output size
    :param activation_fn: activation between layers
    """

    def __init__(self, n_members: int, in_features: int, net_arch: list[int], out_features: int,
                 activation_fn: type[nn.Module] = nn.ReLU):
        layers: list[nn.Module] = []
        sizes = [in_features, *net_arch]
        for size_in, size_out in zip(sizes[:-1], sizes[1:]):
            layers += [BatchedLinear(n_members, size_in, size_out), activation_fn()]
        layers.append(BatchedLinear(n_members, sizes[-1], out_features))
        super().__init__(*layers)


def clip_grad_norm_per_member(module: nn.Module, max_norm: float) -> None:
    """Clip the gradient of each member of batched layers to ``max_norm`` on its own (as separate networks would)."""
    params = [p for p in module.parameters() if p.grad is not None]
    if not params:
        return
    squared = sum(p.grad.pow(2).flatten(1).sum(dim=1) for p in params)
    scale = (max_norm / (squared.sqrt() + 1e-6)).clamp(max=1.0)
    for p in params:
        p.grad.mul_(scale.view(-1, *([1] * (p.grad.dim() - 1))))


class MADDPGPolicy(BasePolicy):
    """Actors and centralised critics of all agents, with their target networks.

    :param observation_space: the joint observation space (a flat ``Box``)
    :param action_space: the joint action space (``Box`` in ``[-1, 1]`` or ``MultiDiscrete``)
    :param lr_schedule: learning-rate schedule (actors and critics)
    :param multiagent: the env's :class:`~agents.multiagent.adapter.MultiAgentSpec` as a dict
    :param net_arch: hidden layer sizes of actors and critics (a list), or ``dict(pi=[...], qf=[...])``
    :param activation_fn: activation function
    :param share_parameters: one actor and one critic for all agents, with a one-hot agent id in their input
    :param optimizer_class: optimizer of actors and critics
    :param optimizer_kwargs: its extra arguments
    """

    def __init__(
        self,
        observation_space: spaces.Box,
        action_space: spaces.Space,
        lr_schedule: Schedule,
        multiagent: dict[str, Any],
        net_arch: list[int] | dict[str, list[int]] | None = None,
        activation_fn: type[nn.Module] = nn.ReLU,
        share_parameters: bool = False,
        optimizer_class: type[th.optim.Optimizer] = th.optim.Adam,
        optimizer_kwargs: dict[str, Any] | None = None,
    ):
        super().__init__(observation_space, action_space, optimizer_class=optimizer_class,
                         optimizer_kwargs=optimizer_kwargs, squash_output=isinstance(action_space, spaces.Box))
        self.multiagent = dict(multiagent)
        spec = MultiAgentSpec.from_dict(self.multiagent)
        self.spec = spec
        if net_arch is None:
            net_arch = [64, 64]  # the MADDPG paper's two layers of 64 units
        pi_arch, qf_arch = (net_arch["pi"], net_arch["qf"]) if isinstance(net_arch, dict) else (net_arch, net_arch)
        self.net_arch = net_arch
        self.activation_fn = activation_fn
        self.share_parameters = share_parameters
        n = spec.n_agents
        self.n_agents = n
        self.discrete = spec.discrete
        self.max_obs = max(spec.obs_sizes)
        self.max_act = max(spec.action_sizes)
        self.same_obs_sizes = len(set(spec.obs_sizes)) == 1
        self.same_action_sizes = len(set(spec.action_sizes)) == 1
        members = 1 if share_parameters else n
        id_size = n if share_parameters else 0
        joint_size = sum(spec.obs_sizes) + sum(spec.action_sizes)

        # index maps between joint vectors and per-agent padded ones (index max -> the zero padding column)
        obs_index = np.full((n, self.max_obs), sum(spec.obs_sizes), dtype=np.int64)
        act_index = np.zeros(sum(spec.action_sizes), dtype=np.int64)  # joint action slot -> agent * max_act + k
        own_slot = np.zeros((n, 1, sum(spec.action_sizes)), dtype=bool)
        valid = np.zeros((n, 1, self.max_act), dtype=bool)
        for i, (o0, size) in enumerate(zip(spec.obs_offsets, spec.obs_sizes)):
            obs_index[i, :size] = np.arange(o0, o0 + size)
        for i, (a0, size) in enumerate(zip(spec.action_offsets, spec.action_sizes)):
            act_index[a0 : a0 + size] = i * self.max_act + np.arange(size)
            own_slot[i, 0, a0 : a0 + size] = True
            valid[i, 0, :size] = True
        self.register_buffer("obs_index", th.as_tensor(obs_index), persistent=False)
        self.register_buffer("act_index", th.as_tensor(act_index), persistent=False)
        self.register_buffer("own_slot", th.as_tensor(own_slot), persistent=False)
        self.register_buffer("valid_actions", th.as_tensor(valid), persistent=False)
        self.register_buffer("agent_ids", th.eye(n).unsqueeze(1), persistent=False)  # (n, 1, n)
        self.register_buffer("action_offsets", th.as_tensor(spec.action_offsets[:-1]), persistent=False)

        self.actor = BatchedMLP(members, self.max_obs + id_size, pi_arch, self.max_act, activation_fn)
        self.actor_target = BatchedMLP(members, self.max_obs + id_size, pi_arch, self.max_act, activation_fn)
        self.critic = BatchedMLP(members, joint_size + id_size, qf_arch, 1, activation_fn)
        self.critic_target = BatchedMLP(members, joint_size + id_size, qf_arch, 1, activation_fn)
        self.actor_target.load_state_dict(self.actor.state_dict())
        self.critic_target.load_state_dict(self.critic.state_dict())
        self.actor_target.requires_grad_(False)
        self.critic_target.requires_grad_(False)
        self.actor.optimizer = self.optimizer_class(self.actor.parameters(), lr=lr_schedule(1), **self.optimizer_kwargs)
        self.critic.optimizer = self.optimizer_class(self.critic.parameters(), lr=lr_schedule(1), **self.optimizer_kwargs)

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()
        data.update(multiagent=self.multiagent, net_arch=self.net_arch, activation_fn=self.activation_fn,
                    share_parameters=self.share_parameters, optimizer_class=self.optimizer_class,
                    optimizer_kwargs=self.optimizer_kwargs, lr_schedule=self._dummy_schedule)
        return data

    # ------------------------------------------------------------------ joint <-> per agent
    def agent_obs(self, joint_obs: th.Tensor) -> th.Tensor:
        """``(B, sum obs)`` -> each agent's own observation, padded (and with its id when shared): ``(n, B, ·)``."""
        if self.same_obs_sizes:  # homogeneous agents: a view, no copy
            per_agent = joint_obs.view(joint_obs.shape[0], self.n_agents, self.max_obs).transpose(0, 1)
        else:
            padded = F.pad(joint_obs, (0, 1))  # the last column is the zero padding
            per_agent = padded[:, self.obs_index].transpose(0, 1)  # (n, B, max_obs)
        return self._with_ids(per_agent)

    def _with_ids(self, x: th.Tensor) -> th.Tensor:
        if not self.share_parameters:
            return x
        return th.cat([x, self.agent_ids.expand(-1, x.shape[1], -1)], dim=2)

    def joint_action(self, agent_actions: th.Tensor) -> th.Tensor:
        """Each agent's (padded) action ``(n, B, max_act)`` -> the joint action ``(B, sum action sizes)``."""
        batch = agent_actions.shape[1]
        joint = agent_actions.transpose(0, 1).reshape(batch, -1)
        return joint if self.same_action_sizes else joint[:, self.act_index]

    def one_hot(self, actions: th.Tensor) -> th.Tensor:
        """Discrete joint actions ``(B, n)`` (integers) -> the one-hot joint action ``(B, sum n_i)``."""
        out = th.zeros(actions.shape[0], int(self.act_index.shape[0]), device=actions.device)
        return out.scatter_(1, actions.long() + self.action_offsets, 1.0)

    # ------------------------------------------------------------------ networks
    def actor_output(self, joint_obs: th.Tensor, target: bool = False) -> th.Tensor:
        """Each actor on its own observation: tanh actions (continuous) or logits, ``-inf`` on padding (discrete)."""
        out = (self.actor_target if target else self.actor)(self.agent_obs(joint_obs))
        if self.discrete:
            return out.masked_fill(~self.valid_actions, float("-inf"))
        return th.tanh(out)

    def critic_values(self, joint_obs: th.Tensor, joint_actions: th.Tensor, target: bool = False) -> th.Tensor:
        """Every agent's ``Q_i(x, a_1..a_n)``: ``(B, n)``.

        :param joint_obs: ``(B, sum obs)``
        :param joint_actions: ``(B, A)`` the same for every critic, or ``(n, B, A)`` one joint action per critic
        """
        if joint_actions.dim() == 2:
            joint_actions = joint_actions.unsqueeze(0).expand(self.n_agents, -1, -1)
        x = th.cat([joint_obs.unsqueeze(0).expand(self.n_agents, -1, -1), joint_actions], dim=2)
        return (self.critic_target if target else self.critic)(self._with_ids(x)).squeeze(2).transpose(0, 1)

    # ------------------------------------------------------------------ acting
    def forward(self, observation: th.Tensor, deterministic: bool = False) -> th.Tensor:
        return self._predict(observation, deterministic)

    def _predict(self, observation: PyTorchObs, deterministic: bool = False) -> th.Tensor:
        """Decentralised actions: each agent from its own observation (discrete: argmax, or a Gumbel-max sample)."""
        out = self.actor_output(observation.float())  # type: ignore[union-attr]
        if not self.discrete:
            return self.joint_action(out)
        if not deterministic:  # argmax of Gumbel-perturbed logits: a sample of softmax(logits)
            out = out - th.log(-th.log(th.rand_like(out).clamp(1e-10, 1.0 - 1e-7)))
        return out.argmax(dim=2).transpose(0, 1)

    def set_training_mode(self, mode: bool) -> None:
        self.actor.train(mode)
        self.critic.train(mode)
        self.training = mode
