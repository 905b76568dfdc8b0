"""The operator's console at ``/dashboard``: see docs/console.md."""
