"""Hostname matching of Gateway API v1alpha2: listener and route hostnames, exact and wildcard.

A listener's hostname narrows the hostnames of the routes attached to it (their intersection);
a request's Host picks the most specific matching route hostname.
"""

from __future__ import annotations

from collections.abc import Sequence


def _covers(pattern: str, name: str) -> bool:
    """True when hostname `pattern` (maybe `*.suffix`) matches `name` (maybe a wildcard itself)."""
    if pattern == name:
        return True
    return pattern.startswith("*.") and name.endswith(pattern[1:]) and len(name) > len(pattern) - 1


def effective_hostnames(
    listener_hostname: str | None, route_hostnames: Sequence[str]
) -> tuple[str, ...] | None:
    """The hostnames a route serves on a listener: the intersection of the two, as the spec says.

    () means any host; None means none in common, so the route does not attach to that listener.
    """
    if not listener_hostname:
        return tuple(route_hostnames)
    listener_hostname = listener_hostname.lower()
    if not route_hostnames:
        return (listener_hostname,)
    out: list[str] = []
    for name in route_hostnames:
        if _covers(listener_hostname, name):
            out.append(name)
        elif _covers(name, listener_hostname):
            out.append(listener_hostname)
    return tuple(dict.fromkeys(out)) or None


def host_match(route_hostnames: Sequence[str], host: str) -> tuple[int, int] | None:
    """Specificity of the best route hostname matching `host`: (non-wildcard, length), or None.

    No hostnames means any host (specificity (0, 0)); `*.example.com` matches one or more labels.
    """
    if not route_hostnames:
        return (0, 0)
    host = host.lower().rstrip(".")
    best: tuple[int, int] | None = None
    for name in route_hostnames:
        if name.startswith("*."):
            suffix = name[1:]
            score = (0, len(name)) if host.endswith(suffix) and len(host) > len(suffix) else None
        else:
            score = (1, len(name)) if host == name else None
        if score is not None and (best is None or score > best):
            best = score
    return best
