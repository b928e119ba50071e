"""The notes' per-agent QMIX loss, kept as a reference for the batched one (:func:`agents.qmix.qmix.qmix_loss`).

``rl-algorithms-notes.md`` ("QMIX", code) computes the agents' values one agent after another: a Python
loop over agents, each agent's network on that agent's observations, the chosen and the target values
concatenated, then the mixer. :func:`per_agent_loss` is that loop on batches of episodes, with the same
networks and the same targets (double-Q, action masks, padding masks) as :func:`~agents.qmix.qmix.qmix_loss`,
so ``tests/test_qmix.py`` checks that both give the same loss and gradients and ``benchmarks/qmix.py`` times
them against each other.
"""

from __future__ import annotations

import torch as th

from agents.qmix.buffer import EpisodeBatch
from agents.qmix.policies import QMIXPolicy


def per_agent_loss(policy: QMIXPolicy, batch: EpisodeBatch, gamma: float, double_q: bool = True) -> th.Tensor:
    """The masked TD loss of QMIX, agent by agent (the notes' loop).

    :param policy: the networks
    :param batch: the episodes
    :param gamma: discount factor
    :param double_q: pick the next actions with the online network (else: max of the target network)
    """
    chosen_qs, target_qs = [], []
    for i in range(policy.n_agents):
        agent_id = policy.agent_ids[i].expand(*batch.obs.shape[:2], policy.n_agents)
        inputs = th.cat([batch.obs[:, :, i], agent_id], dim=-1)  # (B, T+1, obs + n)
        q_i = policy.agent.sequence(inputs.unsqueeze(2)).squeeze(2)  # (B, T+1, A)
        chosen_qs.append(q_i[:, :-1].gather(-1, batch.actions[:, :, i : i + 1]))
        with th.no_grad():
            avail = batch.avail[:, 1:, i]
            avail = avail | ~avail.any(dim=-1, keepdim=True)
            target_q_i = policy.agent_target.sequence(inputs.unsqueeze(2)).squeeze(2)[:, 1:]
            if double_q:
                best = q_i[:, 1:].detach().masked_fill(~avail, -th.inf).argmax(dim=-1, keepdim=True)
                target_qs.append(target_q_i.gather(-1, best))
            else:
                target_qs.append(target_q_i.masked_fill(~avail, -th.inf).max(dim=-1, keepdim=True).values)
    chosen = th.cat(chosen_qs, dim=-1)  # (B, T, n)
    next_q = th.cat(target_qs, dim=-1)
    not_done = 1.0 - batch.terminated
    if policy.mixer is not None:
        state = policy.scaled_state(batch.state)
        with th.no_grad():
            targets = batch.rewards + gamma * not_done * policy.mixer_target(next_q, state[:, 1:])
        td = policy.mixer(chosen, state[:, :-1]) - targets
        mask = batch.filled
    else:
        td = chosen - (batch.rewards.unsqueeze(-1) + gamma * not_done.unsqueeze(-1) * next_q)
        mask = batch.filled.unsqueeze(-1).expand_as(td)
    return (td.pow(2) * mask).sum() / mask.sum().clamp(min=1.0)


def per_step_loss(policy: QMIXPolicy, batch: EpisodeBatch, gamma: float, double_q: bool = True) -> th.Tensor:
    """The same loss with the agents' values computed one time step after another, as EPyMARL's learner does.

    EPyMARL's ``QLearner`` calls its multi-agent controller once per step of the episode batch (the way a GRU
    agent must run) and stacks the outputs; here every step is one call of the (feed-forward) agent network,
    then the rest is :func:`~agents.qmix.qmix.qmix_loss`'s. Kept to time the batched update against.
    """
    from agents.qmix.qmix import qmix_loss

    class PerStep(th.nn.Module):
        def __init__(self, net: th.nn.Module):
            super().__init__()
            self.net = net

        def sequence(self, inputs: th.Tensor) -> th.Tensor:
            return th.stack([self.net(inputs[:, t])[0] for t in range(inputs.shape[1])], dim=1)

    agent, target = policy.agent, policy.agent_target
    policy.agent, policy.agent_target = PerStep(agent), PerStep(target)  # type: ignore[assignment]
    try:
        return qmix_loss(policy, batch, gamma, double_q)
    finally:
        policy.agent, policy.agent_target = agent, target
