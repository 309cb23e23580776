"""Errors shown to the user of the `borne` command without a traceback."""


class CliError(Exception):
    """A user-facing error: printed as one line, exit status 2."""
