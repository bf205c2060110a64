"""Which Service answered: from the echo server's `Hostname: <pod>` line back to its Service.

Pod names are `<deployment>-<replicaset hash>-<pod hash>`; a Deployment's pods belong to the
Services whose selector matches the Deployment's template labels, in the same namespace.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from lab.spec.manifests import Resource
from lab.spec.selectors import deployment_services

_HOSTNAME = re.compile(rb"Hostname:[ \t]*([A-Za-z0-9][A-Za-z0-9.-]*)")
_NAMESPACE = re.compile(rb"pod namespace:[ \t]*(\S+)", re.MULTILINE)


def pod_from_body(body: bytes) -> tuple[str, str | None] | None:
    """(pod name, namespace if printed) from an echo-style response body, or None."""
    host = _HOSTNAME.search(body)
    if host is None:
        return None
    ns = _NAMESPACE.search(body)
    return host.group(1).decode(), ns.group(1).decode() if ns else None


def deployment_of(pod: str) -> str:
    """`echo-1-5d8f7c9b4-x2x7q` -> `echo-1` (a name without two hash parts is returned as is)."""
    parts = pod.rsplit("-", 2)
    return parts[0] if len(parts) == 3 else pod


@dataclass(frozen=True)
class Attributor:
    """Maps a pod name to the key reports use for its Service (see routing.BackendRef.key)."""

    # (namespace, deployment) -> service key
    by_deployment: Mapping[tuple[str, str], str]

    @classmethod
    def from_resources(cls, resources: Iterable[Resource]) -> Attributor:
        """Index Deployments by the Services that select their pods."""
        out: dict[tuple[str, str], str] = {}
        for (ns, deployment), services in deployment_services(resources).items():
            svc = services[0]
            out[(ns, deployment)] = svc.name if ns == "default" else f"{ns}/{svc.name}"
        return cls(out)

    def service(self, pod: str, namespace: str | None = None) -> str | None:
        """The Service key for a pod, or None when no Deployment of the lab owns it."""
        dep = deployment_of(pod)
        if namespace is not None and (namespace, dep) in self.by_deployment:
            return self.by_deployment[(namespace, dep)]
        # the cluster engine moves `default` into its own namespace: fall back to the name
        matches = [key for (ns, d), key in self.by_deployment.items() if d == dep]
        return matches[0] if len(matches) == 1 else None

    def from_body(self, body: bytes) -> tuple[str | None, str | None]:
        """(service key, pod) for a response body; (None, None) when it names no pod."""
        found = pod_from_body(body)
        if found is None:
            return None, None
        pod, ns = found
        return self.service(pod, ns), pod
