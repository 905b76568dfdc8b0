"""Adapters for durable and shared state: SQL (``store.sql``), Redis or in-process (``store.state``).

Only this package sees SQLAlchemy and Redis; everything it raises to callers is a
``onshore.ports.StoreError``. Nothing here builds an engine or a client at import time: the
composition root calls the constructors.
"""
