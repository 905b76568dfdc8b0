"""State shared between gateway replicas, behind ports with an in-process default.

``InProcessRevocationBus`` serves a single process; ``RedisRevocationBus`` tells every replica
sharing a Redis server. Both pass the same contract tests.
"""

from onshore.store.state.memory import InProcessRevocationBus
from onshore.store.state.redis import RedisRevocationBus

__all__ = ["InProcessRevocationBus", "RedisRevocationBus"]
