"""Replace findings in a text: the gateway's redact mode and the CLI's preview."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from onshore.pii.entities import Finding


def placeholder(finding: Finding) -> str:
    """The default replacement: the type in brackets, e.g. ``[KR_RRN]``."""
    return f"[{finding.type.value}]"


def redact(text: str, findings: Iterable[Finding], replace: Callable[[Finding], str] = placeholder) -> str:
    """Return ``text`` with each finding's span replaced by ``replace(finding)``.

    Overlapping findings are resolved in favour of the one that starts first. Spans are exact
    ``str`` indices, so everything outside the findings is kept byte for byte.
    """
    parts: list[str] = []
    position = 0
    for finding in sorted(findings, key=lambda f: (f.start, -f.end)):
        if finding.start < position or finding.end > len(text) or finding.start < 0:
            continue
        parts.append(text[position : finding.start])
        parts.append(replace(finding))
        position = finding.end
    parts.append(text[position:])
    return "".join(parts)
