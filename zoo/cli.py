"""``zoo``: the command line, a thin layer over the library.

Each subcommand lives in ``zoo/commands/NAME.py`` with two functions:
``add_arguments(parser)`` (argparse only, no heavy imports at module level) and ``run(args) -> int``.
Only the chosen subcommand's module is imported, so ``zoo --help`` answers at once.
"""

from __future__ import annotations

import argparse
import importlib
import sys

#: subcommand -> (module, one-line help). Add a line here for a new subcommand.
COMMANDS: dict[str, tuple[str, str]] = {
    "train": ("zoo.commands.train", "train an agent with configs/ALGO.yml"),
    "enjoy": ("zoo.commands.enjoy", "run a trained or pretrained agent"),
    "list": ("zoo.commands.list", "algorithms, configured envs and pretrained agents"),
    "hub": ("zoo.commands.hub", "run a Hugging Face Hub-compatible server"),
    "push": ("zoo.commands.push", "evaluate an agent and publish it to a Hub repository"),
    "pull": ("zoo.commands.pull", "download an agent from the Hub into a run folder"),
}
#: subcommands that read downloaded files, and so take ``--max-entries`` (the bound on sizes a download claims)
READS_DOWNLOADS = ("enjoy", "pull", "train", "push")


def _positive_int(text: str) -> int:
    try:
        value = int(float(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def build_parser(argv: list[str]) -> argparse.ArgumentParser:
    """The top-level parser; only the subcommand named in ``argv`` gets its arguments loaded."""
    parser = argparse.ArgumentParser(prog="zoo", description="The agent zoo: train, run and share RL agents.")
    parser.add_argument("--debug", action="store_true", help="show the full traceback on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    chosen = next((a for a in argv if a in COMMANDS), None)
    for name, (module, help_text) in COMMANDS.items():
        sub_parser = sub.add_parser(name, help=help_text, description=help_text)
        if name == chosen:
            importlib.import_module(module).add_arguments(sub_parser)
            if name in READS_DOWNLOADS:
                sub_parser.add_argument(
                    "--max-entries", type=_positive_int, default=None, metavar="N",
                    help="largest size (array elements, table cells) a downloaded agent may claim "
                         "(default: $ZOO_MAX_ENTRIES, else 1e8)")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    command = importlib.import_module(COMMANDS[args.command][0])
    try:
        if getattr(args, "max_entries", None) is not None:
            from agents.common.untrusted import set_max_entries

            set_max_entries(args.max_entries)
        return int(command.run(args) or 0)
    except KeyboardInterrupt:
        print("zoo: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # one clear line for the user's mistakes, a traceback with --debug
        from zoo.errors import ZooError

        if args.debug or not isinstance(error, ZooError):
            raise
        print(f"zoo {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
