"""One module per instructor ``dlnp`` subcommand; each defines ``register(subparsers)``.

The student's subcommands (``check``, ``capstone``) live in ``dlnp/commands/`` and ship
in the release; these stay in the kit.
"""
