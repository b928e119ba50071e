"""DP-UCT (agents.mcts.fast.run_bellman_search) planning on a toy-text env: mean return over episodes.

    python benchmarks/mcts_dp_uct.py ENV_ID HORIZON SIMULATIONS C_UCT GAMMA EPISODES [fixed|remaining] [optimistic|rollout]

Each step searches SIMULATIONS trials of HORIZON steps (fixed) or of the steps left in the episode (remaining) from
the current state and plays the root action of largest Q (ties: the most visited). Not yet wired into MCTS.
"""
import sys
import time

import gymnasium as gym
import numpy as np

from agents.mcts import fast
from agents.mcts.algorithm import best_by_value
from agents.mcts.simulators import make_simulator


def main() -> None:
    env_id, H, N, C, gamma, episodes = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6])
    mode = sys.argv[7] if len(sys.argv) > 7 else "fixed"   # fixed | remaining
    optimistic = (sys.argv[8] != "rollout") if len(sys.argv) > 8 else True
    env = gym.make(env_id)
    limit = env.spec.max_episode_steps or 200
    sim = make_simulator(env)
    graph = fast.TableGraph(N + 1, sim.n_states, sim.n_actions, max(H, limit))
    rng = np.array([1], dtype=np.uint64)
    rets = []; t0 = time.time()
    for ep in range(episodes):
        obs, _ = env.reset(seed=ep); done = False; R = 0; t = 0
        while not done:
            h = H if mode == "fixed" else min(H, limit - t)
            sim.set_from_observation(obs)
            fast.run_bellman_search(sim, graph, N, C, rng, gamma, h, optimistic)
            visits, q = graph.root()
            a = best_by_value(q, visits)  # MCTS's own choice of move (the actions are 0..n-1 here)
            obs, r, term, trunc, _ = env.step(a); R += r; t += 1; done = term or trunc
        rets.append(R)
    print(env_id, H, N, C, gamma, mode, optimistic, f"mean {np.mean(rets):.3f} +- {np.std(rets):.3f} over {episodes}", f"{time.time()-t0:.0f}s", flush=True)


if __name__ == "__main__":
    main()
