"""Resume really resumes: two legs (interrupted, then resumed) end where one leg ends."""

import signal

import pytest
from stable_baselines3.common.callbacks import BaseCallback

import zoo.train as train_module
from zoo import runs
from zoo.train import TrainingInterrupted, TrainOptions, resume, train


class InterruptAt(BaseCallback):
    """Ctrl-C (a real SIGINT to this process) once the step counter reaches ``steps``."""

    def __init__(self, steps: int):
        super().__init__()
        self.steps = steps
        self.sent = False

    def _on_step(self) -> bool:
        if self.num_timesteps >= self.steps and not self.sent:
            self.sent = True
            signal.raise_signal(signal.SIGINT)
        return True


def final_state(model):
    state = {
        "num_timesteps": model.num_timesteps,
        "progress_remaining": model._current_progress_remaining,
        "learning_rate": model.policy.optimizer.param_groups[0]["lr"],
    }
    if hasattr(model, "exploration_rate"):
        state["exploration_rate"] = model.exploration_rate
    return state


DQN_ROLLOUTS_OF_100 = {"learning_starts": 100, "buffer_size": 5000, "train_freq": 100, "gradient_steps": 10,
                       "learning_rate": "lin_0.002", "exploration_fraction": 0.9}


@pytest.mark.parametrize("algo,total,stop,stopped_at,overrides", [
    ("ppo", 2048, 1024, 1024, {"learning_rate": "lin_0.001", "n_epochs": 2}),  # rollouts of 8 envs x 32 steps
    ("dqn", 2000, 1000, 1000, DQN_ROLLOUTS_OF_100),
    # Ctrl-C inside a rollout: the run finishes the rollout (and trains on it), then saves and stops
    ("dqn", 2000, 1030, 1100, DQN_ROLLOUTS_OF_100),
])
def test_two_legs_end_like_one(tmp_path, monkeypatch, algo, total, stop, stopped_at, overrides):
    def options(folder):
        return TrainOptions(algo=algo, env_id="CartPole-v1", log_folder=str(folder), n_timesteps=total, seed=1,
                            eval_freq=-1, save_freq=-1, eval_episodes=1, hyperparams=dict(overrides), verbose=0)

    one_leg = train(options(tmp_path / "one")).model

    make_callbacks = train_module.make_callbacks
    monkeypatch.setattr(train_module, "make_callbacks",
                        lambda *args: [*make_callbacks(*args), InterruptAt(stop)])
    with pytest.raises(TrainingInterrupted) as stopped:
        train(options(tmp_path / "two"))
    monkeypatch.setattr(train_module, "make_callbacks", make_callbacks)
    run = stopped.value.run_folder
    assert stopped.value.steps == stopped_at and list(runs.checkpoints(run)) == [stopped_at]
    if algo == "dqn":
        assert runs.checkpoint_files(run, stopped_at)["replay_buffer"].is_file()

    resumed = resume(run, verbose=0).model
    assert final_state(resumed) == pytest.approx(final_state(one_leg))
    assert resumed.num_timesteps == total
    if algo == "dqn":  # the replay buffer came back: it holds every step of both legs
        assert resumed.replay_buffer.size() == total


def test_resume_refuses_a_finished_run(tmp_path):
    from zoo.errors import ZooError

    result = train(TrainOptions(algo="ppo", env_id="CartPole-v1", log_folder=str(tmp_path), n_timesteps=512, seed=0,
                                eval_freq=-1, verbose=0))
    with pytest.raises(ZooError, match="already reached its 512 steps"):
        resume(result.run_folder)
    extended = resume(result.run_folder, n_timesteps=1024, verbose=0)  # a new total trains it further
    assert extended.model.num_timesteps == 1024
    assert "n_timesteps: 1024" in (result.run_folder / "config.yml").read_text()
    with pytest.raises(ZooError, match="run folder not found"):
        resume(tmp_path / "nope")
