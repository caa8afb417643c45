"""CLI sub-commands: each module adds its parsers with ``add_parsers(subparsers)`` and sets
``handler`` (a function taking the parsed args and returning an exit code)."""
