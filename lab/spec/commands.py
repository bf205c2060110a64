"""The tutorial steps as the exact shell commands a person would type, for `lab plan`.

Commands are argument lists (rendered with shlex for display); nothing here runs them.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lab.spec import pins
from lab.spec.plan import Plan, StepPlan

Argv = tuple[str, ...]


@dataclass(frozen=True)
class CommandStep:
    """One step of the lab: a title, why it is done, and its commands (a pipeline per entry)."""

    stage: str
    title: str
    why: str
    commands: tuple[tuple[Argv, ...], ...]

    def shell(self) -> list[str]:
        """The commands as a person would type them (pipelines joined with |)."""
        return [" | ".join(shlex.join(argv) for argv in pipeline) for pipeline in self.commands]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"stage": self.stage, "title": self.title, "why": self.why, "commands": self.shell()}


def _rel(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def tutorial_steps(plan: Plan, kubeconfig: str = ".lab/kubeconfig") -> list[CommandStep]:
    """The ordered steps equivalent to `lab up` on the kind engine."""
    root = plan.lab_dir.root
    kc = ("--kubeconfig", kubeconfig)
    steps = [
        CommandStep(
            "provision",
            "Create the kind cluster",
            f"one node (kind {pins.KIND_VERSION}, pinned node image) with the gateway's port 8443 "
            "and Consul's 443/8501/8502 mapped to this machine; its kubeconfig stays in .lab/",
            (
                (
                    (
                        "kind",
                        "create",
                        "cluster",
                        "--name",
                        pins.CLUSTER_NAME,
                        "--image",
                        pins.NODE_IMAGE,
                        "--config",
                        _rel(plan.kind_config, root),
                        "--kubeconfig",
                        kubeconfig,
                    ),
                ),
            ),
        ),
        CommandStep(
            "install",
            f"Install the Gateway API {pins.GATEWAY_API_VERSION} and GatewayClassConfig CRDs",
            "the Consul chart ships no CRDs; the API gateway 0.1.0-beta expects Gateway API v1alpha2",
            tuple((("kubectl", *kc, "apply", "-f", crd.url),) for crd in pins.CRD_FILES)
            + (
                (
                    (
                        "kubectl",
                        *kc,
                        "wait",
                        "--for=condition=Established",
                        "--timeout=60s",
                        *(f"crd/{crd.crd_name}" for crd in pins.CRD_FILES),
                    ),
                ),
            ),
        ),
        CommandStep(
            "install",
            f"Install Consul (chart {pins.CHART_NAME} {pins.CHART_VERSION}) with the API gateway",
            "server, connect injector, controller and the API gateway controller, TLS on",
            (
                (
                    (
                        "helm",
                        "install",
                        pins.RELEASE_NAME,
                        pins.CHART_NAME,
                        "--repo",
                        pins.CHART_REPO_URL,
                        "--version",
                        pins.CHART_VERSION,
                        "--values",
                        _rel(plan.values_file, root),
                        "--wait",
                        "--timeout",
                        "10m",
                        *kc,
                    ),
                ),
            ),
        ),
    ]
    step = plan.first
    base = tuple((("kubectl", *kc, "apply", "-f", _rel(f, root)),) for f in plan.base_files)
    gateways = [r for r in step.resources if r.kind == "Gateway"]
    steps.append(
        CommandStep(
            "apply",
            "Apply the services and the Gateway",
            "echo-1, echo-2, frontend and the HashiCups services (mesh-injected), their "
            "ServiceDefaults and intentions, the API gateway RBAC, and the HTTPS Gateway",
            base
            + tuple(
                (
                    (
                        "kubectl",
                        *kc,
                        "wait",
                        "--for=condition=Ready",
                        "--timeout=90s",
                        f"gateway/{gw.name}",
                        "-n",
                        gw.namespace or "default",
                    ),
                )
                for gw in gateways
            ),
        )
    )
    steps.append(route_step(plan, step, kubeconfig))
    steps.append(
        CommandStep(
            "converge",
            "Fetch the cluster's CA so curl can verify the gateway's certificate",
            "consul-server-cert has localhost among its names: verify TLS instead of curl -k",
            (
                (
                    (
                        "kubectl",
                        *kc,
                        "get",
                        "secret",
                        "consul-ca-cert",
                        "-o",
                        "jsonpath={.data.tls\\.crt}",
                    ),
                    ("base64", "-d"),
                    ("tee", ".lab/ca.pem"),
                ),
            ),
        )
    )
    steps.append(drive_step(step))
    return steps


def route_step(plan: Plan, step: StepPlan, kubeconfig: str = ".lab/kubeconfig") -> CommandStep:
    """Apply one scenario step's route manifests."""
    root = plan.lab_dir.root
    label = f" (step {step.step.name})" if len(plan.steps) > 1 else ""
    why = step.step.why or "; ".join(
        f"{t.traffic.path} -> " + ", ".join(f"{k} {v}" for k, v in t.expected.items()) for t in step.traffic
    )
    return CommandStep(
        "apply",
        f"Apply the routes of {plan.scenario.name}{label}",
        why,
        tuple((("kubectl", "--kubeconfig", kubeconfig, "apply", "-f", _rel(f, root)),) for f in step.files),
    )


def drive_step(step: StepPlan, ca_file: str = ".lab/ca.pem") -> CommandStep:
    """Send the step's traffic through the gateway, verifying TLS."""
    return CommandStep(
        "drive",
        "Send traffic through the gateway",
        ", ".join(f"{t.requests} requests to {t.url()}" for t in step.traffic),
        tuple(
            (
                (
                    "curl",
                    "--cacert",
                    ca_file,
                    *(a for k, v in t.traffic.headers.items() for a in ("-H", f"{k}: {v}")),
                    t.url(),
                ),
            )
            for t in step.traffic
        ),
    )
