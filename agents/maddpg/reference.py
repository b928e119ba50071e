"""The notes' per-agent MADDPG update, kept as a reference for the batched one.

``rl-algorithms-notes.md`` ("MADDPG", code) updates agent after agent: a critic ``Q_i`` and an actor ``mu_i``
of plain ``nn.Sequential`` layers each, one optimizer each, a Python loop over agents. :func:`split_networks`
copies the batched networks of a :class:`~agents.maddpg.policies.MADDPGPolicy` into such separate networks
and :func:`per_agent_update` runs the loop; ``tests/test_maddpg.py`` checks that both give the same
parameters after a step, ``benchmarks/maddpg.py`` times them against each other.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch as th
from torch import nn
from torch.nn import functional as F

from agents.maddpg.policies import BatchedLinear, MADDPGPolicy


def _member(batched: nn.Sequential, i: int) -> nn.Sequential:
    """Member ``i`` of a :class:`~agents.maddpg.policies.BatchedMLP` as a plain ``nn.Sequential``."""
    layers: list[nn.Module] = []
    for layer in batched:
        if isinstance(layer, BatchedLinear):
            linear = nn.Linear(layer.weight.shape[1], layer.weight.shape[2])
            with th.no_grad():
                linear.weight.copy_(layer.weight[i].T)
                linear.bias.copy_(layer.bias[i, 0])
            layers.append(linear)
        else:
            layers.append(type(layer)())
    return nn.Sequential(*layers)


@dataclass
class AgentNetworks:
    """One agent's networks and optimizers, as the notes' loop has them."""

    actor: nn.Sequential
    critic: nn.Sequential
    actor_target: nn.Sequential
    critic_target: nn.Sequential
    actor_optimizer: th.optim.Optimizer
    critic_optimizer: th.optim.Optimizer


def split_networks(policy: MADDPGPolicy, lr: float) -> list[AgentNetworks]:
    """Separate copies of every agent's actor, critic and targets (unshared parameters only), with Adam."""
    if policy.share_parameters:
        raise ValueError("the per-agent reference has one network per agent (share_parameters=False)")
    agents = []
    for i in range(policy.n_agents):
        actor, critic = _member(policy.actor, i), _member(policy.critic, i)
        agents.append(AgentNetworks(actor, critic, _member(policy.actor_target, i), _member(policy.critic_target, i),
                                    th.optim.Adam(actor.parameters(), lr=lr), th.optim.Adam(critic.parameters(), lr=lr)))
    return agents


def per_agent_update(policy: MADDPGPolicy, agents: list[AgentNetworks], obs: th.Tensor, actions: th.Tensor,
                     next_obs: th.Tensor, rewards: th.Tensor, dones: th.Tensor, gamma: float, tau: float) -> None:
    """One MADDPG step, agent after agent (continuous actions, no gradient clipping, no action penalty).

    The same update as :meth:`agents.maddpg.MADDPG.train` with ``max_grad_norm=None, action_reg=0``: agent
    ``i``'s critic target uses every agent's target actor, its actor loss replaces its own action in the
    sampled joint action.

    :param policy: the batched policy (its index maps split observations and actions)
    :param agents: the separate networks from :func:`split_networks`
    :param obs: joint observations ``(B, sum obs)``; ``next_obs`` likewise
    :param actions: joint actions ``(B, A)`` in ``[-1, 1]``
    :param rewards: per-agent rewards ``(B, n)``; ``dones`` per-agent terminations ``(B, n)``
    :param gamma: discount factor
    :param tau: soft-update coefficient
    """
    spec = policy.spec
    own_obs = policy.agent_obs(obs)  # (n, B, max_obs) padded, as the batched actors see them
    own_next = policy.agent_obs(next_obs)
    offsets = spec.action_offsets
    for i, agent in enumerate(agents):
        with th.no_grad():
            next_actions = [th.tanh(agents[j].actor_target(own_next[j]))[:, : spec.action_sizes[j]] for j in range(len(agents))]
            target_q = agent.critic_target(th.cat([next_obs, *next_actions], dim=1)).squeeze(1)
            y = rewards[:, i] + gamma * (1.0 - dones[:, i]) * target_q
        q = agent.critic(th.cat([obs, actions], dim=1)).squeeze(1)
        critic_loss = F.mse_loss(q, y)
        agent.critic_optimizer.zero_grad()
        critic_loss.backward()
        agent.critic_optimizer.step()

        own = th.tanh(agent.actor(own_obs[i]))[:, : spec.action_sizes[i]]
        mixed = th.cat([actions[:, : offsets[i]], own, actions[:, offsets[i + 1] :]], dim=1)
        actor_loss = -agent.critic(th.cat([obs, mixed], dim=1)).mean()
        agent.actor_optimizer.zero_grad()
        actor_loss.backward()
        agent.actor_optimizer.step()
    for agent in agents:
        for net, target in ((agent.critic, agent.critic_target), (agent.actor, agent.actor_target)):
            with th.no_grad():
                for p, t in zip(net.parameters(), target.parameters()):
                    t.mul_(1 - tau).add_(p, alpha=tau)
