"""Where lab.engines finds the Kubernetes engines: `kind` (kind.py) and `cluster` (cluster.py)."""

from __future__ import annotations

from lab.engines.kube.cluster import ClusterEngine
from lab.engines.kube.kind import KindEngine

__all__ = ["ClusterEngine", "KindEngine"]
