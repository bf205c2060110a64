"""The real thing: `lab up canary-99-1 --engine kind` on Docker + kind + helm. Skipped without Docker.

Run on a laptop with Docker: `pytest tests/test_kind_real.py -m kind`. It creates the kind cluster
`lab`, installs Consul 0.40.0 and the API gateway, applies the routes and probes
https://localhost:8443/echo verified against the cluster's CA; then deletes the cluster.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from lab import lifecycle
from lab.engines.base import EngineOptions
from lab.engines.kube.engine import KindEngine
from lab.spec.plan import make_plan
from lab.spec.registry import LabDir
from lab.state import StateDir
from lab.timeouts import DEFAULT
from tests.conftest import ROOT


@pytest.mark.kind
def test_kind_up_canary_99_1_for_real(tmp_path: Path) -> None:
    missing = [t for t in ("kind", "helm", "kubectl") if shutil.which(t) is None]
    if missing:
        pytest.skip(f"{', '.join(missing)} not on PATH")
    options = EngineOptions(state=StateDir(tmp_path / ".lab"), timeouts=DEFAULT)
    plan = make_plan(LabDir(ROOT), "canary-99-1")
    try:
        state = lifecycle.up(plan, lifecycle.EngineChoice("kind", "asked for"), options, print)
        assert state.ports == {8443: 8443}
        assert Path(state.ca_file).read_text().startswith("-----BEGIN CERTIFICATE-----")
        rows = {r.component: r.state for r in KindEngine(options).status(state)}
        assert rows["Gateway default/example-gateway"] == "ok"
    finally:
        lifecycle.down(options, print)  # the record says lab created the cluster: it is deleted
