"""From an echo server's `Hostname:` line back to the Service that answered."""

from __future__ import annotations

from pathlib import Path

from lab.spec.plan import make_plan
from lab.spec.registry import LabDir
from lab.traffic.attribution import Attributor, deployment_of, pod_from_body

ROOT = Path(__file__).resolve().parent.parent

ECHO_BODY = b"""

Hostname: echo-2-7c9d8b6f5-x2x7q

Pod Information:
\tnode name:\tlab-control-plane
\tpod name:\techo-2-7c9d8b6f5-x2x7q
\tpod namespace:\tdefault
"""


def test_pod_and_namespace_from_echoserver_output() -> None:
    assert pod_from_body(ECHO_BODY) == ("echo-2-7c9d8b6f5-x2x7q", "default")
    assert pod_from_body(b"<html>frontend</html>") is None


def test_deployment_of_strips_replicaset_and_pod_hashes() -> None:
    assert deployment_of("echo-1-5d8f7c9b4-x2x7q") == "echo-1"
    assert deployment_of("team-echo-5d8f7c9b4-abcde") == "team-echo"
    assert deployment_of("standalone") == "standalone"


def test_services_selecting_the_deployment_and_namespaced_keys() -> None:
    plan = make_plan(LabDir(ROOT), "cross-namespace")
    attributor = Attributor.from_resources(plan.first.resources)
    assert attributor.from_body(ECHO_BODY) == ("echo-2", "echo-2-7c9d8b6f5-x2x7q")
    assert attributor.service("team-echo-5d8f7c9b4-abcde") == "team-a/team-echo"
    assert attributor.service("team-echo-5d8f7c9b4-abcde", "team-a") == "team-a/team-echo"
    assert attributor.service("unknown-5d8f7c9b4-abcde") is None


def test_a_service_selects_pods_by_every_selector_label_and_an_empty_selector_selects_none() -> None:
    from lab.spec.selectors import selects

    assert selects({"app": "echo-1"}, {"app": "echo-1", "tier": "web"})
    assert not selects({"app": "echo-1", "tier": "db"}, {"app": "echo-1", "tier": "web"})
    assert not selects({}, {"app": "echo-1"}) and not selects(None, {"app": "echo-1"})


def test_a_deployment_name_in_two_namespaces_is_told_apart_by_the_printed_namespace() -> None:
    attributor = Attributor({("default", "echo-1"): "echo-1", ("team-a", "echo-1"): "team-a/echo-1"})
    team = ECHO_BODY.replace(b"echo-2", b"echo-1").replace(b"namespace:\tdefault", b"namespace:\tteam-a")
    assert attributor.from_body(team) == ("team-a/echo-1", "echo-1-7c9d8b6f5-x2x7q")
    assert attributor.from_body(ECHO_BODY.replace(b"echo-2", b"echo-1")) == ("echo-1", "echo-1-7c9d8b6f5-x2x7q")
    # no namespace printed: the name alone is ambiguous here, so no Service is guessed
    assert attributor.from_body(b"Hostname: echo-1-7c9d8b6f5-x2x7q\n") == (None, "echo-1-7c9d8b6f5-x2x7q")
