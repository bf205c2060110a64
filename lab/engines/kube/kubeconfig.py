"""The kind lab's kubeconfig, kept in the state folder; printed, exported or merged only on request."""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from typing import Any

import yaml

from lab.errors import NoLabRunning
from lab.state import atomic_write


def read(path: Path) -> str:
    """The kubeconfig text; NoLabRunning when the kind lab has not made one."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NoLabRunning(
            f"{path} does not exist: no kind lab has run with this state folder",
            fix="run `lab up SCENARIO --engine kind` first",
        ) from None


def export_line(path: Path) -> str:
    """A line for `eval $(lab kubeconfig --export)`."""
    read(path)
    return f"export KUBECONFIG={shlex.quote(str(path.resolve()))}"


def default_target() -> Path:
    """Where kubectl reads by default: the first $KUBECONFIG file, else ~/.kube/config."""
    env = os.environ.get("KUBECONFIG", "")
    first = next((p for p in env.split(os.pathsep) if p), None)
    return Path(first) if first else Path.home() / ".kube" / "config"


def _merge_named(base: list[Any], extra: list[Any]) -> list[Any]:
    names = {e.get("name") for e in extra}
    return [e for e in base if e.get("name") not in names] + extra


def merge(path: Path, target: Path | None = None) -> Path:
    """Merge clusters, users and contexts of `path` into `target` (same names replaced), atomically."""
    lab = yaml.safe_load(read(path)) or {}
    target = target or default_target()
    try:
        current: dict[str, Any] = yaml.safe_load(target.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        current = {"apiVersion": "v1", "kind": "Config", "preferences": {}}
    for section in ("clusters", "users", "contexts"):
        current[section] = _merge_named(current.get(section) or [], lab.get(section) or [])
    current.setdefault("current-context", lab.get("current-context"))
    target.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(target, yaml.safe_dump(current, sort_keys=False).encode(), 0o600)
    return target
