"""The one error type the command line turns into a one-line message and exit code 2.

Defined in :mod:`agents.errors` (the bottom layer); this name is kept for code that imports it from here.
"""

from agents.errors import ZooError

__all__ = ["ZooError"]
