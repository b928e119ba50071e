"""One module per ``zoo`` subcommand: ``add_arguments(parser)`` and ``run(args) -> int``."""
