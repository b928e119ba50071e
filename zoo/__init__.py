"""The agent zoo: command line, experiment runner, config loading and the zoo's own environments."""

__version__ = "0.1.0"
