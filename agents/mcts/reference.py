"""The reference UCT search: plain Python, one object per node, as in the textbook.

One simulation from the root state:

1. **Selection**: while the node is fully expanded, take the edge maximising
   ``Q(s, a) + C sqrt(ln N(s) / N(s, a))``; the lowest action wins ties.
2. **Expansion**: at a node with untried legal actions, try one of them drawn uniformly; its outcome becomes
   a new node. A step with several chance outcomes draws one (a *chance node*: the edge keeps one child per
   outcome seen; reaching an outcome not seen yet is an expansion too).
3. **Rollout**: from the new node, play uniformly random legal moves (or the rollout policy's) until the
   game ends or the horizon is reached. ``decisive`` rollouts play a move that wins on the spot when there
   is one.
4. **Backpropagation**: each edge on the path adds the return that followed it, discounted by ``gamma``,
   seen by the player who took it. Rewards go to the player who moved; in a two-player zero-sum game
   a return for one player is minus the return for the other (negamax), so every node maximises for the
   player to move there.

With ``solve=True`` (two-player deterministic games) the search also marks solved positions, as in
MCTS-Solver: a node whose move wins on the spot, or that has a move into a lost node, is *won* for its
player to move; a fully expanded node all of whose moves lead to won nodes (for the opponent) is *lost*.
A simulation reaching a solved node stops there and backs up its exact value (+1 or -1) instead of a
rollout.

The best root action is the most visited one (with the solver: a winning move if there is one, and
never a losing one while another exists). :mod:`agents.mcts.fast` runs the same search on arrays,
compiled; given the same seed both make the same tree (the tests check the visit counts).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from agents.mcts.kernels import SplitMix64
from agents.mcts.simulators import KernelSimulator


@dataclass
class Edge:
    """An action tried in a node: its visits ``N(s, a)``, total return ``W(s, a)`` and one child per outcome."""

    action: int
    visits: int = 0
    total: float = 0.0
    children: dict[int, "Node"] = field(default_factory=dict)


@dataclass
class Node:
    """A state in the tree: the player to move, visits ``N(s)`` and edges by action.

    :param reward: the reward the step into this node paid its mover
    """

    player: int
    terminal: bool
    reward: float = 0.0
    visits: int = 0
    edges: dict[int, Edge] = field(default_factory=dict)
    #: solved value for the player to move: +1 won, -1 lost, 0 unknown
    proven: int = 0
    n_legal: int = 0


def uct_score(edge: Edge, parent_visits: int, c_uct: float) -> float:
    """``Q(s, a) + C sqrt(ln N(s) / N(s, a))`` of an edge visited at least once.

    Computed as ``(C sqrt(ln N)) * (1 / sqrt(n))``, the order the compiled search uses, so both round alike.
    """
    return edge.total / edge.visits + (c_uct * math.sqrt(math.log(parent_visits))) * (1.0 / math.sqrt(edge.visits))


def signed(value: float, seen_by: int, for_player: int) -> float:
    """A return seen by player ``seen_by``, as player ``for_player`` sees it (zero-sum: the sign flips)."""
    return value if seen_by == for_player else -value


def rollout(sim: KernelSimulator, rng: SplitMix64, steps_left: float, gamma: float,
            policy: Callable[[KernelSimulator], int] | None = None, decisive: bool = False) -> float:
    """Play to the end or the horizon; the discounted return seen by the player to move at the start."""
    player = sim.to_move()
    value, discount, steps = 0.0, 1.0, 0
    while not sim.is_terminal() and steps < steps_left:
        mover = sim.to_move()
        if policy is None:
            legal = sim.legal_actions()
            action = sim.winning_move(legal) if decisive else -1
            if action < 0:
                action = int(legal[int(rng.random() * len(legal))])
        else:
            action = policy(sim)
        u = rng.random() if sim.stochastic else 0.0
        reward, _ = sim.step(action, u)
        value += discount * signed(reward, mover, player)
        discount *= gamma
        steps += 1
    return value


def update_proven(parent: Node, child: Node) -> None:
    """The solver's rule: a move into a lost node wins the parent; the parent is lost when every move loses."""
    if child.proven == 0 or parent.proven != 0:
        return
    if child.proven < 0:
        parent.proven = 1
    elif len(parent.edges) == parent.n_legal and all(
            edge.children and edge.children[0].proven > 0 for edge in parent.edges.values()):
        parent.proven = -1


def simulate(root: Node, sim: KernelSimulator, rng: SplitMix64, c_uct: float, gamma: float, horizon: float,
             rollout_policy: Callable[[KernelSimulator], int] | None = None, solve: bool = False,
             decisive: bool = False) -> None:
    """One simulation from ``root``, whose state ``sim`` holds (it is changed: restore it after)."""
    node, path, depth = root, [], 0
    while not node.terminal and node.proven == 0 and depth < horizon:
        legal = sim.legal_actions()
        node.n_legal = len(legal)
        untried = [int(a) for a in legal if int(a) not in node.edges]
        if untried:  # expansion: a random untried action
            action = untried[int(rng.random() * len(untried))]
            edge = node.edges[action] = Edge(action)
        else:  # selection
            edge = max((node.edges[int(a)] for a in legal), key=lambda e: uct_score(e, node.visits, c_uct))
        u = rng.random() if sim.stochastic else 0.0
        reward, outcome = sim.step(edge.action, u)
        depth += 1
        child = edge.children.get(outcome)
        expanded = child is None
        if expanded:
            child = edge.children[outcome] = Node(sim.to_move(), sim.is_terminal(), reward)
            if solve and child.terminal and reward != 0:  # the mover won (or lost) on the spot
                child.proven = -1 if reward > 0 else 1
        path.append((node, edge, child))
        node = child
        if expanded:
            break
    if node.proven != 0 and not node.terminal:  # solved: its exact value, no rollout
        value = float(node.proven)
    else:
        value = rollout(sim, rng, horizon - depth, gamma, rollout_policy, decisive)
    seen_by = node.player
    for parent, edge, child in reversed(path):  # backpropagation, negamax for two players
        value = child.reward + gamma * signed(value, seen_by, parent.player)
        seen_by = parent.player
        edge.visits += 1
        edge.total += value
        parent.visits += 1
        if solve:
            update_proven(parent, child)


def search(sim: KernelSimulator, n_simulations: int, c_uct: float, seed: int, gamma: float = 1.0,
           horizon: float = math.inf, rollout_policy: Callable[[KernelSimulator], int] | None = None,
           solve: bool = False, decisive: bool = False) -> Node:
    """Run ``n_simulations`` simulations from the state ``sim`` holds (left as it was); returns the root."""
    rng = SplitMix64(seed)
    start = sim.snapshot()
    root = Node(sim.to_move(), sim.is_terminal())
    for _ in range(n_simulations):
        simulate(root, sim, rng, c_uct, gamma, horizon, rollout_policy, solve, decisive)
        sim.restore(start)
    return root


def root_visits(root: Node, n_actions: int) -> np.ndarray:
    """Visit count of each root action (0 for actions never tried)."""
    visits = np.zeros(n_actions, dtype=np.int64)
    for action, edge in root.edges.items():
        visits[action] = edge.visits
    return visits


def root_proven(root: Node, n_actions: int) -> np.ndarray:
    """For each root action, the solved value of its child for the player to move there (+1, -1 or 0)."""
    proven = np.zeros(n_actions, dtype=np.int64)
    for action, edge in root.edges.items():
        if edge.children:
            proven[action] = edge.children[0].proven
    return proven


def root_values(root: Node, n_actions: int) -> np.ndarray:
    """Mean return ``Q(root, a)`` of each root action (NaN for actions never tried)."""
    values = np.full(n_actions, np.nan)
    for action, edge in root.edges.items():
        values[action] = edge.total / edge.visits
    return values


def best_action(root: Node, legal: Any) -> int:
    """The most visited root action (the first legal one among equals)."""
    legal = [int(a) for a in legal]
    return max(legal, key=lambda a: root.edges[a].visits if a in root.edges else -1)


# --- DP-UCT on a transition table: one node per (state, depth), Bellman backups ------------------------------------
# Keller & Helmert (2013), "Trial-based heuristic tree search for finite horizon MDPs". The known outcome
# probabilities of a transition table replace the averages of sampled returns, and the same state reached at the
# same depth by different paths is one node (a transposition): a search of the toy-text envs' few hundred states
# converges to the exact finite-horizon values instead of averaging a few random walks.


def return_bound(sim: KernelSimulator, gamma: float, horizon: int) -> np.ndarray:
    """``U[k]``: the most any ``k`` steps of the table can return, from any state (``U[0] = 0``).

    ``U[k] = max over all transitions (r + gamma * (0 if it ends the episode else U[k - 1]))``: an upper bound on
    every ``V(s, k steps left)`` (admissible), from which an optimistic search starts its unvisited nodes.
    """
    rewards, dones = np.asarray(sim.params[4], dtype=np.float64), np.asarray(sim.params[5]) != 0
    bound = np.zeros(int(horizon) + 1)
    for k in range(1, int(horizon) + 1):
        bound[k] = float(np.max(rewards + gamma * np.where(dones, 0.0, bound[k - 1])))
    return bound


@dataclass
class TableNode:
    """A state at a depth of the search: ``V(s, d)``, ``N(s, d)`` and per tried action ``N(s, d, a)``, ``Q(s, d, a)``.

    :param value: ``V(s, d)``: the largest ``Q`` of the tried actions (and, in an optimistic search, the bound
        while an action is untried); before any, the bound or a rollout's return
    """

    value: float
    visits: int = 0
    counts: dict[int, int] = field(default_factory=dict)
    q: dict[int, float] = field(default_factory=dict)


def bellman_q(graph: dict[tuple[int, int], TableNode], sim: KernelSimulator, s: int, depth: int, action: int,
              gamma: float, horizon: int, bound: np.ndarray | None) -> float:
    """``Q(s, d, a) = sum_j p_j (r_j + gamma V_j) / sum_j p_j`` over the outcomes ``j`` of ``(s, a)`` whose value is known.

    ``V_j`` is 0 after an outcome that ends the episode or reaches the horizon, the node's value where the
    search has a node for ``(s'_j, d + 1)``, else the bound ``U[horizon - d - 1]`` (optimistic search) or the
    outcome is left out (a partial backup, as in Keller and Helmert's DP-UCT).
    """
    starts, counts, probs, next_states, rewards, dones = sim.params
    total, weight = 0.0, 0.0
    for j in range(int(counts[s, action])):
        row = int(starts[s, action]) + j
        after = 0.0
        if not dones[row] and depth + 1 < horizon:
            child = graph.get((int(next_states[row]), depth + 1))
            if child is not None:
                after = child.value
            elif bound is not None:
                after = float(bound[horizon - depth - 1])
            else:
                continue
        total += probs[row] * (rewards[row] + gamma * after)
        weight += probs[row]
    return total / weight


def bellman_simulate(graph: dict[tuple[int, int], TableNode], sim: KernelSimulator, rng: SplitMix64, c_uct: float,
                     gamma: float, horizon: int, bound: np.ndarray | None,
                     rollout_policy: Callable[[KernelSimulator], int] | None = None) -> None:
    """One trial from the root ``(state of sim, 0)``: down the graph to a new node, which gets the bound or a
    rollout's return, then Bellman backups up the trial."""
    node, depth, path = graph[(int(sim.state[0]), 0)], 0, []
    while True:
        s = int(sim.state[0])
        legal = [int(a) for a in sim.legal_actions()]
        untried = [a for a in legal if a not in node.counts]
        if untried:  # expansion of an action: a random untried one
            action = untried[int(rng.random() * len(untried))]
            node.counts[action], node.q[action] = 0, 0.0
        else:  # selection: UCT on the Bellman values; the lowest action wins ties
            explore = c_uct * math.sqrt(math.log(node.visits))
            action = max(legal, key=lambda a: node.q[a] + explore * (1.0 / math.sqrt(node.counts[a])))
        u = rng.random() if sim.stochastic else 0.0
        sim.step(action, u)
        path.append((node, s, depth, action))
        depth += 1
        if sim.is_terminal() or depth >= horizon:
            break
        key = (int(sim.state[0]), depth)
        if key not in graph:  # a new node
            value = float(bound[horizon - depth]) if bound is not None else rollout(sim, rng, horizon - depth, gamma, rollout_policy)
            graph[key] = TableNode(value)
            break
        node = graph[key]
    for node, s, d, action in reversed(path):  # Bellman backups along the trial
        node.counts[action] += 1
        node.visits += 1
        node.q[action] = bellman_q(graph, sim, s, d, action, gamma, horizon, bound)
        node.value = max(node.q.values())
        if bound is not None and len(node.q) < sim.n_actions:  # an untried action may still reach the bound
            node.value = max(node.value, float(bound[horizon - d]))


def bellman_search(sim: KernelSimulator, n_simulations: int, c_uct: float, seed: int, gamma: float = 1.0,
                   horizon: int = 100, optimistic: bool = True,
                   rollout_policy: Callable[[KernelSimulator], int] | None = None) -> dict[tuple[int, int], TableNode]:
    """DP-UCT: ``n_simulations`` trials from the state ``sim`` holds (a transition table's, left as it was).

    :param optimistic: new nodes and outcomes not reached yet are valued by :func:`return_bound` (else new
        nodes by one rollout, and unreached outcomes are left out of the backups)
    :return: the graph, nodes by ``(state, depth)``; the root is ``(state, 0)``
    """
    rng = SplitMix64(seed)
    start = sim.snapshot()
    bound = return_bound(sim, gamma, horizon) if optimistic else None
    graph = {(int(sim.state[0]), 0): TableNode(0.0)}
    for _ in range(n_simulations):
        bellman_simulate(graph, sim, rng, c_uct, gamma, horizon, bound, rollout_policy)
        sim.restore(start)
    return graph


def bellman_root(graph: dict[tuple[int, int], TableNode], state: int, n_actions: int) -> tuple[np.ndarray, np.ndarray]:
    """Visits ``N(root, a)`` and values ``Q(root, a)`` of each root action (0 and NaN for actions never tried)."""
    root = graph[(state, 0)]
    visits, values = np.zeros(n_actions, dtype=np.int64), np.full(n_actions, np.nan)
    for action, count in root.counts.items():
        visits[action], values[action] = count, root.q[action]
    return visits, values
