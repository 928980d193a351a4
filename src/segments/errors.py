"""Errors shared by the tooling."""


class CommandError(Exception):
    """An error the user can act on: the CLI prints it as one clear line and exits with 2."""
