"""The fast UCT search: the tree in NumPy arrays and the whole loop compiled with numba.

It is the search of :mod:`agents.mcts.reference` step for step (same expansion order, same tie-breaking,
same random numbers from :func:`agents.mcts.kernels.next_uniform`), so a seed gives both the same tree. The
game's rules are compiled into the loop: :func:`compiled_search` builds one search per game's kernels.

The tree holds at most ``n_simulations + 1`` nodes (one new node per simulation):

- nodes: ``player``, ``terminal``, ``reward`` (paid by the step into it), ``visits`` ``N(s)``,
  ``edge[node, action]`` (the edge of each action tried, or -1), ``outcome`` and ``sibling`` (the next
  child of the same edge: an edge with chance outcomes has a list of children);
- edges: ``action``, ``visits`` ``N(s, a)``, ``total`` ``W(s, a)``, ``first_child``;
- the solver's ``proven`` (+1 won, -1 lost for the player to move, 0 unknown) and ``n_legal`` of each node.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from agents.mcts.kernels import next_uniform, table_row
from agents.mcts.reference import return_bound

#: stands for "no horizon" in the compiled loop
NO_HORIZON = np.iinfo(np.int64).max


@dataclass
class ArrayTree:
    """The arrays of one search tree (see the module docstring), reused between searches.

    :param capacity: maximum number of nodes (and edges)
    :param n_actions: size of the action space
    """

    capacity: int
    n_actions: int

    def __post_init__(self) -> None:
        m = self.capacity
        self.node_player = np.zeros(m, dtype=np.int64)
        self.node_terminal = np.zeros(m, dtype=np.bool_)
        self.node_reward = np.zeros(m)
        self.node_visits = np.zeros(m, dtype=np.int64)
        self.node_edge = np.full((m, self.n_actions), -1, dtype=np.int64)
        self.node_outcome = np.zeros(m, dtype=np.int64)
        self.node_sibling = np.full(m, -1, dtype=np.int64)
        self.edge_action = np.zeros(m, dtype=np.int64)
        self.edge_visits = np.zeros(m, dtype=np.int64)
        self.edge_total = np.zeros(m)
        self.edge_first_child = np.full(m, -1, dtype=np.int64)
        self.node_proven = np.zeros(m, dtype=np.int64)
        self.node_n_legal = np.zeros(m, dtype=np.int64)

    def arrays(self) -> tuple[np.ndarray, ...]:
        return (self.node_player, self.node_terminal, self.node_reward, self.node_visits, self.node_edge,
                self.node_outcome, self.node_sibling, self.edge_action, self.edge_visits, self.edge_total,
                self.edge_first_child, self.node_proven, self.node_n_legal)

    def root_visits(self) -> np.ndarray:
        """Visit count of each root action (0 for actions never tried)."""
        edges = self.node_edge[0]
        return np.where(edges >= 0, self.edge_visits[np.maximum(edges, 0)], 0)

    def root_proven(self) -> np.ndarray:
        """For each root action, the solved value of its child for the player to move there (+1 won, -1 lost, 0 unknown)."""
        edges = self.node_edge[0]
        children = np.where(edges >= 0, self.edge_first_child[np.maximum(edges, 0)], -1)
        return np.where(children >= 0, self.node_proven[np.maximum(children, 0)], 0)

    def root_values(self) -> np.ndarray:
        """Mean return of each root action (NaN for actions never tried)."""
        edges = self.node_edge[0]
        visits = self.edge_visits[np.maximum(edges, 0)]
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where((edges >= 0) & (visits > 0), self.edge_total[np.maximum(edges, 0)] / visits, np.nan)


_SEARCHES: dict[tuple, object] = {}


def compiled_search(kernel_functions: tuple):
    """The compiled search for one game's ``(legal, step, terminal, player, winning)`` kernels (built once)."""
    if kernel_functions not in _SEARCHES:
        _SEARCHES[kernel_functions] = _make_search(*kernel_functions)
    return _SEARCHES[kernel_functions]


def _make_search(legal, step, terminal, player, winning):
    @njit(cache=False)
    def rollout(params, state, rng, steps_left, gamma, stochastic, actions, policy_table, decisive):
        me = player(params, state)
        value, discount, steps = 0.0, 1.0, 0
        while not terminal(params, state) and steps < steps_left:
            mover = player(params, state)
            if policy_table.shape[0] > 0:  # a rollout policy read into a table (transition tables)
                action = policy_table[int(state[0])]
            else:
                n = legal(params, state, actions)
                action = winning(params, state, actions, n) if decisive else -1
                if action < 0:
                    action = actions[int(next_uniform(rng) * n)]
            u = next_uniform(rng) if stochastic else 0.0
            reward, _ = step(params, state, action, u)
            value += discount * (reward if mover == me else -reward)
            discount *= gamma
            steps += 1
        return value

    @njit(cache=False)
    def search(params, root_state, n_simulations, c_uct, gamma, horizon, rng, stochastic, policy_table, solve, decisive,
               node_player, node_terminal, node_reward, node_visits, node_edge, node_outcome, node_sibling,
               edge_action, edge_visits, edge_total, edge_first_child, node_proven, node_n_legal):
        n_actions = node_edge.shape[1]
        actions = np.empty(n_actions, dtype=np.int64)
        untried = np.empty(n_actions, dtype=np.int64)
        max_path = n_simulations + 1 if horizon > n_simulations else horizon + 1
        path_parent = np.empty(max_path, dtype=np.int64)
        path_edge = np.empty(max_path, dtype=np.int64)
        path_child = np.empty(max_path, dtype=np.int64)
        node_n_edges = np.zeros(node_edge.shape[0], dtype=np.int64)
        inv_sqrt = 1.0 / np.sqrt(np.arange(n_simulations + 1, dtype=np.float64))
        state = root_state.copy()
        # the root
        node_player[0] = player(params, state)
        node_terminal[0] = terminal(params, state)
        node_reward[0] = 0.0
        node_visits[0] = 0
        node_edge[0, :] = -1
        node_sibling[0] = -1
        node_proven[0] = 0
        n_nodes, n_edges = 1, 0
        for _ in range(n_simulations):
            state[:] = root_state
            node, depth, length = 0, 0, 0
            while not node_terminal[node] and node_proven[node] == 0 and depth < horizon:
                n = legal(params, state, actions)
                node_n_legal[node] = n
                n_untried = 0
                if node_n_edges[node] < n:
                    for i in range(n):
                        if node_edge[node, actions[i]] < 0:
                            untried[n_untried] = actions[i]
                            n_untried += 1
                if n_untried > 0:  # expansion: a random untried action
                    action = untried[int(next_uniform(rng) * n_untried)]
                    edge = n_edges
                    n_edges += 1
                    edge_action[edge] = action
                    edge_visits[edge] = 0
                    edge_total[edge] = 0.0
                    edge_first_child[edge] = -1
                    node_edge[node, action] = edge
                    node_n_edges[node] += 1
                else:  # selection by UCT; the lowest action wins ties
                    explore = c_uct * np.sqrt(np.log(node_visits[node]))
                    best_score = -np.inf
                    edge = -1
                    for i in range(n):
                        e = node_edge[node, actions[i]]
                        visits = edge_visits[e]
                        score = edge_total[e] / visits + explore * inv_sqrt[visits]
                        if score > best_score:
                            best_score = score
                            edge = e
                u = next_uniform(rng) if stochastic else 0.0
                reward, outcome = step(params, state, edge_action[edge], u)
                depth += 1
                child = edge_first_child[edge]
                while child >= 0 and node_outcome[child] != outcome:
                    child = node_sibling[child]
                expanded = child < 0
                if expanded:
                    child = n_nodes
                    n_nodes += 1
                    node_player[child] = player(params, state)
                    node_terminal[child] = terminal(params, state)
                    node_reward[child] = reward
                    node_visits[child] = 0
                    node_edge[child, :] = -1
                    node_outcome[child] = outcome
                    node_sibling[child] = edge_first_child[edge]
                    edge_first_child[edge] = child
                    node_proven[child] = 0
                    if solve and node_terminal[child] and reward != 0.0:  # the mover won (or lost) here
                        node_proven[child] = -1 if reward > 0.0 else 1
                path_parent[length] = node
                path_edge[length] = edge
                path_child[length] = child
                length += 1
                node = child
                if expanded:
                    break
            if node_proven[node] != 0 and not node_terminal[node]:  # solved: its exact value, no rollout
                value = float(node_proven[node])
            else:
                value = rollout(params, state, rng, horizon - depth, gamma, stochastic, actions, policy_table, decisive)
            seen_by = node_player[node]
            for i in range(length - 1, -1, -1):  # backpropagation, negamax for two players
                parent = path_parent[i]
                if seen_by != node_player[parent]:
                    value = -value
                value = node_reward[path_child[i]] + gamma * value
                seen_by = node_player[parent]
                edge_visits[path_edge[i]] += 1
                edge_total[path_edge[i]] += value
                node_visits[parent] += 1
                child = path_child[i]
                if solve and node_proven[child] != 0 and node_proven[parent] == 0:
                    if node_proven[child] < 0:  # a move that leaves the opponent lost: the parent is won
                        node_proven[parent] = 1
                    elif node_n_edges[parent] == node_n_legal[parent]:  # lost if every move loses
                        lost = True
                        for a in range(n_actions):
                            e = node_edge[parent, a]
                            if e >= 0 and (edge_first_child[e] < 0 or node_proven[edge_first_child[e]] <= 0):
                                lost = False
                                break
                        if lost:
                            node_proven[parent] = -1
        return n_nodes

    return search


_RANDOM = np.zeros(0, dtype=np.int64)


def run_search(sim, tree: ArrayTree, n_simulations: int, c_uct: float, rng: np.ndarray, gamma: float = 1.0,
               horizon: float = np.inf, policy_table: np.ndarray = _RANDOM, solve: bool = False,
               decisive: bool = False) -> int:
    """Search from the state ``sim`` holds (a :class:`~agents.mcts.simulators.KernelSimulator`) into ``tree``.

    :param rng: the generator state (a one-element uint64 array, advanced in place)
    :param policy_table: the rollout action in each state of a transition table; empty: random rollouts
    :param solve: mark won and lost positions (two-player deterministic games only, see the reference search)
    :param decisive: rollouts play a move that wins on the spot when there is one (else a random one)
    :return: the number of nodes the tree has
    """
    if tree.capacity < n_simulations + 1:
        raise ValueError(f"a tree of {tree.capacity} nodes cannot hold {n_simulations} simulations")
    search = compiled_search(sim.kernel_functions)
    limit = NO_HORIZON if horizon == np.inf or horizon is None else int(horizon)
    return int(search(sim.params, sim.state, int(n_simulations), float(c_uct), float(gamma), limit, rng,
                      bool(sim.stochastic), policy_table, bool(solve), bool(decisive), *tree.arrays()))


def warm_up(sim, policy_table: np.ndarray = _RANDOM) -> None:
    """Compile the search of ``sim``'s game (a one-simulation search on a copy of its state)."""
    saved = sim.snapshot()
    run_search(sim, ArrayTree(2, sim.n_actions), 1, 1.0, np.zeros(1, dtype=np.uint64), horizon=1,
               policy_table=policy_table)
    sim.restore(saved)


# --- DP-UCT on a transition table (the reference: agents.mcts.reference.bellman_search) --------------------------


@dataclass
class TableGraph:
    """The arrays of a DP-UCT search on a transition table: nodes by ``(state, depth)``, reused between searches.

    ``node_of[s, d]`` is the node of state ``s`` at depth ``d`` (-1: none yet); per node its state, depth,
    ``V`` and ``N``, and per action ``N(s, d, a)``, ``Q(s, d, a)`` and whether it was tried.

    :param capacity: maximum number of nodes (one new per simulation, plus the root)
    :param n_states: states of the table
    :param n_actions: actions of the table
    :param horizon: the largest horizon of the searches
    """

    capacity: int
    n_states: int
    n_actions: int
    horizon: int

    def __post_init__(self) -> None:
        m, a = self.capacity, self.n_actions
        self.node_of = np.full((self.n_states, self.horizon + 1), -1, dtype=np.int32)
        self.node_state = np.zeros(m, dtype=np.int64)
        self.node_depth = np.zeros(m, dtype=np.int64)
        self.node_value = np.zeros(m)
        self.node_visits = np.zeros(m, dtype=np.int64)
        self.edge_count = np.zeros((m, a), dtype=np.int64)
        self.edge_q = np.zeros((m, a))
        self.edge_tried = np.zeros((m, a), dtype=np.bool_)
        self.n_nodes = 0

    def arrays(self) -> tuple[np.ndarray, ...]:
        return (self.node_of, self.node_state, self.node_depth, self.node_value, self.node_visits, self.edge_count,
                self.edge_q, self.edge_tried)

    def root(self) -> tuple[np.ndarray, np.ndarray]:
        """Visits and values of each root action (0 and NaN for actions never tried)."""
        tried = self.edge_tried[0]
        return np.where(tried, self.edge_count[0], 0), np.where(tried, self.edge_q[0], np.nan)


@njit(cache=True)
def _bellman_q(params, node_of, node_value, s, depth, action, gamma, horizon, bound, optimistic):
    starts, counts, probs, next_states, rewards, dones = params
    total, weight = 0.0, 0.0
    for j in range(counts[s, action]):
        row = starts[s, action] + j
        after = 0.0
        if dones[row] == 0 and depth + 1 < horizon:
            child = node_of[next_states[row], depth + 1]
            if child >= 0:
                after = node_value[child]
            elif optimistic:
                after = bound[horizon - depth - 1]
            else:
                continue
        total += probs[row] * (rewards[row] + gamma * after)
        weight += probs[row]
    return total / weight


@njit(cache=True)
def _new_table_node(node_of, node_state, node_depth, node_value, node_visits, edge_count, edge_q, edge_tried,
                    node, s, depth, value):
    node_of[s, depth] = node
    node_state[node] = s
    node_depth[node] = depth
    node_value[node] = value
    node_visits[node] = 0
    edge_count[node, :] = 0
    edge_q[node, :] = 0.0
    edge_tried[node, :] = False


@njit(cache=True)
def _bellman_search(params, root, n_simulations, c_uct, gamma, horizon, rng, stochastic, policy_table, bound,
                    optimistic, old_nodes, node_of, node_state, node_depth, node_value, node_visits, edge_count,
                    edge_q, edge_tried):
    next_states, rewards, dones = params[3], params[4], params[5]
    n_actions = edge_q.shape[1]
    for i in range(old_nodes):  # forget the last search's nodes (only the entries it set)
        node_of[node_state[i], node_depth[i]] = -1
    untried = np.empty(n_actions, dtype=np.int64)
    max_path = n_simulations + 1 if horizon > n_simulations else horizon + 1
    path_node = np.empty(max_path, dtype=np.int64)
    path_action = np.empty(max_path, dtype=np.int64)
    _new_table_node(node_of, node_state, node_depth, node_value, node_visits, edge_count, edge_q, edge_tried,
                    0, root, 0, 0.0)
    n_nodes = 1
    for _ in range(n_simulations):
        node, s, depth, length = 0, root, 0, 0
        while True:
            n_untried = 0
            for a in range(n_actions):
                if not edge_tried[node, a]:
                    untried[n_untried] = a
                    n_untried += 1
            if n_untried > 0:  # expansion of an action: a random untried one
                action = untried[int(next_uniform(rng) * n_untried)]
                edge_tried[node, action] = True
            else:  # selection: UCT on the Bellman values; the lowest action wins ties
                explore = c_uct * np.sqrt(np.log(node_visits[node]))
                best = -np.inf
                action = 0
                for a in range(n_actions):
                    score = edge_q[node, a] + explore * (1.0 / np.sqrt(edge_count[node, a]))
                    if score > best:
                        best = score
                        action = a
            u = next_uniform(rng) if stochastic else 0.0
            row = table_row(params, s, action, u)
            path_node[length] = node
            path_action[length] = action
            length += 1
            depth += 1
            s = next_states[row]
            if dones[row] != 0 or depth >= horizon:
                break
            child = node_of[s, depth]
            if child < 0:  # a new node: the bound, or one rollout
                if optimistic:
                    value = bound[horizon - depth]
                else:
                    value, discount, steps, state, done = 0.0, 1.0, 0, s, False
                    while not done and steps < horizon - depth:
                        if policy_table.shape[0] > 0:
                            a = policy_table[state]
                        else:
                            a = int(next_uniform(rng) * n_actions)
                        v = next_uniform(rng) if stochastic else 0.0
                        r_row = table_row(params, state, a, v)
                        value += discount * rewards[r_row]
                        discount *= gamma
                        steps += 1
                        state = next_states[r_row]
                        done = dones[r_row] != 0
                _new_table_node(node_of, node_state, node_depth, node_value, node_visits, edge_count, edge_q,
                                edge_tried, n_nodes, s, depth, value)
                n_nodes += 1
                break
            node = child
        for i in range(length - 1, -1, -1):  # Bellman backups along the trial
            node = path_node[i]
            action = path_action[i]
            edge_count[node, action] += 1
            node_visits[node] += 1
            edge_q[node, action] = _bellman_q(params, node_of, node_value, node_state[node], node_depth[node], action,
                                              gamma, horizon, bound, optimistic)
            best = -np.inf
            for a in range(n_actions):
                if edge_tried[node, a]:
                    if edge_q[node, a] > best:
                        best = edge_q[node, a]
                elif optimistic:  # an untried action may still reach the bound
                    best = max(best, bound[horizon - node_depth[node]])
            node_value[node] = best
    return n_nodes


def run_bellman_search(sim, graph: TableGraph, n_simulations: int, c_uct: float, rng: np.ndarray, gamma: float = 1.0,
                       horizon: int = 100, optimistic: bool = True, policy_table: np.ndarray = _RANDOM,
                       bound: np.ndarray | None = None) -> int:
    """DP-UCT from the state ``sim`` holds (a :class:`~agents.mcts.simulators.TransitionTableSimulator`) into ``graph``.

    :param rng: the generator state (a one-element uint64 array, advanced in place)
    :param optimistic: new nodes start at the return bound (see :func:`agents.mcts.reference.return_bound`);
        else at one rollout's return
    :param policy_table: the rollout action in each state; empty: random rollouts
    :param bound: the return bound for ``gamma`` and ``horizon`` when already computed
    :return: the number of nodes
    """
    if graph.capacity < n_simulations + 1 or graph.horizon < horizon:
        raise ValueError(f"a graph of {graph.capacity} nodes and horizon {graph.horizon} cannot hold "
                         f"{n_simulations} simulations of horizon {horizon}")
    if bound is None:
        bound = return_bound(sim, gamma, horizon)
    graph.n_nodes = int(_bellman_search(sim.params, int(sim.state[0]), int(n_simulations), float(c_uct), float(gamma),
                                        int(horizon), rng, bool(sim.stochastic), policy_table, bound, bool(optimistic),
                                        graph.n_nodes, *graph.arrays()))
    return graph.n_nodes


def warm_up_bellman(sim, optimistic: bool = True, policy_table: np.ndarray = _RANDOM) -> None:
    """Compile the DP-UCT search (a one-simulation search of horizon 1 on a copy of ``sim``'s state)."""
    saved = sim.snapshot()
    run_bellman_search(sim, TableGraph(2, sim.n_states, sim.n_actions, 1), 1, 1.0, np.zeros(1, dtype=np.uint64),
                       horizon=1, optimistic=optimistic, policy_table=policy_table)
    sim.restore(saved)
