"""The one error type the command line turns into a one-line message and a non-zero exit."""


class SandboxError(Exception):
    """A problem with the user's input, said in one line: what is wrong and how to fix it."""

    exit_code = 2
    # Warnings to show before the error line (e.g. the CLI's null-value warning for the config
    # that then failed); empty for most errors.
    notes: tuple[str, ...] = ()
