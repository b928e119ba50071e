"""The model card (``README.md``) of an agent's Hub repository.

Its YAML front matter is what the Hub reads: ``library_name``, ``tags`` and a ``model-index`` whose
``mean_reward`` metric is written ``"X.XX +/- Y.YY"`` (the form the Hub's RL leaderboard parses).
"""

from __future__ import annotations

from typing import Any

import yaml

#: What a reader must know about an algorithm before trusting its score, by the zoo's algorithm name
#: (``agents.registry``). Printed under the card's title; algorithms without a note get none.
ALGORITHM_NOTES: dict[str, str] = {
    "exploration_bot": (
        "**Note: a teaching baseline, not reinforcement learning.** The exploration bot acts epsilon-greedily on "
        "the average *immediate* reward of each state-action pair (no Bellman update, no discounting), so it "
        "never learns that an action pays off later. It is published as a floor for the real algorithms to beat."
    ),
}


def algorithm_note(algo: str) -> str:
    """The card's note for ``algo`` (see :data:`ALGORITHM_NOTES`), as a Markdown paragraph, or ``""``."""
    note = ALGORITHM_NOTES.get(algo)
    return f"\n{note}\n" if note else ""


def metadata(algo_title: str, env_id: str, algo: str, mean_reward: float, std_reward: float,
             deep: bool = True) -> dict[str, Any]:
    """The card's front matter; ``deep=False`` (a tabular agent) leaves out the ``deep-reinforcement-learning`` tag."""
    kind = ["deep-reinforcement-learning"] if deep else []
    return {
        "library_name": "stable-baselines3",
        "tags": [env_id, "reinforcement-learning", *kind, "stable-baselines3", algo, "agent-zoo"],
        "model-index": [{
            "name": algo_title,
            "results": [{
                "task": {"type": "reinforcement-learning", "name": "reinforcement-learning"},
                "dataset": {"name": env_id, "type": env_id},
                "metrics": [{"type": "mean_reward", "value": f"{mean_reward:.2f} +/- {std_reward:.2f}",
                             "name": "mean_reward", "verified": False}],
            }],
        }],
    }


def exact_note(results: dict[str, Any]) -> str:
    """The exact figures of a tabular agent (``exact_mean_reward`` in ``results.json``), as a sentence."""
    if "exact_mean_reward" not in results:
        return ""
    exact, optimum = results["exact_mean_reward"], results["optimal_mean_reward"]
    ratio = f", {exact / optimum:.1%} of it" if optimum > 0 else ""
    return (f"\nComputed exactly from the env's transition table (`unwrapped.P`), not sampled: the expected return of its "
            f"greedy policy within {results['exact_horizon']} steps is **{exact:.4f}**; the best any policy can do is "
            f"{optimum:.4f}{ratio}.\n")


#: figures the card words itself (:func:`exact_note`); every other family figure goes in :func:`figures_table`
_WORDED = ("exact_mean_reward", "optimal_mean_reward", "exact_horizon")


def figures_table(results: dict[str, Any]) -> str:
    """The family's own figures (the evaluation hook's extra keys: per-agent returns, success rate, ...) as a table."""
    from agents.common.evaluation import extra_figures

    extras = {key: value for key, value in extra_figures(results).items() if key not in _WORDED}
    if not extras:
        return ""
    rows = "\n".join(f"| {key} | {value:.4g} |" if isinstance(value, float) else f"| {key} | {value} |"
                     for key, value in extras.items())
    return f"\n| figure | value |\n|---|---|\n{rows}\n"


def model_card(repo_id: str, algo: str, algo_title: str, env_id: str, results: dict[str, Any],
               hyperparams: dict[str, Any], has_video: bool, trained_with: str | None = None,
               deep: bool = True) -> str:
    """The whole ``README.md``: front matter, what the agent is, its score, how to load it.

    ``deep``: whether the agent is a neural network (the ``deep-reinforcement-learning`` tag); the algorithm
    class says so with its ``deep_learning`` attribute (a Q-table is not deep learning).
    """
    front = yaml.safe_dump(metadata(algo_title, env_id, algo, results["mean_reward"], results["std_reward"], deep),
                           sort_keys=False)
    mode = "deterministic" if results["is_deterministic"] else "stochastic"
    config = yaml.safe_dump(hyperparams, sort_keys=True, default_flow_style=False).strip() or "{}"
    video = "\n![replay](replay.mp4)\n" if has_video else ""
    training = f"\nTrained with {trained_with}.\n" if trained_with else ""
    note = algorithm_note(algo) + exact_note(results) + figures_table(results)
    return f"""---
{front}---

# **{algo_title}** agent playing **{env_id}**

A trained **{algo_title}** agent for **{env_id}**, from the agent zoo (Stable-Baselines3 compatible).
Mean return **{results['mean_reward']:.2f} +/- {results['std_reward']:.2f}** over {results['n_eval_episodes']} \
{mode} episodes, measured when it was published ({results['eval_datetime']}).
{note}{training}{video}
## Usage

Run it (the zoo downloads it once, then works offline from the Hugging Face cache):

```bash
zoo enjoy --repo-id {repo_id}
zoo pull --repo-id {repo_id} -f logs/      # into a run folder, to continue training
```

In Python, as an ordinary Stable-Baselines3 model (loaded without unpickling anything):

```python
from hub import load_from_hub

model = load_from_hub("{repo_id}")
```

## Files

- `{algo}-{env_id.replace('/', '-')}.zip`: the Stable-Baselines3 checkpoint
- `config.yml`, `env_kwargs.yml`: the hyperparameters and environment arguments it was trained with
- `vec_normalize.pkl` / `vec_normalize.json` (when it normalises observations): the statistics, in SB3's
  pickled form and in the zoo's readable form
- `results.json`: the evaluation above

## Hyperparameters

```yaml
{config}
```
"""
