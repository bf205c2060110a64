"""`lab up/status/apply/down --engine local` end to end: a real background lab process per test."""

from __future__ import annotations

import json
import os
import signal
import socket
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner

from lab.engines.local.ports import free_port, is_free
from lab.engines.local.process import started_at
from lab.ui.cli import cli
from lab.waiting import poll
from tests.conftest import LabCopy

ROUTE_0_100 = """\
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: HTTPRoute
metadata:
  name: example-route-1
  namespace: default
spec:
  parentRefs:
    - name: example-gateway
  rules:
    - matches:
        - path:
            type: PathPrefix
            value: /echo
      backendRefs:
        - kind: Service
          name: echo-1
          port: 8080
          weight: 0
        - kind: Service
          name: echo-2
          port: 8090
          weight: 100
"""


def pid_alive(pid: int) -> bool:
    return started_at(pid) is not None


def gone(pid: int) -> bool:
    return poll(lambda: True if not pid_alive(pid) else None, what="exit", budget=5, interval=0.02) is not None


def lab(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.output


class Lab:
    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.port = free_port()

    def up(self, scenario: str = "canary-99-1", *extra: str) -> tuple[int, str]:
        return lab("up", scenario, "--engine", "local", "--state-dir", str(self.state_dir), *extra)

    def start(self, scenario: str = "canary-99-1") -> str:
        code, out = self.up(scenario, "--port", f"8443={self.port}", "--no-check")
        assert code == 0, out
        return out

    def status(self) -> tuple[int, dict]:
        code, out = lab("status", "--state-dir", str(self.state_dir), "-o", "json")
        return code, json.loads(out[out.index("{") :]) if "{" in out else {}

    def down(self) -> tuple[int, str]:
        return lab("down", "--state-dir", str(self.state_dir))

    def get(self, path: str = "/echo", ca: str | None = None) -> requests.Response:
        with requests.Session() as s:
            s.trust_env = False
            return s.get(
                f"https://localhost:{self.port}{path}", verify=ca or str(self.state_dir / "ca.pem"), timeout=5
            )

    def pid(self) -> int:
        return int(json.loads((self.state_dir / "state.json").read_text())["record"]["pid"])


@pytest.fixture
def local(tmp_path: Path) -> Iterator[Lab]:
    lab_ = Lab(tmp_path / "state")
    yield lab_
    state = lab_.state_dir / "state.json"
    if state.exists():
        pid = lab_.pid()
        lab_.down()
        if pid_alive(pid):
            os.kill(pid, signal.SIGKILL)


def test_up_answers_through_the_gateway_and_down_frees_everything(local: Lab) -> None:
    out = local.start()
    assert f"https://localhost:{local.port}/echo" in out and "curl --cacert" in out
    code, status = local.status()
    assert code == 0, status
    ca = status["state"]["ca_file"]
    details = " ".join(r["detail"] for r in status["rows"])
    assert f"https://localhost:{local.port}/" in details and ca in details
    components = [r["component"] for r in status["rows"]]
    assert any(c.startswith("pod echo-1-") for c in components)
    assert any(r["state"] == "not emulated" and "serviceintentions" in r["component"] for r in status["rows"])
    response = local.get(ca=ca)
    assert response.status_code == 200
    assert response.text.startswith("\n\nHostname: echo-1-") or response.text.startswith(
        "\n\nHostname: echo-2-"
    )
    assert set(os.stat(local.state_dir / "ca-key.pem").st_mode & 0o777 for _ in (0,)) == {0o600}
    pid = local.pid()
    code, out = local.down()
    assert code == 0, out
    assert "stopped (SIGTERM)" in out
    assert not pid_alive(pid)
    assert is_free("127.0.0.1", local.port)
    assert not (local.state_dir / "state.json").exists()
    code, out = local.down()
    assert code == 0 and "no lab running" in out


def test_busy_port_exits_4_naming_it_and_starts_nothing(local: Lab) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", local.port))
        busy.listen()
        code, out = local.up("canary-99-1", "--port", f"8443={local.port}")
    assert code == 4, out
    assert f"port {local.port}" in out and "--port 8443=" in out
    assert f"(pid {os.getpid()})" in out  # the OS told us who holds it: this test
    assert not (local.state_dir / "state.json").exists() and not (local.state_dir / "server.json").exists()


def test_status_without_a_lab_exits_4_and_down_exits_0(tmp_path: Path) -> None:
    code, out = lab("status", "--state-dir", str(tmp_path))
    assert code == 4 and "no lab running" in out
    code, out = lab("down", "--state-dir", str(tmp_path))
    assert code == 0 and "no lab running" in out


def test_killed_process_is_reported_crashed_cleaned_and_recovered(local: Lab) -> None:
    local.start()
    pid = local.pid()
    os.kill(pid, signal.SIGKILL)
    assert gone(pid)
    code, out = lab("status", "--state-dir", str(local.state_dir))
    assert code == 5, out
    assert "crashed" in out and f"pid {pid} is gone" in out and "ready" in out  # log tail
    code, out = local.up("canary-99-1", "--port", f"8443={local.port}")
    assert code == 0, out
    assert f"recovering: the lab process (pid {pid}) is gone" in out
    assert local.get().status_code == 200
    pid2 = local.pid()
    os.kill(pid2, signal.SIGKILL)
    assert gone(pid2)
    code, out = local.down()
    assert code == 0, out
    assert not (local.state_dir / "state.json").exists() and is_free("127.0.0.1", local.port)


def test_apply_changes_the_split_and_an_invalid_apply_changes_nothing(local: Lab, tmp_path: Path) -> None:
    local.start()
    route = tmp_path / "route-0-100.yaml"
    route.write_text(ROUTE_0_100)
    bad = tmp_path / "bad.yaml"
    bad.write_text(ROUTE_0_100.replace("weight: 100", "weight: -1"))
    code, out = lab("apply", str(bad), "--state-dir", str(local.state_dir))
    assert code == 3, out
    assert "bad.yaml" in out and "weight" in out
    code, out = lab("apply", str(route), "--state-dir", str(local.state_dir))
    assert code == 0, out
    seen = Counter(local.get().text.split("\n")[2].rsplit("-", 2)[0] for _ in range(40))
    assert seen == {"Hostname: echo-2": 40}, seen


def test_up_of_another_scenario_switches_the_running_lab(local: Lab) -> None:
    local.start("canary-99-1")
    pid = local.pid()
    _, before = local.status()
    code, out = local.up("split-50-50")
    assert code == 0, out
    assert "switching the running lab from canary-99-1 to split-50-50" in out
    assert local.pid() == pid
    _, after = local.status()
    assert after["state"]["scenario"] == "split-50-50"
    pods = lambda s: sorted(r["component"] for r in s["rows"] if r["component"].startswith("pod "))  # noqa: E731
    assert pods(before) == pods(after)  # Deployments unchanged: same pods
    seen = Counter(local.get().text.split("\n")[2].rsplit("-", 2)[0] for _ in range(60))
    assert seen["Hostname: echo-2"] >= 10, seen  # 50/50, not 99/1


def test_ctrl_c_shuts_the_lab_process_down_cleanly(local: Lab) -> None:
    local.start()
    pid = local.pid()
    assert (local.state_dir / "server.json").exists()
    os.kill(pid, signal.SIGINT)
    assert gone(pid)
    assert not (local.state_dir / "server.json").exists()  # its pid record, removed on the way out
    assert "stopping (signal)" in (local.state_dir / "server.log").read_text()
    assert is_free("127.0.0.1", local.port)


def test_a_split_over_a_missing_backend_is_served_judged_and_fails_naming_the_finding(
    local: Lab, lab_copy: LabCopy
) -> None:
    """The workshop case (issue 13): canary-99-1 with echo-2 renamed to a missing echo-3.

    Kubernetes accepts it; the embedded engine answers echo-3's 1% with 503 (v0.4.0
    HTTPBackendRef), so the observed split cannot match the weights: exit 1, saying why.
    """
    lab_copy.edit("manifests/routes/canary-99-1.yaml", "name: echo-2\n", "name: echo-3\n")
    where = ("--lab-dir", str(lab_copy.root))
    state = ("--state-dir", str(local.state_dir))
    code, out = lab(*where, "up", "canary-99-1", "--engine", "local", *state,
                    "--port", f"8443={local.port}", "--no-check")
    assert code == 0, out
    assert "warning: " in out and "ResolvedRefs=False (ServiceNotFound)" in out
    finding = "echo-3: ResolvedRefs=False (ServiceNotFound), known before the first request; its 1.0% of"
    for mode in ("--sequential", "--fixed"):
        code, out = lab(*where, "check", *state, mode)
        assert code == 1, out
        assert finding in " ".join(out.split()) and "HTTP 503" in out, out
    code, out = lab(*where, "up", "canary-99-1", "--engine", "local", *state, "--port", f"8443={local.port}")
    assert code == 1, out
    assert finding in " ".join(out.split()), out
