"""Errors the command line reports as one clear line instead of a traceback."""


class UserError(Exception):
    """Bad arguments or bad input data; the message names the problem (and the file)."""
