"""The engines: where the lab runs. Selection: `local`, `kind`, `cluster`, or `auto`.

Owns: base (the Engine protocol every engine implements), local/ (the embedded engine), kube/ (the
kind and cluster engines), engine selection and the decoding of each engine's state record.
May import: lab core (errors, timeouts, waiting, state, objects), lab.stats, lab.spec, lab.traffic.
Nothing outside this folder names an engine; local/ and kube/ never import each other.
"""

from __future__ import annotations

import importlib
import shutil
from typing import TYPE_CHECKING

from lab.timeouts import DEFAULT

if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

    from lab.engines.base import Engine, EngineOptions
    from lab.state import EngineRecord

ENGINE_NAMES = ("local", "kind", "cluster", "auto")
KIND_TOOLS = ("kind", "helm", "kubectl")


def docker_problem() -> str | None:
    """Why the Docker daemon cannot be used, or None when it answers a ping."""
    try:
        import docker

        docker.from_env(timeout=DEFAULT.docker_ping).ping()
    except Exception as exc:  # the SDK raises several types for "no daemon"
        return f"no Docker daemon answers ({type(exc).__name__})"
    return None


def auto_engine() -> tuple[str, str]:
    """The engine `auto` picks and why: kind where Docker answers and kind/helm/kubectl exist."""
    missing = [t for t in KIND_TOOLS if shutil.which(t) is None]
    if missing:
        return "local", f"{', '.join(missing)} not on PATH, so the embedded engine is used"
    problem = docker_problem()
    if problem:
        return "local", f"{problem}, so the embedded engine is used"
    return "kind", "Docker answers and kind, helm and kubectl are installed"


def create(name: str, options: EngineOptions) -> Engine:
    """The engine called `name` (local, kind or cluster); `auto` must be resolved before.

    kind and cluster are imported on first use; when that fails, EnvironmentNotReady says so.
    """
    from lab.errors import EnvironmentNotReady, UsageError

    if name == "local":
        from lab.engines.local.engine import LocalEngine

        return LocalEngine(options)
    if name in ("kind", "cluster"):
        try:
            kind = importlib.import_module("lab.engines.kube.engine")
        except ImportError as exc:
            raise EnvironmentNotReady(
                f"the {name} engine is not available in this installation ({exc})",
                fix="use --engine local, or install a lab version with the kind engine",
            ) from exc
        cls = getattr(kind, "KindEngine" if name == "kind" else "ClusterEngine", None)
        if cls is None:
            raise EnvironmentNotReady(
                f"the {name} engine is not available in this installation (lab.engines.kube.engine has no "
                f"{'KindEngine' if name == 'kind' else 'ClusterEngine'})",
                fix="use --engine local",
            )
        engine: Engine = cls(options)
        return engine
    raise UsageError(f"unknown engine {name!r}; expected one of {', '.join(ENGINE_NAMES)}")


def decode_record(engine: str, data: Mapping[str, Any]) -> EngineRecord:
    """An engine's record from state.json (lab.state.RecordDecoder); CorruptState when malformed."""
    from lab.state import CorruptState

    if engine == "local":
        from lab.engines.local.record import LocalRecord

        return LocalRecord.from_json(data)
    if engine in ("kind", "cluster"):
        from lab.engines.kube.record import KubeRecord

        return KubeRecord.from_json(data)
    raise CorruptState(f"state.json: engine is {engine!r}, expected one of local, kind, cluster")


def takes_cluster_options(name: str) -> bool:
    """Whether --context/--namespace mean anything to engine `name` (without importing it)."""
    return name == "cluster"
