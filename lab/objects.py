"""ObjectKey: how lab names an object it applied (group/kind/namespace/name), one type everywhere."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class ObjectKey:
    """An object's identity as `kubectl` sees it; the core API group is "core"."""

    group: str
    kind: str
    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.group}/{self.kind}/{self.namespace}/{self.name}"

    @classmethod
    def of(cls, api_version_or_group: str, kind: str, namespace: str | None, name: str) -> ObjectKey:
        """From an apiVersion (`gateway.networking.k8s.io/v1alpha2`, `v1`) or a bare group."""
        group = api_version_or_group.rpartition("/")[0] if "/" in api_version_or_group else api_version_or_group
        if group in ("", "v1"):
            group = "core"
        return cls(group, kind, namespace or "", name)

    @classmethod
    def parse(cls, text: str) -> ObjectKey:
        """Inverse of str(); ValueError when `text` is not group/kind/namespace/name."""
        parts = text.split("/", 3)
        if len(parts) != 4 or not all(parts[i] for i in (0, 1, 3)):
            raise ValueError(f"{text!r} is not group/kind/namespace/name")
        return cls(*parts)

    def display(self) -> str:
        """`Kind namespace/name` (or `Kind name` for cluster-scoped objects), as people read it."""
        return f"{self.kind} {self.namespace + '/' if self.namespace else ''}{self.name}"
