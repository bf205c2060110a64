"""The tutorial as the exact shell commands a person would type: what `lab plan` and teaching mode print.

One sequence for both: setting the lab up, then for each scenario step its route switch and the
tutorial's curl loop beside the equivalent `lab check`. Commands are argument lists (rendered with
shlex); nothing here runs them. Durations come from the Timeouts table; paths and ports from the lab.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lab.spec import pins
from lab.spec.manifests import Resource
from lab.spec.plan import Plan, StepPlan, TrafficPlan
from lab.timeouts import Timeouts

Argv = tuple[str, ...]

# File names the engines write in the state folder (tests/test_commands.py holds them equal to
# lab/engines/kube/engine.py and lab/engines/local/pki.py).
KUBECONFIG_FILE = "kubeconfig"
CA_FILE = "ca.pem"
KIND_CONFIG_FILE = "kind-cluster.yaml"
DEFAULT_STATE_DIR = ".lab"

# Keys of the steps, so teaching mode and the engines' notes can find them.
CLUSTER, CRDS, CONSUL, CA, SERVICES, ROUTES, TRAFFIC = (
    "cluster", "crds", "consul", "ca", "services", "routes", "traffic"
)  # fmt: skip

# Short names of the steps, for one-line summaries.
SHORT_NAMES = {
    CLUSTER: "kind cluster", CRDS: "CRDs", CONSUL: "Consul (helm)", CA: "CA secret",
    SERVICES: "kubectl apply", ROUTES: "kubectl apply", TRAFFIC: "traffic",
}  # fmt: skip

# The echo server's answer names its pod (`Hostname: echo-1-<hash>-<suffix>`); dropping the two
# generated parts leaves the Deployment, which is the backend in these manifests.
BACKEND_OF_POD = r"s/.*Hostname: ([a-z0-9.-]+)-[a-z0-9]+-[a-z0-9]+.*/\1/p"


@dataclass(frozen=True)
class Command:
    """One command line: a pipeline; with `repeat`, its first `looped` stages run in a for loop."""

    pipeline: tuple[Argv, ...]
    repeat: int = 0
    looped: int = 1

    def shell(self) -> str:
        """As a person would type it."""
        stages = [shlex.join(argv) for argv in self.pipeline]
        if not self.repeat:
            return " | ".join(stages)
        body = " | ".join(stages[: self.looped])
        return " | ".join([f"for i in $(seq {self.repeat}); do {body}; done", *stages[self.looped :]])


@dataclass(frozen=True)
class CommandStep:
    """One step of the lab: a title, why it is done, and its commands.

    `scenario_step` names the scenario step it belongs to; None for setting the lab up.
    """

    key: str
    stage: str
    title: str
    why: str
    commands: tuple[Command, ...]
    scenario_step: str | None = None

    def shell(self) -> list[str]:
        """The commands as a person would type them."""
        return [c.shell() for c in self.commands]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "key": self.key,
            "stage": self.stage,
            "scenario_step": self.scenario_step,
            "title": self.title,
            "why": self.why,
            "commands": self.shell(),
        }


@dataclass(frozen=True)
class Where:
    """The lab the commands are printed for: its state folder (kubeconfig, CA) and local ports."""

    state_dir: str = DEFAULT_STATE_DIR
    # listener port in the manifests -> port on this machine (`--port 8443=9444`)
    ports: tuple[tuple[int, int], ...] = ()
    host: str = "localhost"
    # the state folder is not the default one: `lab` commands need --state-dir
    custom_state: bool = False

    @classmethod
    def of(cls, state_dir: Path, root: Path, ports: Mapping[int, int]) -> Where:
        """The lab with this state folder and port map; paths under `root` are shown relative."""
        custom = state_dir.resolve() != (root / DEFAULT_STATE_DIR).resolve()
        return cls(_rel(state_dir, root), tuple(sorted(ports.items())), custom_state=custom)

    @property
    def kubeconfig(self) -> str:
        """The lab's own kubeconfig (never ~/.kube/config)."""
        return f"{self.state_dir}/{KUBECONFIG_FILE}"

    @property
    def ca_file(self) -> str:
        """The CA bundle that verifies the gateway."""
        return f"{self.state_dir}/{CA_FILE}"

    @property
    def state_option(self) -> Argv:
        """What `lab` commands need to find this lab."""
        return ("--state-dir", self.state_dir) if self.custom_state else ()

    def port(self, listener: int) -> int:
        """The local port serving a listener port."""
        return dict(self.ports).get(listener, listener)


def _rel(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)


def _seconds(value: float) -> str:
    return f"{value:g}s"


def tutorial(
    plan: Plan, where: Where, timeouts: Timeouts, requests: int | None = None, fixed: bool = False
) -> list[CommandStep]:
    """The whole sequence, as `lab up` runs it on the kind engine: set-up, then each scenario step.

    `requests` overrides the planned request count (`--requests`) and `fixed` asks for the fixed-n
    check (`--fixed`), as `lab up` would run them.
    """
    steps = [
        cluster_step(plan, where),
        crds_step(where, timeouts),
        consul_step(plan, where, timeouts),
        ca_step(where),
        services_step(plan, where, timeouts),
    ]
    previous: StepPlan | None = None
    for step in plan.steps:
        steps.append(route_step(plan, step, where, previous))
        steps.append(traffic_step(plan, step, where, requests, fixed))
        previous = step
    return steps


def cluster_step(plan: Plan, where: Where) -> CommandStep:
    """Create the kind cluster (with a remapped copy of its config when --port moves a host port)."""
    config = _rel(plan.kind_config, plan.lab_dir.root)
    moved = [f"{a} -> {b}" for a, b in where.ports if a != b and a in pins.HOST_PORTS]
    why = (
        f"one node (kind {pins.KIND_VERSION}, pinned node image) with the gateway's port 8443 and "
        f"Consul's 443/8501/8502 mapped to this machine; its kubeconfig stays in {where.state_dir}/"
    )
    if moved:
        config = f"{where.state_dir}/{KIND_CONFIG_FILE}"
        why += f"; lab writes {config}, a copy of the kind config with host ports {', '.join(moved)}"
    argv = ("kind", "create", "cluster", "--name", pins.CLUSTER_NAME, "--image", pins.NODE_IMAGE)
    return CommandStep(
        CLUSTER,
        "provision",
        "Create the kind cluster",
        why,
        (Command((argv + ("--config", config, "--kubeconfig", where.kubeconfig),)),),
    )


def _kubectl(where: Where, *args: str) -> Command:
    return Command((("kubectl", "--kubeconfig", where.kubeconfig, *args),))


def crds_step(where: Where, timeouts: Timeouts) -> CommandStep:
    """Install the pinned Gateway API and GatewayClassConfig CRDs and wait until Established."""
    wait = _kubectl(
        where,
        "wait",
        "--for=condition=Established",
        f"--timeout={_seconds(timeouts.crd_established)}",
        *(f"crd/{crd.crd_name}" for crd in pins.CRD_FILES),
    )
    return CommandStep(
        CRDS,
        "install",
        f"Install the Gateway API {pins.GATEWAY_API_VERSION} and GatewayClassConfig CRDs",
        "the Consul chart ships no CRDs; the API gateway 0.1.0-beta expects Gateway API v1alpha2",
        tuple(_kubectl(where, "apply", "-f", crd.url) for crd in pins.CRD_FILES) + (wait,),
    )


def consul_step(plan: Plan, where: Where, timeouts: Timeouts) -> CommandStep:
    """Install the pinned Consul chart with the API gateway."""
    argv = (
        *("helm", "install", pins.RELEASE_NAME, pins.CHART_NAME, "--repo", pins.CHART_REPO_URL),
        *("--version", pins.CHART_VERSION, "--values", _rel(plan.values_file, plan.lab_dir.root)),
        *("--wait", "--timeout", timeouts.helm_install, "--kubeconfig", where.kubeconfig),
    )
    return CommandStep(
        CONSUL,
        "install",
        f"Install Consul (chart {pins.CHART_NAME} {pins.CHART_VERSION}) with the API gateway",
        "server, connect injector, controller and the API gateway controller, TLS on",
        (Command((argv,)),),
    )


def ca_step(where: Where) -> CommandStep:
    """Fetch the CA the chart made, so curl verifies the gateway instead of `curl -k`."""
    get = ("kubectl", "--kubeconfig", where.kubeconfig, "get", "secret", "consul-ca-cert")
    return CommandStep(
        CA,
        "install",
        "Fetch the cluster's CA so curl can verify the gateway's certificate",
        "consul-server-cert has localhost among its names: verify TLS instead of curl -k",
        (Command((get + ("-o", "jsonpath={.data.tls\\.crt}"), ("base64", "-d"), ("tee", where.ca_file))),),
    )


def services_step(plan: Plan, where: Where, timeouts: Timeouts) -> CommandStep:
    """Apply the shared services and the Gateway, and wait until the Gateway is Ready."""
    root = plan.lab_dir.root
    gateways = [r for r in plan.first.resources if r.kind == "Gateway"]
    ready = f"--timeout={_seconds(timeouts.gateway_ready)}"
    return CommandStep(
        SERVICES,
        "apply",
        "Apply the services and the Gateway",
        "echo-1, echo-2, frontend and the HashiCups services (mesh-injected), their "
        "ServiceDefaults and intentions, the API gateway RBAC, and the HTTPS Gateway",
        tuple(_kubectl(where, "apply", "-f", _rel(f, root)) for f in plan.base_files)
        + tuple(
            _kubectl(where, "wait", "--for=condition=Ready", ready, f"gateway/{gw.name}", "-n", _ns(gw))
            for gw in gateways
        ),
    )


def _ns(resource: Resource) -> str:
    return resource.namespace or "default"


def _removed(previous: StepPlan | None, step: StepPlan) -> list[Resource]:
    if previous is None:
        return []
    keep = {(r.kind, _ns(r), r.name) for r in step.resources}
    return [r for r in previous.resources if (r.kind, _ns(r), r.name) not in keep]


def route_step(plan: Plan, step: StepPlan, where: Where, previous: StepPlan | None = None) -> CommandStep:
    """Apply one scenario step's route manifests; delete what the previous step had and this one drops."""
    label = f" (step {step.step.name})" if len(plan.steps) > 1 else ""
    why = step.step.why or "; ".join(
        f"{t.traffic.path} -> " + ", ".join(f"{k} {v}" for k, v in t.expected.items()) for t in step.traffic
    )
    return CommandStep(
        ROUTES,
        "apply",
        f"Apply the routes of {plan.scenario.name}{label}",
        f"{why}; lab then waits until the gateway serves them",
        tuple(_kubectl(where, "apply", "-f", _rel(f, plan.lab_dir.root)) for f in step.files)
        + tuple(
            _kubectl(where, "delete", f"{r.kind.lower()}/{r.name}", "-n", _ns(r))
            for r in _removed(previous, step)
        ),
        scenario_step=step.step.name,
    )


def curl_loop(traffic: TrafficPlan, where: Where, requests: int) -> Command:
    """The tutorial's loop, TLS verified: N requests, the answers counted per backend."""
    headers = dict(traffic.traffic.headers)
    if traffic.traffic.host:
        headers.setdefault("Host", traffic.traffic.host)
    method = () if traffic.traffic.method == "GET" else ("-X", traffic.traffic.method)
    curl = (
        *("curl", "-sS", "--fail", "--cacert", where.ca_file, *method),
        *(a for k, v in headers.items() for a in ("-H", f"{k}: {v}")),
        traffic.url(host=where.host, port=where.port(traffic.port)),
    )
    return Command((curl, ("sed", "-n", "-E", BACKEND_OF_POD), ("sort",), ("uniq", "-c")), repeat=requests)


def traffic_step(
    plan: Plan, step: StepPlan, where: Where, requests: int | None = None, fixed: bool = False
) -> CommandStep:
    """Send the step's traffic with the tutorial's loop, and the `lab check` that judges the same.

    `fixed`: the check is the fixed-n test (`--fixed`), which sends exactly the loop's count.
    """
    multi = len(plan.steps) > 1
    check = (
        *("lab", "check", plan.scenario.name),
        *(("--step-name", step.step.name) if multi else ()),
        *(("--requests", str(requests)) if requests else ()),
        *(("--fixed",) if fixed else ()),
        *where.state_option,
    )
    expected = "; ".join(
        f"{t.traffic.path}: " + ", ".join(f"{k} {v}" for k, v in t.expected.items()) for t in step.traffic
    )
    counts = " and ".join(str(n) for n in dict.fromkeys(requests or t.requests for t in step.traffic))
    judged = (
        f"then `lab check --fixed`: the same {counts} requests, judged against the weights ({expected})"
        if fixed
        else f"then `lab check`: the same requests, judged against the weights ({expected}) as they come; "
        f"it stops as soon as the verdict is clear (`lab check --fixed` sends the loop's {counts})"
    )
    return CommandStep(
        TRAFFIC,
        "drive",
        "Send traffic through the gateway and count who answered",
        "the tutorial's curl loop, TLS verified (curl reports failed requests instead of counting them), "
        + judged,
        tuple(curl_loop(t, where, requests or t.requests) for t in step.traffic) + (Command((check,)),),
        scenario_step=step.step.name,
    )
