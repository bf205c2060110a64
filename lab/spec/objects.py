"""How engines name the objects they apply, and which pods a Service selects.

One key type for applied objects (group/kind/namespace/name, "" for the core group and for
cluster-scoped namespaces) and one selector rule, so engines, state and attribution agree.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from lab.spec.manifests import Resource


@dataclass(frozen=True, order=True)
class ObjectKey:
    """An applied object: API group ("" for core), kind, namespace ("" when cluster-scoped), name."""

    group: str
    kind: str
    namespace: str
    name: str

    @classmethod
    def of(cls, body: Mapping[str, Any]) -> ObjectKey:
        """The key of a manifest body (apiVersion, kind, metadata.namespace/name)."""
        meta = body.get("metadata") or {}
        return cls(
            str(body.get("apiVersion", "")).rpartition("/")[0],
            str(body.get("kind", "")),
            str(meta.get("namespace") or ""),
            str(meta.get("name", "")),
        )

    @classmethod
    def of_resource(cls, resource: Resource) -> ObjectKey:
        """The key of a loaded resource."""
        return cls(resource.group, resource.kind, resource.namespace or "", resource.name)

    @classmethod
    def parse(cls, text: str) -> ObjectKey:
        """Inverse of str(); also reads the older `core/Kind/...` spelling of the core group."""
        group, kind, namespace, name = text.split("/", 3)
        return cls("" if group == "core" else group, kind, namespace, name)

    def __str__(self) -> str:
        return f"{self.group}/{self.kind}/{self.namespace}/{self.name}"

    @property
    def ref(self) -> str:
        """`Kind namespace/name` (or `Kind name` when cluster-scoped), for messages."""
        return f"{self.kind} {self.namespace + '/' if self.namespace else ''}{self.name}"


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
