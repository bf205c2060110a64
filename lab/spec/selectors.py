"""Which pods a Service selects: one rule for every engine and for attribution.

A Service selects the pods whose labels carry every pair of its selector (an empty selector
selects none); a Deployment's pods carry its template labels.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from lab.spec.manifests import Resource


def selects(selector: Mapping[str, Any] | None, labels: Mapping[str, Any] | None) -> bool:
    """Whether a Service selector picks pods with `labels` (an empty selector picks none)."""
    if not selector:
        return False
    found = labels or {}
    return all(str(found.get(k)) == str(v) for k, v in selector.items())


def selector_string(selector: Mapping[str, Any]) -> str:
    """A selector as the API's labelSelector query: `app=echo-1,tier=web`."""
    return ",".join(f"{k}={v}" for k, v in selector.items())


def template_labels(deployment: Resource) -> Mapping[str, Any]:
    """The labels a Deployment's pods get (spec.template.metadata.labels)."""
    template = deployment.spec.get("template") or {}
    return (template.get("metadata") or {}).get("labels") or {}


def deployment_services(resources: Iterable[Resource]) -> dict[tuple[str, str], tuple[Resource, ...]]:
    """(namespace, Deployment) -> the Services in its namespace whose selector picks its pods."""
    resources = list(resources)
    services = [r for r in resources if r.kind == "Service" and r.group == ""]
    out: dict[tuple[str, str], tuple[Resource, ...]] = {}
    for dep in (r for r in resources if r.kind == "Deployment"):
        labels = template_labels(dep)
        chosen = tuple(
            s for s in services if s.namespace == dep.namespace and selects(s.spec.get("selector"), labels)
        )
        if chosen:
            out[(dep.namespace or "default", dep.name)] = chosen
    return out
