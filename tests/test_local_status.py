"""The embedded engine behaves like a v0.4.0 gateway end to end: a real lab process per test.

What Kubernetes accepts is applied (`lab apply` exit 0), served as the specification says (503 for
the invalid share), and shown as status conditions by `lab status` and `lab get -o yaml`; a
Gateway whose only listener is HTTP converges and its check passes.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import requests
import yaml

from lab.engines.local.ports import free_port
from tests.conftest import LabCopy
from tests.test_local_cli import Lab, lab, local  # noqa: F401 - the fixture

BROKEN = """\
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: HTTPRoute
metadata:
  name: broken-route
  namespace: default
spec:
  parentRefs:
    - name: example-gateway
  rules:
    - matches:
        - path:
            type: PathPrefix
            value: /broken
      backendRefs:
        - kind: Service
          name: echo-1
          port: 8080
          weight: 1
        - kind: Service
          name: echo-9
          port: 8080
          weight: 3
    - matches:
        - path:
            type: PathPrefix
            value: /fine
      backendRefs:
        - kind: Service
          name: echo-1
          port: 8080
"""


def test_a_dangling_backend_is_applied_answers_503_and_is_shown(local: Lab, tmp_path: Path) -> None:  # noqa: F811
    """Issue 13 item 1: applied, not refused; 503 for its share; the valid rule keeps serving."""
    local.start()
    route = tmp_path / "broken.yaml"
    route.write_text(BROKEN)
    code, out = lab("apply", str(route), "--state-dir", str(local.state_dir))
    assert code == 0, out
    codes = Counter(local.get("/broken").status_code for _ in range(80))
    # binomial(80, 0.75): 40..75 holds with probability > 0.9999
    assert set(codes) == {200, 503} and 40 <= codes[503] <= 75, codes
    assert local.get("/fine").status_code == 200
    code, status = local.status()
    assert code == 0, status
    rows = {(r["component"], r["state"]): r["detail"] for r in status["rows"]}
    ref = "httproute/broken-route -n default"
    assert "Service default/echo-9 does not exist" in rows[(ref, "ResolvedRefs=False (ServiceNotFound)")]
    warning = rows[(ref, "warning")]
    assert "/broken (rule 0) on broken-route will answer 503 for 75% of requests" in warning
    assert "kind engine: Consul API Gateway 0.1.0 binds no route" in warning
    assert ("gateway/example-gateway -n default", "Scheduled, Ready") in rows
    code, out = lab("get", "httproute", "broken-route", "-o", "yaml", "--state-dir", str(local.state_dir))
    assert code == 0, out
    obj = yaml.safe_load(out)
    assert obj["kind"] == "HTTPRoute" and obj["spec"]["rules"][0]["backendRefs"][1]["name"] == "echo-9"
    (parent,) = obj["status"]["parents"]
    assert parent["controllerName"] == "hashicorp.com/consul-api-gateway-controller"
    conditions = {c["type"]: c for c in parent["conditions"]}
    assert conditions["Accepted"]["status"] == "True"
    assert conditions["ResolvedRefs"]["status"] == "False"
    assert conditions["ResolvedRefs"]["reason"] == "ServiceNotFound"
    code, out = lab("get", "httproutes", "--state-dir", str(local.state_dir))
    assert code == 0 and "broken-route" in out and "ResolvedRefs=False(ServiceNotFound)" in out, out
    code, out = lab("get", "httproute", "nope", "--state-dir", str(local.state_dir))
    assert code == 2 and 'httproute "nope" not found' in out, out


def _http_only(lab_copy: LabCopy) -> None:
    lab_copy.edit(
        "manifests/gateway/gateway.yaml",
        "      protocol: HTTPS\n      port: 8443\n",
        "      protocol: HTTP\n      port: 8080\n",
    )
    lab_copy.edit(
        "manifests/gateway/gateway.yaml",
        "      tls:\n        certificateRefs:\n          - name: consul-server-cert\n",
        "",
    )


def test_an_http_only_gateway_converges_and_its_check_passes(lab_copy: LabCopy, tmp_path: Path) -> None:
    """Issue 13 item 7: the converge probe and the check use the listener's scheme."""
    _http_only(lab_copy)
    state = tmp_path / "state"
    port = free_port()
    common = ("--lab-dir", str(lab_copy.root))
    try:
        code, out = lab(
            *common,
            "up",
            "split-50-50",
            "--engine",
            "local",
            "--state-dir",
            str(state),
            "--port",
            f"8080={port}",
            "-n",
            "400",
        )
        assert code == 0, out
        assert f"  try:     curl http://localhost:{port}/echo" in out  # plain HTTP: no CA to pass
        with requests.Session() as s:
            s.trust_env = False
            assert s.get(f"http://localhost:{port}/echo", timeout=5).status_code == 200
    finally:
        lab(*common, "down", "--state-dir", str(state))


def test_up_applies_a_scenario_with_warnings_and_prints_them(lab_copy: LabCopy, tmp_path: Path) -> None:
    lab_copy.edit(
        "manifests/routes/canary-99-1.yaml",
        "    - backendRefs:\n        - kind: Service\n          name: frontend",
        "    - backendRefs:\n        - kind: Service\n          name: frontend-v2",
    )
    state, port = tmp_path / "state", free_port()
    common = ("--lab-dir", str(lab_copy.root))
    try:
        code, out = lab(
            *common,
            "up",
            "canary-99-1",
            "--engine",
            "local",
            "--state-dir",
            str(state),
            "--port",
            f"8443={port}",
            "--no-check",
        )
        assert code == 0, out
        assert "warning: " in out and "/ on example-route-2 will answer 503" in out
        with requests.Session() as s:
            s.trust_env = False
            assert (
                s.get(f"https://localhost:{port}/", verify=str(state / "ca.pem"), timeout=5).status_code
                == 503
            )
    finally:
        lab(*common, "down", "--state-dir", str(state))


def test_reapplying_a_scenario_file_with_a_broken_reference_applies_it(
    lab_copy: LabCopy, tmp_path: Path
) -> None:
    """Issue 13 items 1 and 2 the way a user does them: edit the scenario's own file, `lab apply` it.

    The ReferencePolicy removed from team-a.yaml makes team-route's echo-2 half an invalid reference
    (503 for its share); it is applied, and `lab check` judges the scenario's /team split FAIL (exit 1,
    the split cannot match the weights) naming the finding, while /echo still passes.
    """
    state, port = tmp_path / "state", free_port()
    common = ("--lab-dir", str(lab_copy.root))
    team = "manifests/cross-namespace/team-a.yaml"
    text = lab_copy.path(team).read_text()
    policy = text.index("---\napiVersion: gateway.networking.k8s.io/v1alpha2\nkind: ReferencePolicy")
    try:
        code, out = lab(
            *common, "up", "cross-namespace", "--engine", "local", "--state-dir", str(state),
            "--port", f"8443={port}", "--no-check",
        )  # fmt: skip
        assert code == 0, out
        lab_copy.write(team, text[:policy])
        code, out = lab("apply", str(lab_copy.path(team)), "--state-dir", str(state))
        assert code == 0, out
        with requests.Session() as s:
            s.trust_env = False
            url, ca = f"https://localhost:{port}/team", str(state / "ca.pem")
            codes = Counter(s.get(url, verify=ca, timeout=5).status_code for _ in range(60))
        # binomial(60, 0.5): 15..45 holds with probability > 0.9999
        assert set(codes) == {200, 503} and 15 <= codes[503] <= 45, codes
        code, out = lab("status", "--state-dir", str(state), "-o", "json")
        assert code == 0 and "ResolvedRefs=False (RefNotPermitted)" in out, out
        code, out = lab(*common, "traffic", "--path", "/team", "-n", "40", "--state-dir", str(state))
        assert code == 0 and "503" in out, out
        code, out = lab(*common, "check", "--state-dir", str(state))
        assert code == 1, out
        assert "echo-2: ResolvedRefs=False (RefNotPermitted), known before the first request" in out, out
        assert "check: FAIL (cross-namespace" in out and "verdict: PASS" in out, out  # /echo passes
    finally:
        lab(*common, "down", "--state-dir", str(state))
