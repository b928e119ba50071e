"""The one error type the command line turns into a one-line message and exit code 2.

It lives in the bottom layer (``agents``) so that the algorithms, the Hub layer and the application all
raise the same class; ``zoo.errors.ZooError`` is this class under its old name.
"""


class ZooError(Exception):
    """A problem the user can fix; its message says what to fix, in one line."""


class UnsafeCheckpointError(ZooError):
    """A downloaded file holds something that would run code or exhaust memory if it were loaded; it was refused."""
