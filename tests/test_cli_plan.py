"""The lab-definition commands through click's CliRunner: scenarios, validate, plan."""

from __future__ import annotations

import json

from click.testing import CliRunner

from lab.ui.cli import cli
from tests import upstream
from tests.conftest import LabCopy


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.output


ROUTE_99_1 = "manifests/routes/canary-99-1.yaml"


def test_scenarios_lists_the_tutorial_and_the_canary() -> None:
    code, out = run("scenarios")
    assert code == 0, out
    assert "split-50-50" in out and "canary-99-1" in out


def test_scenarios_json() -> None:
    code, out = run("scenarios", "--output", "json")
    assert code == 0, out
    names = {s["name"] for s in json.loads(out)}
    assert {"split-50-50", "canary-99-1"} <= names


def test_plan_shows_chart_port_node_image_and_weights() -> None:
    code, out = run("plan", "canary-99-1")
    assert code == 0, out
    assert "--version 0.40.0" in out
    assert "https://localhost:8443/echo" in out
    assert upstream.NODE_IMAGE in out
    assert "echo-1 99" in out and "echo-2 1" in out
    assert "curl -sS --fail --cacert .lab/ca.pem https://localhost:8443/echo" in out and " -k " not in out


def test_plan_json_carries_steps_in_order_and_expected_split() -> None:
    code, out = run("plan", "canary-99-1", "--output", "json")
    assert code == 0, out
    data = json.loads(out)
    stages = [s["stage"] for s in data["steps"]]
    assert stages == sorted(stages, key=["provision", "install", "apply", "converge", "drive"].index)
    commands = [c for s in data["steps"] for c in s["commands"]]
    assert commands[0].startswith("kind create cluster --name lab --image kindest/node:v1.21.1@sha256:")
    assert any(
        c.startswith("helm install consul consul --repo https://helm.releases.hashicorp.com --version 0.40.0")
        for c in commands
    )
    # Timeouts.gateway_ready, the budget the kind engine itself waits (not the tutorial's 90s)
    assert any("wait --for=condition=Ready --timeout=180s gateway/example-gateway" in c for c in commands)
    assert [(s["key"], s["scenario_step"]) for s in data["steps"]][-2:] == [
        ("routes", "canary-99-1"),
        ("traffic", "canary-99-1"),
    ]
    assert all(s["engine_note"] is None for s in data["steps"])
    traffic = data["scenario_steps"][0]["traffic"][0]
    assert traffic["expected_weights"] == {"echo-1": 99, "echo-2": 1}
    assert traffic["url"] == "https://localhost:8443/echo"


def test_plan_json_for_the_embedded_engine_notes_each_emulated_step() -> None:
    code, out = run("plan", "canary-99-1", "--engine", "local", "--output", "json")
    assert code == 0, out
    notes = {s["key"]: s["engine_note"] for s in json.loads(out)["steps"]}
    for key in ("cluster", "crds", "consul"):
        assert notes[key].startswith("emulated by the embedded engine: ")
    assert notes["traffic"] is None  # the loop and lab check run as printed


def test_unknown_scenario_suggests_the_close_one() -> None:
    code, out = run("plan", "canary-99-l")
    assert code == 3, out
    assert "did you mean canary-99-1" in out


def test_negative_weight_exits_3_naming_file_and_field(lab_copy: LabCopy) -> None:
    lab_copy.edit("manifests/routes/canary-99-1.yaml", "weight: 1\n", "weight: -1\n")
    code, out = run("--lab-dir", str(lab_copy.root), "validate")
    assert code == 3, out
    assert "canary-99-1.yaml:23" in out
    assert "spec.rules[0].backendRefs[1].weight" in out
    assert "is -1" in out


def test_weights_1_1_1_warn_what_consul_does_and_strict_makes_it_exit_3(lab_copy: LabCopy) -> None:
    lab_copy.edit(
        "manifests/routes/canary-99-1.yaml",
        "          weight: 1\n",
        "          weight: 1\n        - kind: Service\n          name: frontend\n          port: 80\n          weight: 1\n",
    )
    lab_copy.edit("manifests/routes/canary-99-1.yaml", "weight: 99", "weight: 1")
    code, out = run("--lab-dir", str(lab_copy.root), "validate", "canary-99-1")
    # 1/1/1 are valid Gateway API weights: the embedded engine follows the specification ...
    assert code == 0, out
    assert "ok       canary-99-1 (1 warning(s))" in out
    assert "splits 33.3%/33.3%/33.3%" in out
    # ... and the warning says what Consul 0.1.0 on the kind engine would do
    assert "33.33%" in out and "99.99%" in out and "weights 34/33/33 work on both engines" in out
    code, out = run("--lab-dir", str(lab_copy.root), "validate", "--strict", "canary-99-1")
    assert code == 3, out
    assert "1 warning(s) and --strict" in out


def test_validate_warns_with_the_condition_and_the_effect(lab_copy: LabCopy) -> None:
    """Issue 13: a dangling backendRef is applied and flagged, not refused."""
    lab_copy.edit(
        "manifests/routes/canary-99-1.yaml",
        "    - backendRefs:\n        - kind: Service\n          name: frontend",
        "    - backendRefs:\n        - kind: Service\n          name: frontend-v2",
    )
    code, out = run("--lab-dir", str(lab_copy.root), "validate", "canary-99-1")
    assert code == 0, out
    assert "warning: " in out and "Service default/frontend-v2 does not exist" in out
    assert "status: ResolvedRefs=False (ServiceNotFound)" in out
    assert "effect: / on example-route-2 will answer 503" in out
    code, _ = run("--lab-dir", str(lab_copy.root), "validate", "--strict", "canary-99-1")
    assert code == 3


def test_a_judged_split_over_a_dangling_backend_validates_with_its_warning(lab_copy: LabCopy) -> None:
    """The workshop's "what if a backendRef is wrong": applied, judged, and flagged, not refused.

    The objects are accepted (the embedded engine serves 503 for echo-3's 1%, as v0.4.0 says), so
    validate exits 0 with the warning: the condition, the effect, and what the kind engine does.
    """
    lab_copy.edit(ROUTE_99_1, "name: echo-2\n", "name: echo-3\n")
    code, out = run("--lab-dir", str(lab_copy.root), "validate", "canary-99-1")
    assert code == 0, out
    assert "ok       canary-99-1 (1 warning(s))" in out
    assert "warning: " in out and "status: ResolvedRefs=False (ServiceNotFound)" in out
    assert "effect: /echo on example-route-1 will answer 503 for 1% of requests" in out
    assert "kind engine: Consul API Gateway 0.1.0 binds no route with an unresolved backendRef" in " ".join(out.split())
    code, out = run("--lab-dir", str(lab_copy.root), "validate", "--strict", "canary-99-1")
    assert code == 3, out
    assert "1 warning(s) and --strict" in out


def test_lab_dir_from_environment(lab_copy: LabCopy) -> None:
    (lab_copy.root / "scenarios" / "split_50_50.py").unlink()
    result = CliRunner().invoke(
        cli, ["scenarios"], env={"LAB_DIR": str(lab_copy.root)}, catch_exceptions=False
    )
    assert result.exit_code == 0
    assert "canary-99-1" in result.output and "split-50-50" not in result.output


def test_validate_all_ok() -> None:
    code, out = run("validate")
    assert code == 0, out
    assert "ok       canary-99-1" in out


def test_missing_lab_dir_is_invalid_input(tmp_path: object) -> None:
    code, out = run("--lab-dir", str(tmp_path), "scenarios")
    assert code == 3, out
    assert "no scenarios folder" in out
