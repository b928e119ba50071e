"""A3C: asynchronous advantage actor-critic on worker processes (see :mod:`agents.a3c.a3c`)."""

from agents.a3c.a3c import A3C, A3CWorkerError, SpecEnvFactory

__all__ = ["A3C", "A3CWorkerError", "SpecEnvFactory"]
