"""HAC's replay: the transitions one level's action leaves, and the buffer that keeps them.

For one action of level ``i`` (an :class:`Attempt`: from state ``s`` toward goal ``g`` it chose ``a``, and
when the level below was done the env was in state ``s'``), the paper stores

- a **hindsight action transition** ``[s, a~, r, s', g]``: at a level above 0, ``a~`` is the subgoal the
  level below actually achieved (``s'`` projected to the subgoal space), unless it reached ``a`` (then
  ``a~ = a``), so the level learns as if the lower level were already optimal; at level 0, ``a~ = a``.
  ``r = 0`` and no bootstrap when ``s'`` reaches ``g``, else ``r = -1``;
- a **subgoal-testing transition** ``[s, a, -H, s', g]`` with no bootstrap, when ``a`` was tested (the
  levels below acted without noise) and missed: the level learns that it proposed a subgoal its lower
  levels cannot reach in ``H`` actions;
- **hindsight goal transitions**: the hindsight action transition again with ``g`` replaced by goals the
  level achieved later in the same run toward its goal (always the last one, and
  ``n_hindsight_goals - 1`` drawn from the future of the action), rewarded by the same test.

An env that ends (``terminated``, not a time limit) also stops bootstrapping.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from agents.hac.policies import goal_reached


@dataclass
class Attempt:
    """One action of one level, from the state it was chosen in to the state where it ended.

    :param obs: the env's ``observation`` when the action was chosen
    :param goal: the level's goal then
    :param action: the action (a subgoal above level 0)
    :param next_obs: the env's ``observation`` when the action ended
    :param achieved: what ``next_obs`` achieves in the level's goal space
    :param hindsight_action: the action as achieved: the subgoal reached below (the projection of the end
        state) above level 0, the action itself at level 0
    :param terminal: the env terminated at ``next_obs``
    :param missed_test: the action was a tested subgoal the level below did not reach in its ``H`` actions
    """

    obs: np.ndarray
    goal: np.ndarray
    action: np.ndarray
    next_obs: np.ndarray
    achieved: np.ndarray
    hindsight_action: np.ndarray
    terminal: bool = False
    missed_test: bool = False


@dataclass
class Transition:
    """``[s, a, r, s', g]`` and whether to bootstrap from ``s'`` (``done``: do not)."""

    obs: np.ndarray
    action: np.ndarray
    reward: float
    next_obs: np.ndarray
    goal: np.ndarray
    done: bool


def action_transitions(attempt: Attempt, threshold: np.ndarray, horizon: int) -> list[Transition]:
    """The hindsight action transition of ``attempt``, and the subgoal-testing one when its test was missed."""
    success = bool(goal_reached(attempt.achieved, attempt.goal, threshold))
    transitions = [Transition(attempt.obs, attempt.hindsight_action, 0.0 if success else -1.0, attempt.next_obs,
                              attempt.goal, success or attempt.terminal)]
    if attempt.missed_test:
        transitions.append(Transition(attempt.obs, attempt.action, -float(horizon), attempt.next_obs, attempt.goal, True))
    return transitions


def goal_transitions(run: list[Attempt], threshold: np.ndarray, n_goals: int, rng: np.random.Generator) -> list[Transition]:
    """Hindsight goal transitions of one run of a level toward one goal (its attempts, in order).

    Each attempt ``t`` gets ``n_goals`` goals: what the run achieved at its end, and ``n_goals - 1``
    achieved at attempts drawn uniformly from ``t`` to the end.
    """
    transitions = []
    last = len(run) - 1
    for t, attempt in enumerate(run):
        picks = [last] + [int(rng.integers(t, last + 1)) for _ in range(n_goals - 1)]
        for pick in picks[:n_goals]:
            goal = run[pick].achieved
            success = bool(goal_reached(attempt.achieved, goal, threshold))
            transitions.append(Transition(attempt.obs, attempt.hindsight_action, 0.0 if success else -1.0,
                                          attempt.next_obs, goal, success or attempt.terminal))
    return transitions


class LevelReplayBuffer:
    """A ring buffer of one level's transitions, sampled uniformly.

    :param capacity: the most transitions kept (the oldest are overwritten)
    :param obs_dim: size of the env's ``observation``
    :param goal_dim: size of the level's goals
    :param action_dim: size of the level's actions
    """

    def __init__(self, capacity: int, obs_dim: int, goal_dim: int, action_dim: int) -> None:
        self.capacity = capacity
        self.obs = np.zeros((capacity, obs_dim), np.float32)
        self.next_obs = np.zeros((capacity, obs_dim), np.float32)
        self.goals = np.zeros((capacity, goal_dim), np.float32)
        self.actions = np.zeros((capacity, action_dim), np.float32)
        self.rewards = np.zeros(capacity, np.float32)
        self.dones = np.zeros(capacity, np.float32)
        self.pos = 0
        self.full = False

    def __len__(self) -> int:
        return self.capacity if self.full else self.pos

    def add(self, transition: Transition) -> None:
        i = self.pos
        self.obs[i], self.next_obs[i], self.goals[i] = transition.obs, transition.next_obs, transition.goal
        self.actions[i], self.rewards[i], self.dones[i] = transition.action, transition.reward, float(transition.done)
        self.pos = (self.pos + 1) % self.capacity
        self.full = self.full or self.pos == 0

    def sample(self, batch_size: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """``batch_size`` transitions drawn uniformly (with replacement) as arrays."""
        idx = rng.integers(0, len(self), size=batch_size)
        return {"obs": self.obs[idx], "actions": self.actions[idx], "rewards": self.rewards[idx],
                "next_obs": self.next_obs[idx], "goals": self.goals[idx], "dones": self.dones[idx]}
