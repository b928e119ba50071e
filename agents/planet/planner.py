"""The cross-entropy method (CEM) in latent space, PlaNet's planner.

Given the current model state (``[h, s]`` from the filter), search for the action sequence of
``horizon`` steps whose imagined rewards sum highest:

1. start from the belief ``q(a_{t:t+H}) = Normal(0, 1)`` per action dimension and time step;
2. repeat ``iterations`` times: draw ``candidates`` sequences (clipped to ``[-1, 1]``), roll all of
   them out through the model *at once* (one tensor of ``candidates`` rows per step), sum the predicted
   rewards, and refit the belief's mean and standard deviation to the ``elites`` best sequences;
3. act with the mean's first action.

Rollouts use the transition prior's mean (no sampling), so a plan depends only on the drawn
candidates. :func:`cem_plan_loop` is the notes' loop-per-sequence version of step 2, for the benchmark
and the tests: the same draws, one sequence at a time.
"""

from __future__ import annotations

from typing import Protocol

import torch as th


class LatentModel(Protocol):
    """What the planner needs from a model: a transition on flat states and a reward."""

    def imagine_step(self, latent: th.Tensor, action: th.Tensor) -> th.Tensor:
        """Next states ``(N, latent)`` from states ``(N, latent)`` and actions ``(N, action_dim)``."""

    def predict_reward(self, latent: th.Tensor) -> th.Tensor:
        """Rewards ``(N,)`` of states ``(N, latent)``."""


def _draw(mean: th.Tensor, std: th.Tensor, candidates: int, generator: th.Generator | None) -> th.Tensor:
    """``candidates`` action sequences ``(candidates, H, A)`` from ``Normal(mean, std)``, clipped to ``[-1, 1]``."""
    noise = th.randn((candidates, *mean.shape), generator=generator, device=mean.device, dtype=mean.dtype)
    return th.clamp(mean + std * noise, -1.0, 1.0)


def _refit(sequences: th.Tensor, returns: th.Tensor, elites: int) -> tuple[th.Tensor, th.Tensor]:
    """Mean and standard deviation of the ``elites`` sequences with the highest returns."""
    best = sequences[th.topk(returns, elites, sorted=False).indices]
    return best.mean(0), best.std(0, unbiased=False)


def rollout_returns(model: LatentModel, latent: th.Tensor, sequences: th.Tensor) -> th.Tensor:
    """Sum of imagined rewards of every sequence, all rolled out together.

    :param latent: the current state ``(latent,)``
    :param sequences: ``(N, H, A)`` action sequences
    :return: ``(N,)`` returns ``sum_{k=1..H} r(state_k)``
    """
    state = latent.expand(sequences.shape[0], -1)
    total = th.zeros(sequences.shape[0], device=sequences.device)
    for k in range(sequences.shape[1]):
        state = model.imagine_step(state, sequences[:, k])
        total = total + model.predict_reward(state)
    return total


@th.no_grad()
def cem_plan(model: LatentModel, latent: th.Tensor, action_dim: int, horizon: int = 12, candidates: int = 1000,
             elites: int = 100, iterations: int = 10, generator: th.Generator | None = None) -> th.Tensor:
    """Plan from one state with CEM, every candidate of an iteration in one batched rollout.

    :param model: the latent model (:class:`LatentModel`)
    :param latent: the current state, shape ``(latent,)``
    :param action_dim: dimensions of a (normalised, ``[-1, 1]``) action
    :param horizon: planning horizon ``H``
    :param candidates: sequences drawn per iteration ``J``
    :param elites: best sequences the belief is refitted to ``K``
    :param iterations: CEM iterations ``I``
    :param generator: random generator of the draws (``None``: torch's global one)
    :return: the first action of the final mean, shape ``(action_dim,)``
    """
    mean = th.zeros(horizon, action_dim, device=latent.device)
    std = th.ones(horizon, action_dim, device=latent.device)
    for _ in range(iterations):
        sequences = _draw(mean, std, candidates, generator)
        mean, std = _refit(sequences, rollout_returns(model, latent, sequences), elites)
    return mean[0]


@th.no_grad()
def cem_plan_loop(model: LatentModel, latent: th.Tensor, action_dim: int, horizon: int = 12, candidates: int = 1000,
                  elites: int = 100, iterations: int = 10, generator: th.Generator | None = None) -> th.Tensor:
    """:func:`cem_plan` as the notes write it: each candidate rolled out on its own (slow; a reference)."""
    mean = th.zeros(horizon, action_dim, device=latent.device)
    std = th.ones(horizon, action_dim, device=latent.device)
    for _ in range(iterations):
        sequences = _draw(mean, std, candidates, generator)
        returns = []
        for sequence in sequences:
            state, total = latent[None], 0.0
            for action in sequence:
                state = model.imagine_step(state, action[None])
                total = total + model.predict_reward(state)[0]
            returns.append(total)
        mean, std = _refit(sequences, th.stack(returns), elites)
    return mean[0]
