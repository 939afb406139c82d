"""One module per ``testbed`` subcommand: ``HELP``, ``add_arguments(parser)``, ``run(args)``."""
