"""The one error type the command line turns into a one-line message and a non-zero exit."""


class SandboxError(Exception):
    """A problem with the user's input, said in one line: what is wrong and how to fix it."""

    exit_code = 2
