"""The tutorial as commands (lab.spec.commands): every step's route switch, the lab's own paths and
ports, the tutorial's curl loop beside `lab check`, durations from the Timeouts table."""

from __future__ import annotations

import ast
from pathlib import Path

from lab.engines.kube import steps as kube_engine
from lab.engines.local import pki
from lab.spec import commands
from lab.spec.commands import Where, tutorial
from lab.spec.plan import make_plan
from lab.spec.registry import LabDir
from lab.timeouts import DEFAULT, Timeouts
from tests.conftest import LabCopy

ROOT = Path(__file__).resolve().parent.parent


def lines(steps: list[commands.CommandStep]) -> list[str]:
    return [line for s in steps for line in s.shell()]


def test_every_step_of_progressive_canary_applies_its_route_then_sends_its_loop() -> None:
    plan = make_plan(LabDir(ROOT), "progressive-canary")
    steps = tutorial(plan, Where(), DEFAULT)
    scenario_steps = [(s.scenario_step, s.key) for s in steps if s.scenario_step]
    assert scenario_steps == [
        (name, key) for name in ("canary-1", "canary-10", "canary-50", "canary-100") for key in ("routes", "traffic")
    ]
    text = "\n".join(lines(steps))
    for route in ("canary-99-1", "canary-90-10", "split-50-50", "blue-green-green"):
        assert f"kubectl --kubeconfig .lab/kubeconfig apply -f manifests/routes/{route}.yaml" in text
    for sp in plan.steps:
        n = sp.traffic[0].requests
        assert (
            f"for i in $(seq {n}); do curl -sS --fail --cacert .lab/ca.pem https://localhost:8443/echo; done"
            in text
        )
        assert f"lab check progressive-canary --step-name {sp.step.name}" in text
    assert " -k " not in text and "--insecure" not in text


def test_the_loop_counts_answers_per_backend_like_the_tutorial() -> None:
    plan = make_plan(LabDir(ROOT), "canary-99-1")
    (traffic,) = [s for s in tutorial(plan, Where(), DEFAULT) if s.key == "traffic"]
    loop, check = traffic.shell()
    assert loop.startswith(f"for i in $(seq {plan.first.traffic[0].requests}); do curl ")
    assert loop.endswith("| sort | uniq -c")
    assert "Hostname: " in loop  # the echo server's first line names the pod
    assert check == "lab check canary-99-1"


def test_headers_go_into_the_loop() -> None:
    plan = make_plan(LabDir(ROOT), "header-canary")
    text = "\n".join(lines(tutorial(plan, Where(), DEFAULT)))
    assert "curl -sS --fail --cacert .lab/ca.pem -H 'x-canary: always' https://localhost:8443/echo" in text


def test_the_lab_s_own_state_folder_and_ports_are_used(tmp_path: Path) -> None:
    plan = make_plan(LabDir(ROOT), "canary-99-1")
    where = Where.of(tmp_path / "state", ROOT, {8443: 9444})
    text = "\n".join(lines(tutorial(plan, where, DEFAULT)))
    ca = f"{tmp_path}/state/ca.pem"
    assert f"--cacert {ca} https://localhost:9444/echo" in text
    assert f"tee {ca}" in text
    assert f"--kubeconfig {tmp_path}/state/kubeconfig" in text
    assert ".lab/" not in text and ":8443" not in text
    assert f"lab check canary-99-1 --state-dir {tmp_path}/state" in text


def test_a_state_folder_inside_the_lab_folder_is_shown_relative() -> None:
    where = Where.of(ROOT / ".lab", ROOT, {})
    assert (where.ca_file, where.kubeconfig, where.state_option) == (".lab/ca.pem", ".lab/kubeconfig", ())


def test_a_remapped_port_uses_the_kind_config_the_lab_writes(tmp_path: Path) -> None:
    plan = make_plan(LabDir(ROOT), "canary-99-1")
    (cluster,) = [s for s in tutorial(plan, Where.of(tmp_path, ROOT, {8443: 9444}), DEFAULT) if s.key == "cluster"]
    assert f"--config {tmp_path}/kind-cluster.yaml" in cluster.shell()[0]
    assert "9444" in cluster.why


def test_blue_green_shows_the_flip() -> None:
    plan = make_plan(LabDir(ROOT), "blue-green")
    routes = [s for s in tutorial(plan, Where(), DEFAULT) if s.key == "routes"]
    assert [s.scenario_step for s in routes] == ["blue", "green"]
    assert routes[1].shell() == ["kubectl --kubeconfig .lab/kubeconfig apply -f manifests/routes/blue-green-green.yaml"]


def test_durations_come_from_the_timeouts_table() -> None:
    plan = make_plan(LabDir(ROOT), "canary-99-1")
    timeouts = Timeouts(crd_established=42.0, helm_install="7m", gateway_ready=77.0)
    text = "\n".join(lines(tutorial(plan, Where(), timeouts)))
    assert "--timeout=42s" in text and "--timeout 7m" in text and "--timeout=77s" in text
    default = "\n".join(lines(tutorial(plan, Where(), DEFAULT)))
    assert f"--timeout={DEFAULT.gateway_ready:g}s gateway/example-gateway" in default


def test_a_requests_override_sets_the_loop_and_the_check() -> None:
    plan = make_plan(LabDir(ROOT), "canary-99-1")
    (traffic,) = [s for s in tutorial(plan, Where(), DEFAULT, requests=300) if s.key == "traffic"]
    assert traffic.shell()[0].startswith("for i in $(seq 300); do")
    assert traffic.shell()[1] == "lab check canary-99-1 --requests 300"


def test_file_names_are_the_ones_the_engines_write() -> None:
    assert commands.CA_FILE == pki.CA_FILE == kube_engine.CA_FILE
    assert commands.KUBECONFIG_FILE == kube_engine.KUBECONFIG_FILE
    assert commands.KIND_CONFIG_FILE == kube_engine.KIND_CONFIG_FILE


def test_no_function_of_the_module_is_longer_than_60_lines() -> None:
    tree = ast.parse(Path(commands.__file__).read_text())
    long = [
        (node.name, node.end_lineno - node.lineno + 1)
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno is not None
        and node.end_lineno - node.lineno + 1 > 60
    ]
    assert long == []


def test_a_route_the_next_step_no_longer_has_is_deleted(lab_copy: LabCopy) -> None:
    lab_copy.write(
        "scenarios/narrowing.py",
        "from lab import Scenario, Step, Traffic\n"
        "SCENARIO = Scenario(name='narrowing', summary='two routes, then one',\n"
        "    steps=(Step('both', ('routes/path-routing.yaml',), (Traffic(path='/echo'),)),\n"
        "           Step('one', ('extra/echo-3.yaml', 'routes/three-way.yaml'), (Traffic(path='/echo'),))))\n",
    )
    plan = make_plan(LabDir(lab_copy.root), "narrowing")
    routes = [s for s in tutorial(plan, Where(), DEFAULT) if s.key == "routes"]
    assert routes[1].shell() == [
        "kubectl --kubeconfig .lab/kubeconfig apply -f manifests/extra/echo-3.yaml",
        "kubectl --kubeconfig .lab/kubeconfig apply -f manifests/routes/three-way.yaml",
        "kubectl --kubeconfig .lab/kubeconfig delete httproute/example-route-2 -n default",
    ]
    assert all("delete" not in line for line in routes[0].shell())
