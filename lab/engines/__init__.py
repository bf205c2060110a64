"""Engine selection: `local`, `kind`, `cluster`, or `auto` (kind where Docker and tools are there)."""

from __future__ import annotations

import shutil

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
        return "local", f"{', '.join(missing)} not on PATH, so the embedded engine is used"
    problem = docker_problem()
    if problem:
        return "local", f"{problem}, so the embedded engine is used"
    return "kind", "Docker answers and kind, helm and kubectl are installed"
