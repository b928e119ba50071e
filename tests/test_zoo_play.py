"""``zoo play`` driven with scripted input, and ``zoo enjoy`` of a planner (MCTS) that needs no training."""

from __future__ import annotations

import io
import sys

import pytest

pytest.importorskip("numba")
pytest.importorskip("pettingzoo.classic")

from zoo.cli import main  # noqa: E402
from zoo.play import draw_board, make_game  # noqa: E402


def test_zoo_play_tictactoe_with_scripted_moves(monkeypatch, capsys, tmp_path):
    # every cell in turn: those the agent took are refused, so the game goes on to its end
    monkeypatch.setattr(sys, "stdin", io.StringIO("x\n9\n" + "".join(f"{cell}\n" for cell in range(9))))
    assert main(["play", "--algo", "mcts", "--env", "tictactoe_v3", "-f", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "illegal move 'x'; legal moves: 0 1 2 3 4 5 6 7 8" in out
    assert "illegal move '9'" in out
    assert "the agent plays" in out
    assert any(result in out for result in ("You win!", "A draw.", "The agent wins."))
    assert "You win!" not in out  # these moves cannot beat a 1000-simulation search


def test_zoo_play_connect_four_agent_first_and_interrupt(monkeypatch, capsys, tmp_path):
    class Interrupted(io.StringIO):
        def readline(self, *args):
            raise KeyboardInterrupt

    monkeypatch.setattr(sys, "stdin", Interrupted())
    assert main(["play", "--algo", "mcts", "--env", "connect_four_v3", "--second", "-f", str(tmp_path)]) == 130
    captured = capsys.readouterr()
    assert "the agent plays" in captured.out and " 0 1 2 3 4 5 6" in captured.out
    assert captured.err.strip() == "zoo: interrupted"


def test_zoo_play_bad_env_and_ended_input(monkeypatch, capsys, tmp_path):
    assert main(["play", "--algo", "mcts", "--env", "chess_v9"]) == 2
    assert "zoo play plays PettingZoo classic games" in capsys.readouterr().err
    monkeypatch.setattr(sys, "stdin", io.StringIO("4\n"))
    assert main(["play", "--algo", "mcts", "--env", "tictactoe_v3", "-f", str(tmp_path)]) == 1
    assert "input ended" in capsys.readouterr().err


def test_board_drawing():
    env = make_game("connect_four_v3")
    env.reset()
    env.step(3)
    obs, *_ = env.last()
    text = draw_board(obs).splitlines()
    assert text[-1] == " 0 1 2 3 4 5 6" and text[-2] == " . . . O . . ."  # drawn for the player to move


def test_zoo_enjoy_prints_wins_draws_losses_and_mean_std(capsys, tmp_path):
    assert main(["enjoy", "--algo", "mcts", "--env", "tictactoe_v3", "--n-episodes", "2", "-f", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "vs_random: wins" in out and "self_play: first_player_wins" in out and "simulations_per_second" in out
    assert main(["enjoy", "--algo", "mcts", "--env", "FrozenLake-v1", "-n", "30", "--no-render",
                 "-f", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "mean return" in out and "+/-" in out


def test_mcts_config_entries_are_valid():
    from zoo.config import config_path, configured_envs, load_hyperparams

    envs = configured_envs(config_path("mcts"))
    assert {"tictactoe_v3", "connect_four_v3", "FrozenLake-v1", "Taxi-v4", "CartPole-v1"} <= set(envs)
    for env_id in envs:
        hyperparams = load_hyperparams("mcts", env_id)
        assert hyperparams.n_timesteps == 0 and hyperparams.algo_kwargs["n_simulations"] >= 100
