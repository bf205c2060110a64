"""What the kind and cluster engines record in state.json to reach and remove what they created."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lab.engines.kube.tunnel import TunnelRecord
from lab.objects import ObjectKey
from lab.state import CorruptState, Fields


@dataclass(frozen=True)
class AppliedObject:
    """One object lab applied: its apiVersion (to delete it) and the digest of what was applied."""

    api_version: str
    digest: str


@dataclass(frozen=True)
class KubeRecord:
    """Where the lab's cluster is, what lab created there, and the objects it applied."""

    kubeconfig: str | None = None
    context: str | None = None
    namespace: str = "default"
    # the kind cluster, when lab created it (None: an existing cluster lab must never delete)
    cluster: str | None = None
    release: str | None = None
    release_namespace: str | None = None
    objects: Mapping[ObjectKey, AppliedObject] = field(default_factory=dict)
    # cluster engine: the shared Consul's namespace, the namespaces lab created (and may delete), and
    # the port-forward helper
    consul_namespace: str | None = None
    namespaces_created: tuple[str, ...] = ()
    tunnel: TunnelRecord | None = None

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "kubeconfig": self.kubeconfig,
            "context": self.context,
            "namespace": self.namespace,
            "cluster": self.cluster,
            "release": self.release,
            "release_namespace": self.release_namespace,
            "objects": {str(k): [v.api_version, v.digest] for k, v in self.objects.items()},
            "consul_namespace": self.consul_namespace,
            "namespaces_created": list(self.namespaces_created),
            "tunnel": None if self.tunnel is None else self.tunnel.to_json(),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> KubeRecord:
        """Inverse of to_json; CorruptState naming a field of the wrong type."""
        doc = Fields(dict(data), "record")
        raw = doc.get("objects") or {}
        if not isinstance(raw, dict):
            raise CorruptState("state.json: record.objects is not an object")
        objects: dict[ObjectKey, AppliedObject] = {}
        for key, value in raw.items():
            if not (isinstance(value, list) and len(value) == 2 and all(isinstance(v, str) for v in value)):
                raise CorruptState(f"state.json: record.objects[{key!r}] is not [apiVersion, digest]")
            try:
                objects[ObjectKey.parse(key)] = AppliedObject(value[0], value[1])
            except ValueError as exc:
                raise CorruptState(f"state.json: record.objects: {exc}") from exc
        tunnel = doc.get("tunnel")
        try:
            forward = None if tunnel is None else TunnelRecord.from_json(tunnel)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise CorruptState(f"state.json: record.tunnel is malformed ({exc})") from exc
        return cls(
            consul_namespace=doc.optional_text("consul_namespace"),
            namespaces_created=doc.texts("namespaces_created"),
            tunnel=forward,
            kubeconfig=doc.optional_text("kubeconfig"),
            context=doc.optional_text("context"),
            namespace=doc.optional_text("namespace") or "default",
            cluster=doc.optional_text("cluster"),
            release=doc.optional_text("release"),
            release_namespace=doc.optional_text("release_namespace"),
            objects=objects,
        )
