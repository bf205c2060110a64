"""Shared fixtures: a writable copy of the lab definition to break on purpose."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


class LabCopy:
    """A copy of scenarios/, manifests/ and charts-values/ under tmp_path, with small editors."""

    def __init__(self, root: Path) -> None:
        self.root = root
        for name in ("scenarios", "manifests", "charts-values"):
            shutil.copytree(ROOT / name, root / name, ignore=shutil.ignore_patterns("__pycache__"))

    def path(self, rel: str) -> Path:
        return self.root / rel

    def edit(self, rel: str, old: str, new: str, count: int = 1) -> None:
        p = self.path(rel)
        text = p.read_text()
        assert old in text, f"{old!r} not in {rel}"
        p.write_text(text.replace(old, new, count))

    def write(self, rel: str, text: str) -> Path:
        p = self.path(rel)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
        return p


@pytest.fixture
def lab_copy(tmp_path: Path) -> LabCopy:
    return LabCopy(tmp_path / "lab")


@pytest.fixture
def repo_root() -> Path:
    return ROOT


Editor = Callable[[LabCopy], None]


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Fake kind/helm/kubectl on PATH, fake Kubernetes API, fake Docker, fake HTTPS gateway."""
    from tests.fakes.world import World

    w = World(tmp_path, monkeypatch)
    yield w
    w.close()
