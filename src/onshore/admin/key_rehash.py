"""Where a key-digest secret rotation stands: how many keys each secret generation still hashes."""

from __future__ import annotations

from typing import Any

from onshore.domain.keys import KeyDigester
from onshore.ports import TenancyStore


def rehash_status(tenancy: TenancyStore, digester: KeyDigester) -> dict[str, Any]:
    """Active keys by generation: ``current``, each ``previous`` one, ``other`` (a secret no longer
    configured) and ``unrecorded`` (made before generations were recorded and not used since; a
    use under the current secret stamps it, one under a previous secret re-hashes it).

    ``done`` is true when no active key needs a previous secret any more.
    """
    counts = tenancy.key_generations()
    previous_ids = digester.previous_ids
    previous = {sid: counts.get(sid, 0) for sid in previous_ids}
    known = {digester.secret_id, None, *previous_ids, *digester.upcoming_ids}
    other = sum(n for sid, n in counts.items() if sid not in known)
    upcoming = sum(counts.get(sid, 0) for sid in digester.upcoming_ids)
    unrecorded = counts.get(None, 0)
    return {
        "current": digester.secret_id,
        "current_keys": counts.get(digester.secret_id, 0),
        "upcoming_keys": upcoming,  # hashed with the next secret (a rotation's second step, rolling)
        "previous": previous,
        "other": other,
        "unrecorded": unrecorded,
        "done": not any(previous.values()) and unrecorded == 0,
    }
