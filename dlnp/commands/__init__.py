"""One module per ``dlnp`` subcommand; each defines ``register(subparsers)``."""
