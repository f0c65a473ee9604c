"""User-facing errors: each one is printed as a single line by the CLI and mapped to a 4xx/5xx by the gateway."""


class RareError(Exception):
    """Base of the errors that describe a problem with the user's input, files or configuration."""
