"""pytest plugin (entry point `pytest11`): a thin adapter over the lab library.

For now it registers the `kind` marker and skips such tests, with the reason, where no Docker
daemon answers.
"""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    """Register the lab's markers."""
    config.addinivalue_line("markers", "kind: needs a Docker daemon and kind (skipped elsewhere with the reason)")


def docker_unavailable_reason() -> str | None:
    """Why no Docker daemon can be used here, or None when one answers."""
    try:
        import docker

        client = docker.from_env(timeout=3)
        client.ping()
    except Exception as exc:  # the docker SDK raises many types for "no daemon"
        return f"no Docker daemon answers ({type(exc).__name__}); kind tests need one"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip tests marked `kind` where Docker is missing, saying why."""
    marked = [item for item in items if item.get_closest_marker("kind")]
    if not marked:
        return
    reason = docker_unavailable_reason()
    if reason:
        for item in marked:
            item.add_marker(pytest.mark.skip(reason=reason))
