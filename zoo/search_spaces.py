"""The hyperparameter search spaces of ``zoo tune``, one function per algorithm, all in this file.

Each function takes an Optuna trial and returns config values in the format of ``configs/ALGO.yml`` (the
RL Baselines3 Zoo's): they replace the config entry's values for that trial (``--hyperparams`` style), and
the best trial's values are written back as a config entry ``zoo train --conf-file`` takes. Network sizes
therefore come as the string form of ``policy_kwargs``. Ranges follow common practice for small control
tasks (the RL Baselines3 Zoo's spaces were read for orientation); widen them here, in one place.
An algorithm without a function here cannot be tuned (``zoo tune`` says which can).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Trial = Any  # optuna.Trial (not imported here: zoo --help stays instant)

_NETS = {"tiny": "[64]", "small": "[64, 64]", "medium": "[256, 256]"}
_ACTIVATIONS = {"tanh": "nn.Tanh", "relu": "nn.ReLU"}


def _policy_kwargs(trial: Trial, extra: str = "") -> str:
    net = _NETS[trial.suggest_categorical("net_arch", list(_NETS))]
    activation = _ACTIVATIONS[trial.suggest_categorical("activation_fn", list(_ACTIVATIONS))]
    return f"dict(net_arch={net}, activation_fn={activation}{extra})"


def ppo(trial: Trial) -> dict[str, Any]:
    n_steps = trial.suggest_categorical("n_steps", [16, 32, 64, 128, 256, 512, 1024])
    return {
        "n_steps": n_steps,
        "batch_size": trial.suggest_categorical("batch_size", [32, 64, 128, 256]),
        "n_epochs": trial.suggest_categorical("n_epochs", [1, 5, 10, 20]),
        "gamma": trial.suggest_categorical("gamma", [0.9, 0.95, 0.98, 0.99, 0.995, 0.999]),
        "gae_lambda": trial.suggest_categorical("gae_lambda", [0.8, 0.9, 0.95, 0.98, 1.0]),
        "learning_rate": trial.suggest_float("learning_rate", 1e-5, 3e-3, log=True),
        "ent_coef": trial.suggest_float("ent_coef", 1e-8, 0.1, log=True),
        "clip_range": trial.suggest_categorical("clip_range", [0.1, 0.2, 0.3, 0.4]),
        "max_grad_norm": trial.suggest_categorical("max_grad_norm", [0.3, 0.5, 1.0, 5.0]),
        "policy_kwargs": _policy_kwargs(trial),
    }


def a2c(trial: Trial) -> dict[str, Any]:
    return {
        "n_steps": trial.suggest_categorical("n_steps", [5, 8, 16, 32, 64]),
        "gamma": trial.suggest_categorical("gamma", [0.9, 0.95, 0.98, 0.99, 0.995, 0.999]),
        "gae_lambda": trial.suggest_categorical("gae_lambda", [0.8, 0.9, 0.95, 1.0]),
        "learning_rate": trial.suggest_float("learning_rate", 1e-5, 3e-3, log=True),
        "ent_coef": trial.suggest_float("ent_coef", 1e-8, 0.1, log=True),
        "vf_coef": trial.suggest_float("vf_coef", 0.1, 1.0),
        "max_grad_norm": trial.suggest_categorical("max_grad_norm", [0.3, 0.5, 1.0, 5.0]),
        "policy_kwargs": _policy_kwargs(trial),
    }


def dqn(trial: Trial) -> dict[str, Any]:
    return {
        "learning_rate": trial.suggest_float("learning_rate", 1e-5, 1e-2, log=True),
        "batch_size": trial.suggest_categorical("batch_size", [32, 64, 128, 256]),
        "buffer_size": trial.suggest_categorical("buffer_size", [10_000, 50_000, 100_000]),
        "gamma": trial.suggest_categorical("gamma", [0.9, 0.95, 0.98, 0.99, 0.995]),
        "exploration_fraction": trial.suggest_float("exploration_fraction", 0.05, 0.5),
        "exploration_final_eps": trial.suggest_float("exploration_final_eps", 0.0, 0.2),
        "target_update_interval": trial.suggest_categorical("target_update_interval", [1, 100, 1000, 5000]),
        "learning_starts": trial.suggest_categorical("learning_starts", [0, 1000, 5000]),
        "train_freq": trial.suggest_categorical("train_freq", [1, 4, 8, 16]),
        "policy_kwargs": f"dict(net_arch={_NETS[trial.suggest_categorical('net_arch', list(_NETS))]})",
    }


def sac(trial: Trial) -> dict[str, Any]:
    return {
        "learning_rate": trial.suggest_float("learning_rate", 1e-5, 3e-3, log=True),
        "batch_size": trial.suggest_categorical("batch_size", [64, 128, 256, 512]),
        "gamma": trial.suggest_categorical("gamma", [0.9, 0.95, 0.98, 0.99, 0.995]),
        "tau": trial.suggest_categorical("tau", [0.005, 0.01, 0.02, 0.05]),
        "learning_starts": trial.suggest_categorical("learning_starts", [100, 1000, 10_000]),
        "train_freq": trial.suggest_categorical("train_freq", [1, 4, 8, 32]),
        "policy_kwargs": f"dict(net_arch={_NETS[trial.suggest_categorical('net_arch', list(_NETS))]})",
    }


def td3(trial: Trial) -> dict[str, Any]:
    return {
        "learning_rate": trial.suggest_float("learning_rate", 1e-5, 3e-3, log=True),
        "batch_size": trial.suggest_categorical("batch_size", [64, 128, 256, 512]),
        "gamma": trial.suggest_categorical("gamma", [0.9, 0.95, 0.98, 0.99, 0.995]),
        "tau": trial.suggest_categorical("tau", [0.005, 0.01, 0.02]),
        "noise_type": "normal",
        "noise_std": trial.suggest_float("noise_std", 0.05, 0.5),
        "policy_kwargs": f"dict(net_arch={_NETS[trial.suggest_categorical('net_arch', list(_NETS))]})",
    }


def reinforce(trial: Trial) -> dict[str, Any]:
    return {
        "learning_rate": trial.suggest_float("learning_rate", 1e-4, 3e-2, log=True),
        "gamma": trial.suggest_categorical("gamma", [0.95, 0.98, 0.99, 0.995, 1.0]),
        "baseline": trial.suggest_categorical("baseline", [False, True]),
        "ent_coef": trial.suggest_float("ent_coef", 1e-8, 0.05, log=True),
    }


def tabular(trial: Trial) -> dict[str, Any]:
    """Q-learning, SARSA, Expected SARSA, Dyna-Q: step size, discount and the exploration schedule."""
    return {
        "alpha": trial.suggest_float("alpha", 0.01, 1.0, log=True),
        "gamma": trial.suggest_categorical("gamma", [0.9, 0.95, 0.99, 1.0]),
        "epsilon": trial.suggest_float("epsilon", 0.05, 1.0),
        "epsilon_final": trial.suggest_float("epsilon_final", 0.0, 0.2),
        "epsilon_decay_length": trial.suggest_float("epsilon_decay_length", 0.1, 1.0),
    }


#: algorithm -> its search space
SEARCH_SPACES: dict[str, Callable[[Trial], dict[str, Any]]] = {
    "ppo": ppo,
    "ppo_mask": ppo,
    "a2c": a2c,
    "dqn": dqn,
    "qrdqn": dqn,
    "sac": sac,
    "tqc": sac,
    "td3": td3,
    "ddpg": td3,
    "reinforce": reinforce,
    "qlearning": tabular,
    "sarsa": tabular,
    "expected_sarsa": tabular,
    "dynaq": tabular,
}
