"""The one error type the command line turns into a one-line message and exit code 2."""


class ZooError(Exception):
    """A problem the user can fix; its message says what to fix, in one line."""
