"""The access log: one line per response on the ``onshore.access`` logger, when asked for.

uvicorn writes the line (at the start of each response, from the edge's protocol); the filter here
reshapes it: method, path without its query string (a client may put a key there), status and
client, as fields of the JSON log; never a header or a body. The request id comes from the logging
context the app set.
"""

from __future__ import annotations

import logging

ACCESS_LOGGER = "onshore.access"
_MAX_LOGGED_PATH = 512


class AccessLine(logging.Filter):
    """Rewrites uvicorn's access record as Onshore's line: no query string, fields for the JSON log.

    uvicorn calls ``info('%s - "%s %s HTTP/%s" %d', client, method, path?query, version, status)``.
    The query string is dropped (a client may put a key there); the path is bounded.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5:
            client, method, target, version, status = args
            path = str(target).split("?", 1)[0][:_MAX_LOGGED_PATH]
            record.msg = "%s %s %s"
            record.args = (method, path, status)
            record.__dict__.update(
                client=client, method=method, path=path, http_version=version, status=status
            )
        return True


def enable_access_log() -> None:
    logger = logging.getLogger(ACCESS_LOGGER)
    logger.setLevel(logging.INFO)  # asked for by the setting, whatever the level of the rest
    if not any(isinstance(f, AccessLine) for f in logger.filters):
        logger.addFilter(AccessLine())
