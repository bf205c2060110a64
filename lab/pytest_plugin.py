"""pytest plugin (entry point `pytest11`): a thin adapter over the lab library.

For now it registers the `kind` marker and skips such tests, with the reason, where no Docker
daemon answers.
"""

from __future__ import annotations

import pytest

from lab.engines import docker_problem


def pytest_configure(config: pytest.Config) -> None:
    """Register the lab's markers."""
    config.addinivalue_line(
        "markers", "kind: needs a Docker daemon and kind (skipped elsewhere with the reason)"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip tests marked `kind` where Docker is missing, saying why."""
    marked = [item for item in items if item.get_closest_marker("kind")]
    if not marked:
        return
    problem = docker_problem()
    if problem:
        reason = f"{problem}; tests marked kind need one"
        for item in marked:
            item.add_marker(pytest.mark.skip(reason=reason))
