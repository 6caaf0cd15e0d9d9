"""The one error type the command line turns into a one-line message and a non-zero exit."""


class SandboxError(Exception):
    """A problem with the user's input, said in one line: what is wrong and how to fix it."""

    exit_code = 2
    # Warnings to show before the error line (e.g. the CLI's null-value warning for the config
    # that then failed); empty for most errors.
    notes: tuple[str, ...] = ()


def reason(error: OSError) -> str:
    """Why a file could not be read or written, in the system's words ("File name too long")."""
    return error.strerror or error.__class__.__name__


def not_utf8(error: UnicodeDecodeError) -> str:
    """Why a file is not text, and the fix: every file the tools read is UTF-8 (as pulumi's are)."""
    return f"is not UTF-8 text (byte {error.start}: {error.reason}); save it as UTF-8"
