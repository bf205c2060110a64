"""The plan stage: load a scenario, merge base and scenario manifests, validate, derive the split.

`make_plan` has no side effects; its result is immutable and is all the later stages need.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from lab.errors import InvalidInput, ManifestError
from lab.spec import pins, registry
from lab.spec.conditions import serves
from lab.spec.findings import Finding, findings
from lab.spec.manifests import Resource, duplicates, load, manifest_files
from lab.spec.registry import LabDir
from lab.spec.routing import Request, Rule
from lab.spec.scenario import Scenario, Step, Traffic
from lab.spec.topology import Listener, Topology
from lab.spec.validation import InvalidPlan, validate
from lab.stats.power import required_sample_size
from lab.stats.verdict import DEFAULT_ALPHA

# The planner's power and alpha for a scenario's default request count (lab.stats.power).
PLANNED_POWER = 0.95
PLANNED_ALPHA = DEFAULT_ALPHA


@dataclass(frozen=True)
class TrafficPlan:
    """One traffic class, resolved: the listener it enters, the rule it selects, the expected split."""

    traffic: Traffic
    listener: Listener
    expected: Mapping[str, int]
    requests: int
    rule: Rule | None
    # weighted backends the controller drops (an unresolved backendRef): they answer 503 for their
    # share, so the check fails naming the finding (lab.stats.unanswerable)
    unanswerable: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def port(self) -> int:
        """The listener port the requests go to."""
        return self.listener.port

    @property
    def scheme(self) -> str:
        """Https for HTTPS/TLS listeners, otherwise http."""
        return "https" if self.listener.protocol in ("HTTPS", "TLS") else "http"

    def url(self, host: str = "localhost", port: int | None = None) -> str:
        """The URL a person would curl for this traffic."""
        return f"{self.scheme}://{host}:{port or self.port}{self.traffic.path}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "name": self.traffic.name,
            "method": self.traffic.method,
            "path": self.traffic.path,
            "host": self.traffic.host,
            "headers": dict(self.traffic.headers),
            "url": self.url(),
            "listener": str(self.listener.id),
            "route": str(self.rule.route) if self.rule else None,
            "rule": self.rule.index if self.rule else None,
            "expected_weights": dict(self.expected),
            "unanswerable": dict(self.unanswerable),
            "requests": self.requests,
        }


@dataclass(frozen=True)
class StepPlan:
    """One step: the full desired set of resources (base + the step's manifests) and its traffic."""

    step: Step
    files: tuple[Path, ...]
    resources: tuple[Resource, ...]
    traffic: tuple[TrafficPlan, ...]
    # what Kubernetes accepts and the controller flags (lab.spec.findings): warnings
    warnings: tuple[Finding, ...] = ()

    @property
    def topology(self) -> Topology:
        """Lookups over this step's resources."""
        return Topology(self.resources)


@dataclass(frozen=True)
class Plan:
    """Everything a run needs, validated: scenario, files, resources, expected splits, pins."""

    scenario: Scenario
    lab_dir: LabDir
    base_files: tuple[Path, ...]
    steps: tuple[StepPlan, ...]
    values_file: Path
    kind_config: Path
    values: Mapping[str, Any] = field(default_factory=dict)

    @property
    def first(self) -> StepPlan:
        """The first step (the only one for single-step scenarios)."""
        return self.steps[0]


def _resolve(lab_dir: LabDir, entry: str) -> Path:
    path = lab_dir.manifests / entry
    if not path.exists():
        raise ManifestError(
            f"manifest {entry!r} does not exist under {lab_dir.manifests}",
            file=path,
            fix="fix the scenario's manifests list (paths are relative to manifests/)",
        )
    return path


def _first_http_listener(topo: Topology) -> Listener:
    """Scenario traffic enters the first HTTP/HTTPS listener the lab's controller serves."""
    listeners = [lst for lst in topo.listeners() if serves(topo, lst)]
    if not listeners:
        why = [str(f) for f in findings(topo.resources) if f.resource.kind == "Gateway"]
        raise InvalidInput(
            "the lab has no Gateway of class consul-api-gateway with a ready HTTP or HTTPS listener "
            "to send traffic to" + "".join(f"\n  {line}" for w in why for line in w.splitlines()),
            fix="make a Gateway gatewayClassName: consul-api-gateway with a listener that serves "
            "(HTTPS: certificateRefs [{name: consul-server-cert}])",
        )
    return listeners[0]


def _unjudgeable(rule: Rule) -> str | None:
    """Why a rule's split cannot be judged: a redirect, or no weighted backend that can answer."""
    if any(f.get("type") == "RequestRedirect" for f in rule.filters):
        return "is a redirect, which has no backend split to judge"
    if rule.total_weight == 0:
        return "has no backend with a positive weight, so every request would get 503"
    if not any(b.problem is None and b.weight > 0 for b in rule.backends):
        return "sends every request to backends the controller drops, so every request would get 503"
    half = sorted({b.key for b in rule.backends if b.weight > 0 and b.problem is not None} & set(_answering(rule)))
    if half:
        # a Service named by a valid and a dropped backendRef: its answers cannot be told apart
        return f"sends weight to {', '.join(half)} through both a valid and a dropped backendRef"
    return None


def _answering(rule: Rule) -> dict[str, int]:
    """The weighted backends the controller keeps, by key."""
    return {b.key: b.weight for b in rule.backends if b.problem is None and b.weight > 0}


def unanswerable(rule: Rule) -> dict[str, str]:
    """Weighted backends the controller drops (they answer 503), each with its status condition."""
    return {
        b.key: f"ResolvedRefs=False ({b.problem.reason})"
        for b in rule.backends
        if b.problem is not None and b.weight > 0
    }


def resolve_traffic(topo: Topology, traffic: Traffic, where: str) -> TrafficPlan:
    """Which rule the traffic selects and the split it should therefore see."""
    listener = _first_http_listener(topo)
    request = Request.from_target(
        traffic.path,
        method=traffic.method,
        host=traffic.host or "localhost",
        headers=traffic.headers,
    )
    selection = topo.route_table(listener).select(request)
    rule = selection.rule if selection else None
    if traffic.expect is not None:
        expected = dict(traffic.expect)
    elif rule is None:
        raise InvalidInput(
            f"{where}: traffic {traffic.method} {traffic.path} matches no route on listener "
            f"{listener.id}, so every request would get 404",
            fix="fix the traffic path or add a route rule that matches it",
        )
    elif (why := _unjudgeable(rule)) is not None:
        raise InvalidInput(
            f"{where}: traffic {traffic.path} selects {rule.route} rule {rule.index}, which {why}",
            fix="fix the reference `lab validate` warns about, or judge a path whose backends are all valid",
        )
    else:
        expected = rule.expected_weights()
    dropped = unanswerable(rule) if rule is not None and traffic.expect is None else {}
    bad = {k: v for k, v in expected.items() if not isinstance(v, int) or v < 0}
    if bad or not any(expected.values()):
        raise InvalidInput(f"{where}: expected weights {expected} must be whole numbers >= 0, not all 0")
    requests = traffic.requests
    if requests is None:
        requests = required_sample_size(
            dict(expected), detect=traffic.detect, power=PLANNED_POWER, alpha=PLANNED_ALPHA
        )
    if requests <= 0:
        raise InvalidInput(f"{where}: requests is {requests}; it must be positive")
    return TrafficPlan(
        traffic=traffic,
        listener=listener,
        expected=MappingProxyType(dict(expected)),
        requests=requests,
        rule=rule,
        unanswerable=MappingProxyType(dropped),
    )


def _load_values(path: Path) -> Mapping[str, Any]:
    if not path.is_file():
        raise InvalidInput(
            f"{path}: helm values file for chart {pins.CHART_VERSION} is missing",
            fix=f"add charts-values/{pins.VALUES_FILE}",
        )
    try:
        values = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ManifestError(
            f"YAML syntax error: {getattr(exc, 'problem', exc)}",
            file=path,
            line=mark.line + 1 if mark else None,
        ) from exc
    if not isinstance(values, dict):
        raise ManifestError("helm values must be a mapping", file=path)
    gateway = values.get("apiGateway") or {}
    if gateway.get("enabled") and gateway.get("image") != pins.API_GATEWAY_IMAGE:
        raise ManifestError(
            f"is {gateway.get('image')!r}; lab pins {pins.API_GATEWAY_IMAGE}",
            file=path,
            field="apiGateway.image",
            fix=f"set apiGateway.image: {pins.API_GATEWAY_IMAGE} (the chart fails without it)",
        )
    if (values.get("client") or {}).get("grpc") is False:
        raise ManifestError(
            "must stay true: the API gateway needs the client's gRPC port",
            file=path,
            field="client.grpc",
        )
    return values


def plan_traffic(
    topo: Topology, traffic: Iterable[Traffic], where: str, judged: bool = True
) -> tuple[TrafficPlan, ...]:
    """Plan traffic classes; unjudged (`lab apply`, `lab traffic`) leaves out those it cannot plan.

    What Kubernetes accepts is applied and judged even when it breaks a split (a ReferencePolicy
    removed, a backendRef to a missing Service): the dropped backends are declared unanswerable
    and the check fails naming them. Only a split with nothing to judge (a redirect, every
    weighted backend dropped) is refused.
    """
    if judged:
        return tuple(resolve_traffic(topo, t, where) for t in traffic)
    out = []
    for t in traffic:
        try:
            out.append(resolve_traffic(topo, t, where))
        except InvalidInput:
            continue
    return tuple(out)


def plan_scenario(lab_dir: LabDir, scenario: Scenario, judged: bool = True) -> Plan:
    """Merge, validate and resolve one scenario. Raises InvalidInput subclasses; no side effects.

    `judged=False` plans for a running lab: traffic classes that could not be judged are left out.
    """
    base_files = tuple(f for entry in scenario.base for f in manifest_files(_resolve(lab_dir, entry)))
    base = load(base_files)
    steps = []
    errors: list[ManifestError] = []
    for step in scenario.all_steps:
        files = tuple(f for entry in step.manifests for f in manifest_files(_resolve(lab_dir, entry)))
        resources = base + load(files)
        found = duplicates(resources) + validate(resources)
        step_errors = [e for e in found if str(e) not in {str(x) for x in errors}]
        errors.extend(step_errors)
        if step_errors:
            continue
        topo = Topology(resources)
        where = f"scenario {scenario.name}" + (f" step {step.name}" if scenario.steps else "")
        traffic = plan_traffic(topo, step.traffic, where, judged)
        steps.append(StepPlan(step, files, topo.resources, traffic, tuple(findings(topo.resources))))
    if errors:
        raise InvalidPlan(errors)
    values_file = lab_dir.charts_values / pins.VALUES_FILE
    kind_config = lab_dir.manifests / "kind" / "cluster.yaml"
    if not kind_config.is_file():
        raise InvalidInput(f"{kind_config}: the kind cluster config is missing")
    return Plan(
        scenario=scenario,
        lab_dir=lab_dir,
        base_files=base_files,
        steps=tuple(steps),
        values_file=values_file,
        kind_config=kind_config,
        values=_load_values(values_file),
    )


def make_plan(lab_dir: LabDir, name: str, judged: bool = True) -> Plan:
    """Plan the scenario called `name` from a lab folder (`judged`: see plan_scenario)."""
    return plan_scenario(lab_dir, registry.get(lab_dir, name).scenario, judged)
