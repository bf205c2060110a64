"""Engine selection: `local`, `kind`, `cluster`, or `auto` (kind where Docker and tools are there)."""

from __future__ import annotations

import importlib
import shutil
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lab.engines.base import Engine, EngineOptions

ENGINE_NAMES = ("local", "kind", "cluster", "auto")
KIND_TOOLS = ("kind", "helm", "kubectl")


def docker_problem() -> str | None:
    """Why the Docker daemon cannot be used, or None when it answers a ping."""
    try:
        import docker

        docker.from_env(timeout=3).ping()
    except Exception as exc:  # the SDK raises several types for "no daemon"
        return f"no Docker daemon answers ({type(exc).__name__})"
    return None


def auto_engine() -> tuple[str, str]:
    """The engine `auto` picks and why: kind where Docker answers and kind/helm/kubectl exist."""
    missing = [t for t in KIND_TOOLS if shutil.which(t) is None]
    if missing:
        tools = " and ".join([", ".join(missing[:-1]), missing[-1]] if len(missing) > 1 else missing)
        return "local", f"the embedded engine, since {tools} {'are' if len(missing) > 1 else 'is'} not on PATH"
    problem = docker_problem()
    if problem:
        return "local", f"the embedded engine, since {problem}"
    return "kind", "kind, since Docker answers and kind, helm and kubectl are installed"


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
