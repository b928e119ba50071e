"""Everything downloaded stays untrusted: crafted repositories served by the project's Hub server are refused
in one line (exit 2) and their payloads never run; sizes are bounded; Dict-observation and legacy agents load.

Each payload, where it could run code, would create a marker file: the tests assert on the file, not only on
the message.
"""

from __future__ import annotations

import json
import sys
import zipfile
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import yaml
from gymnasium import spaces
from huggingface_hub import HfApi
from stable_baselines3 import DQN, PPO, SAC, TD3, HerReplayBuffer

from agents.common.untrusted import allowed_table, resolve_untrusted, set_max_entries
from agents.errors import UnsafeCheckpointError, ZooError
from hub.loading import check_downloaded_config, load_agent, load_folder
from zoo.publish import push_to_hub
from hub.safe_load import load_sb3_zip, same_space_but_legacy_bounds
from zoo.cli import main

REPO = "evil-org/ppo-CartPole-v1"
BASE_CONFIG = {"policy": "MlpPolicy", "n_timesteps": 1000, "n_steps": 32, "batch_size": 32,
               "policy_kwargs": "dict(net_arch=[8])"}


def _tiny_ppo() -> PPO:
    return PPO("MlpPolicy", gym.make("CartPole-v1"), n_steps=32, batch_size=32, seed=0, device="cpu",
               policy_kwargs={"net_arch": [8]})


@pytest.fixture
def served_agent(hub_server):
    """A good agent on the Hub server; tests overwrite one of its files with a crafted one."""
    push_to_hub(_tiny_ppo(), REPO, env_id="CartPole-v1", hyperparams=BASE_CONFIG, n_eval_episodes=1, video=False)
    api = HfApi(endpoint=hub_server.url)

    def replace(path_in_repo: str, content: bytes | str) -> None:
        data = content.encode() if isinstance(content, str) else content
        api.upload_file(path_or_fileobj=data, path_in_repo=path_in_repo, repo_id=REPO)

    return replace


def _one_line_refusal(capsys, argv: list[str], *words: str) -> str:
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    line = err.splitlines()[-1]  # the client may draw a download progress bar above it
    assert "Traceback" not in err and line.startswith(f"zoo {argv[0]}: error: "), err
    assert all(word in line for word in words), line
    return line


def _config_with(**extra) -> str:
    return yaml.safe_dump({**BASE_CONFIG, **extra})


# ------------------------------------------------------------------------------------ 1. names in configs


def _chains(marker: Path) -> list[dict]:
    touch = f"touch {marker}"
    return [
        # the chain of the issue: an allowed-looking prefix whose function resolves further names unchecked
        {"env_wrapper": [{"zoo.envs.factory.apply_wrappers": {
            "wrappers": [["typing.cast", {"val": touch}], ["os.system", {}]]}}]},
        {"env_wrapper": [{"typing.cast": {"typ": "x", "val": touch}}]},
        {"env_wrapper": [{"os.system": {"command": touch}}]},
        {"env_wrapper": ["zoo.envs.wrappers.ObserveTime.__init__.__globals__"]},
        {"env_wrapper": [{"gymnasium.wrappers.TransformObservation": {"func": "os.system"}}]},
        {"env_wrapper": ["zoo.envs.factory.create_env"]},
        {"env_wrapper": ["gymnasium.wrappers.RecordVideo"]},  # a real wrapper, but it writes files
        {"vec_env_wrapper": [{"os.system": {"command": touch}}]},
        {"callback": [{"os.system": {"command": touch}}]},
        {"replay_buffer_class": "os.system"},
        {"policy": "os.system"},
        {"policy_kwargs": f"dict(activation_fn=os.system, net_arch=[8])"},
        {"policy_kwargs": {"features_extractor_class": "os.system", "net_arch": [8]}},
        {"replay_buffer_kwargs": "dict(handle=__import__('os').system('" + touch + "'))"},
    ]


@pytest.mark.parametrize("index", range(14))
def test_crafted_config_names_are_refused_and_never_run(served_agent, tmp_path, capsys, index):
    marker = tmp_path / "PWNED"
    served_agent("config.yml", _config_with(**_chains(marker)[index]))
    _one_line_refusal(capsys, ["enjoy", "--repo-id", REPO, "-n", "5", "--no-render"], "config.yml")
    assert not marker.exists(), "the payload ran"
    _one_line_refusal(capsys, ["pull", "--repo-id", REPO, "-f", str(tmp_path / "logs")], "config.yml")
    assert not marker.exists(), "the payload ran"


def test_a_downloaded_env_id_cannot_make_gymnasium_import_a_module(served_agent, capsys):
    served_agent("results.json", json.dumps({"algo": "ppo", "env_id": "os:system", "mean_reward": 1.0}))
    served_agent("args.yml", yaml.safe_dump({"algo": "ppo", "env": "os:system"}))
    _one_line_refusal(capsys, ["enjoy", "--repo-id", REPO, "-n", "5", "--no-render"], "not a plain gymnasium id")


def test_a_pulled_config_cannot_import_a_module(served_agent, tmp_path, capsys):
    """``replay_buffer_class: this.s`` used to import ``this`` (it prints its text) on pull and resume."""
    served_agent("config.yml", _config_with(replay_buffer_class="this.s"))
    sys.modules.pop("this", None)
    _one_line_refusal(capsys, ["pull", "--repo-id", REPO, "-f", str(tmp_path / "logs")], "replay_buffer_class", "this.s")
    assert "this" not in sys.modules


def test_a_pulled_run_folder_stays_a_download(served_agent, tmp_path, capsys):
    """A pulled folder (it has hub.yml) whose config names something outside the allow-lists is refused by
    ``zoo enjoy --folder`` and ``zoo train --resume`` too; a user's own run folder keeps its freedom."""
    assert main(["pull", "--repo-id", REPO, "-f", str(tmp_path / "logs")]) == 0
    folder = tmp_path / "logs" / "ppo" / "CartPole-v1_1"
    config = yaml.safe_load((folder / "config.yml").read_text())
    config["env_wrapper"] = [{"typing.cast": {"typ": "x", "val": 1}}]
    (folder / "config.yml").write_text(yaml.safe_dump(config))
    _one_line_refusal(capsys, ["enjoy", "--folder", str(folder), "-n", "5", "--no-render"], "env_wrapper", "typing.cast")
    config["n_timesteps"] = 2000
    _one_line_refusal(capsys, ["train", "--resume", str(folder), "-q"], "env_wrapper", "typing.cast")
    (folder / "hub.yml").unlink()  # now it is the user's own folder: the name is imported as written
    capsys.readouterr()
    assert main(["enjoy", "--folder", str(folder), "-n", "5", "--no-render"]) != 0  # typing.cast is no wrapper
    assert "allow-list" not in capsys.readouterr().err


def test_allowed_wrappers_and_names_still_load(served_agent):
    served_agent("config.yml", _config_with(
        env_wrapper=[{"gymnasium.wrappers.TimeLimit": {"max_episode_steps": 50}}, "gymnasium.wrappers.ClipReward"],
        callback=["rl_zoo3.callbacks.ParallelTrainCallback"],
        policy_kwargs="dict(net_arch=[8], activation_fn=nn.Tanh)"))
    agent = load_agent(REPO, device="cpu")
    assert agent.hyperparams["env_wrapper"][0] == {"gymnasium.wrappers.TimeLimit": {"max_episode_steps": 50}}
    assert "callback" not in agent.hyperparams and any("callbacks" in note for note in agent.notes)


def test_the_allow_lists_hold_classes_of_the_right_kind():
    from stable_baselines3.common.buffers import ReplayBuffer
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.vec_env import VecEnvWrapper

    for key, base in [("env_wrapper", gym.Wrapper), ("vec_env_wrapper", VecEnvWrapper),
                      ("callback", BaseCallback), ("replay_buffer_class", ReplayBuffer)]:
        assert allowed_table(key) and all(issubclass(cls, base) for cls in allowed_table(key).values())
    assert resolve_untrusted("zoo.envs.wrappers.ObserveTime", "env_wrapper", "x").__name__ == "ObserveTime"
    assert resolve_untrusted("stable_baselines3.common.buffers.DictReplayBuffer", "replay_buffer_class", "x")
    with pytest.raises(UnsafeCheckpointError, match="allow-list"):
        resolve_untrusted("gymnasium.wrappers.RecordVideo", "env_wrapper", "x")


# ------------------------------------------------------------------------------------ 3. claimed sizes


def _qlearning_zip(tmp_path: Path) -> Path:
    from agents import QLearning

    model = QLearning("TabularPolicy", gym.make("FrozenLake-v1"), seed=0)
    path = tmp_path / "qlearning-FrozenLake-v1.zip"
    model.save(path)
    return path


def _rewrite_data(path: Path, change) -> None:
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    data = json.loads(members["data"])
    change(data)
    members["data"] = json.dumps(data).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)


def test_a_huge_tabular_space_is_refused_before_allocating(tmp_path):
    from agents import QLearning

    path = _qlearning_zip(tmp_path)
    _rewrite_data(path, lambda data: data["observation_space"].update(n=10**12))
    with pytest.raises(UnsafeCheckpointError) as caught:
        load_sb3_zip(path, QLearning, device="cpu")
    message = str(caught.value)
    assert "\n" not in message and "Discrete(1000000000000)" in message and "--max-entries" in message


def test_the_table_size_is_bounded_even_when_each_part_is_small(tmp_path):
    """Blackjack-like Tuple of Discrete parts: each within the limit, the table (their product) far beyond."""
    from agents import QLearning

    path = _qlearning_zip(tmp_path)

    def tuple_space(data):
        data["observation_space"] = {":type:": "<class 'gymnasium.spaces.tuple.Tuple'>",
                                     "spaces": "(Discrete(100000), Discrete(100000), Discrete(100000))"}
    _rewrite_data(path, tuple_space)
    with pytest.raises(UnsafeCheckpointError, match="TabularPolicy table"):
        load_sb3_zip(path, QLearning, device="cpu")


@pytest.mark.parametrize("space", [
    {":type:": "<class 'gymnasium.spaces.box.Box'>", "_shape": [100000, 100000], "dtype": "float32",
     "low": "-inf", "high": "inf", "low_repr": "-inf", "high_repr": "inf"},
    {":type:": "<class 'gymnasium.spaces.multi_discrete.MultiDiscrete'>", "_shape": [2], "dtype": "int64",
     "nvec": "[10000000000 2]"},
    {":type:": "<class 'gymnasium.spaces.dict.Dict'>", "spaces": "{'a': Box(-inf, inf, (50000, 50000), float32)}"},
    {":type:": "<class 'gymnasium.spaces.multi_binary.MultiBinary'>", "_shape": [1000000000], "n": 1000000000},
])
def test_huge_claimed_spaces_are_refused(tmp_path, space):
    model = _tiny_ppo()
    path = tmp_path / "ppo.zip"
    model.save(path)
    _rewrite_data(path, lambda data: data.update(observation_space=space))
    with pytest.raises(UnsafeCheckpointError, match="entries, above the limit"):
        load_sb3_zip(path, PPO, device="cpu")


def test_max_entries_sets_the_bound(tmp_path, served_agent, capsys):
    from agents import QLearning

    path = _qlearning_zip(tmp_path)
    try:
        set_max_entries(10)  # FrozenLake's 16 x 4 table is over 10
        with pytest.raises(UnsafeCheckpointError, match="limit of 10"):
            load_sb3_zip(path, QLearning, device="cpu")
    finally:
        set_max_entries(None)
    assert load_sb3_zip(path, QLearning, device="cpu").policy.n_states == 16
    _one_line_refusal(capsys, ["enjoy", "--repo-id", REPO, "-n", "5", "--no-render", "--max-entries", "2"],
                      "above the limit of 2")
    assert main(["enjoy", "--repo-id", REPO, "-n", "5", "--no-render", "--max-entries", "100000"]) == 0


def test_a_served_huge_checkpoint_is_one_line(served_agent, tmp_path, capsys):
    model = _tiny_ppo()
    path = tmp_path / "ppo-CartPole-v1.zip"
    model.save(path)
    _rewrite_data(path, lambda data: data["observation_space"].update(_shape=[10**7, 10**7]))
    served_agent("ppo-CartPole-v1.zip", path.read_bytes())
    _one_line_refusal(capsys, ["enjoy", "--repo-id", REPO, "-n", "5", "--no-render"], "above the limit")


# ------------------------------------------------------------------------------------ 4. Dict observations


class GoalEnv(gym.Env):
    """A tiny goal-conditioned env with Box parts (the HER convention)."""

    def __init__(self) -> None:
        self.observation_space = spaces.Dict({
            "observation": spaces.Box(-5.0, 5.0, (3,), np.float32),
            "achieved_goal": spaces.Box(-5.0, 5.0, (2,), np.float32),
            "desired_goal": spaces.Box(-5.0, 5.0, (2,), np.float32),
        })
        self.action_space = spaces.Box(-1.0, 1.0, (2,), np.float32)
        self.position = np.zeros(2, np.float32)
        self.goal = np.ones(2, np.float32)
        self.steps = 0

    def _obs(self):
        return {"observation": np.r_[self.position, self.steps / 10].astype(np.float32),
                "achieved_goal": self.position.copy(), "desired_goal": self.goal.copy()}

    def compute_reward(self, achieved_goal, desired_goal, info):
        return -(np.linalg.norm(achieved_goal - desired_goal, axis=-1) > 0.5).astype(np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.position = self.np_random.uniform(-1, 1, 2).astype(np.float32)
        self.steps = 0
        return self._obs(), {}

    def step(self, action):
        self.position = np.clip(self.position + 0.2 * np.asarray(action, np.float32), -5, 5)
        self.steps += 1
        reward = float(self.compute_reward(self.position, self.goal, {}))
        return self._obs(), reward, reward == 0.0, self.steps >= 10, {"is_success": reward == 0.0}


def _same_actions(a, b, env: gym.Env, n: int = 20) -> None:
    obs, _ = env.reset(seed=1)
    for _ in range(n):
        action_a, _ = a.predict(obs, deterministic=True)
        action_b, _ = b.predict(obs, deterministic=True)
        np.testing.assert_array_equal(action_a, action_b)
        obs, _, terminated, truncated, _ = env.step(action_a)
        if terminated or truncated:
            obs, _ = env.reset()


def test_a_her_trained_dict_agent_loads_pickle_free_and_acts_like_sb3s_load(tmp_path):
    model = SAC("MultiInputPolicy", GoalEnv(), replay_buffer_class=HerReplayBuffer, learning_starts=20,
                buffer_size=500, seed=0, device="cpu", policy_kwargs={"net_arch": [16]},
                replay_buffer_kwargs={"goal_selection_strategy": "future", "n_sampled_goal": 2})
    model.learn(60)
    path = tmp_path / "sac.zip"
    model.save(path)
    ours = load_sb3_zip(path, SAC, device="cpu")
    assert ours.observation_space == model.observation_space
    _same_actions(ours, SAC.load(path, env=GoalEnv(), device="cpu"), GoalEnv())  # SB3 needs the env for HER


def test_a_dict_dqn_over_multibinary_parts_loads(tmp_path):
    from stable_baselines3.common.envs import BitFlippingEnv

    env = BitFlippingEnv(n_bits=4, max_steps=4)
    model = DQN("MultiInputPolicy", env, learning_starts=10, buffer_size=200, seed=0, device="cpu",
                policy_kwargs={"net_arch": [16]})
    model.learn(30)
    path = tmp_path / "dqn.zip"
    model.save(path)
    ours = load_sb3_zip(path, DQN, device="cpu")
    assert ours.observation_space == env.observation_space
    _same_actions(ours, DQN.load(path, device="cpu"), BitFlippingEnv(n_bits=4, max_steps=4))


def test_vec_normalize_over_a_dict_reads_pickle_free(tmp_path):
    from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

    from hub.normalization import from_json, read_vec_normalize_pkl, to_json

    venv = VecNormalize(DummyVecEnv([GoalEnv]), norm_obs_keys=["observation", "desired_goal"])
    venv.reset()
    for _ in range(30):
        venv.step(np.random.default_rng(0).uniform(-1, 1, (1, 2)))
    venv.save(tmp_path / "vec_normalize.pkl")
    stats = read_vec_normalize_pkl((tmp_path / "vec_normalize.pkl").read_bytes())
    assert set(stats.obs_rms) == {"observation", "desired_goal"}
    again = from_json(to_json(stats))
    raw = {key: np.ones((1,) + space.shape, np.float32) for key, space in GoalEnv().observation_space.items()}
    ours = again.wrap(DummyVecEnv([GoalEnv]))
    theirs = VecNormalize.load(tmp_path / "vec_normalize.pkl", DummyVecEnv([GoalEnv]))
    for key in raw:
        np.testing.assert_allclose(ours.normalize_obs(raw)[key], theirs.normalize_obs(raw)[key])


def test_her_configs_of_old_sb3_are_read_with_a_note():
    raw = {"policy": "MultiInputPolicy", "n_timesteps": 1000, "replay_buffer_class": "HerReplayBuffer",
           "replay_buffer_kwargs": "dict(online_sampling=True, goal_selection_strategy='future', n_sampled_goal=4, "
                                   "max_episode_length=100)"}
    config, notes = check_downloaded_config(raw, SAC, "sb3/her/config.yml")
    assert config["replay_buffer_kwargs"] == {"goal_selection_strategy": "future", "n_sampled_goal": 4}
    assert any("online_sampling" in note and "max_episode_length" in note for note in notes)


# ------------------------------------------------------------------------------------ 5. legacy spaces


@pytest.mark.parametrize("name", ["ppo-CartPole-v1", "dqn-CartPole-v1", "qrdqn-CartPole-v1", "ars-CartPole-v1"])
def test_legacy_float32_max_bounds_are_the_envs_infinities(name):
    from conftest import FIXTURES_AGENTS

    from hub.safe_load import adopt_env_spaces

    agent = load_folder(FIXTURES_AGENTS / "sb3" / name, device="cpu")
    env = gym.make("CartPole-v1")
    assert agent.model.observation_space != env.observation_space  # old gym: +-3.4e38
    assert same_space_but_legacy_bounds(agent.model.observation_space, env.observation_space)
    adopt_env_spaces(agent.model, env.observation_space, env.action_space)
    assert agent.model.observation_space == env.observation_space
    other = spaces.Box(-np.inf, np.inf, (4,), np.float32)
    assert not same_space_but_legacy_bounds(agent.model.observation_space, other)  # real bounds still differ


@pytest.mark.parametrize("name", ["ppo-CartPole-v1", "dqn-CartPole-v1"])
def test_a_pulled_legacy_cartpole_agent_resumes_and_trains_on(hub_agents_server, tmp_path, name):
    from zoo.pull import pull

    folder = pull(f"sb3/{name}", tmp_path / "logs", endpoint=hub_agents_server.url, device="cpu")
    algo = PPO if name.startswith("ppo") else DQN
    steps = algo.load(folder / "CartPole-v1.zip", device="cpu").num_timesteps
    assert main(["train", "--resume", str(folder), "-n", str(steps + 300), "-q", "--eval-episodes", "1"]) == 0
    assert algo.load(folder / "CartPole-v1.zip", device="cpu").num_timesteps >= steps + 300


# ------------------------------------------------------------------------------------ 6. action noise


def test_td3_action_noise_is_restored_from_the_config(hub_server):
    from stable_baselines3.common.noise import NormalActionNoise

    model = TD3("MlpPolicy", gym.make("Pendulum-v1"), learning_starts=10, buffer_size=100, seed=0, device="cpu",
                policy_kwargs={"net_arch": [8]})
    hyperparams = {"policy": "MlpPolicy", "n_timesteps": 100, "noise_type": "normal", "noise_std": 0.3,
                   "policy_kwargs": "dict(net_arch=[8])"}
    push_to_hub(model, "zoo-test/td3-Pendulum-v1", env_id="Pendulum-v1", hyperparams=hyperparams, n_eval_episodes=1,
                video=False)
    loaded = load_agent("zoo-test/td3-Pendulum-v1", device="cpu").model
    assert isinstance(loaded.action_noise, NormalActionNoise)
    np.testing.assert_allclose(loaded.action_noise._sigma, [0.3])


def test_a_bad_noise_type_is_one_line():
    with pytest.raises(ZooError, match="noise_type must be one of"):
        check_downloaded_config({"policy": "MlpPolicy", "noise_type": "os.system"}, TD3, "x/config.yml")
