"""Onshore: an in-country AI gateway, its operator tools and a data-center capacity planner.

Importing this package has no side effects; the composition root is :mod:`onshore.bootstrap`.
"""

__version__ = "0.1.0"
