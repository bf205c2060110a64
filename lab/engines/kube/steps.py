"""The Kubernetes lab steps the kind and cluster engines share, from the CRDs onward.

CRDs -> Consul (helm) -> manifests -> Gateway -> routes -> CA -> converge probe; each step named
through `progress`, idempotent, and a failure reported with helm's status, pods and events.
"""

from __future__ import annotations

import base64
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ClassVar

import requests

from lab.engines.base import EngineOptions, Journal, Liveness, PortMap, Progress, StatusRow
from lab.engines.kube import doctor, helm, prefetch
from lab.engines.kube.apply import Applier
from lab.engines.kube.client import Kube
from lab.engines.kube.documents import documents, engine_notes, engine_notes_for_route, gateway_ports
from lab.engines.kube.install import Platform
from lab.engines.kube.record import AppliedObject, KubeRecord
from lab.engines.kube.status import condition_true, diagnostics, route_accepted
from lab.engines.kube.tenancy import Tenancy
from lab.engines.kube.waits import Waiter
from lab.errors import EnvironmentNotReady, InvalidInput, LabError, NotConverged
from lab.objects import ObjectKey
from lab.spec import pins
from lab.spec.plan import Plan, StepPlan
from lab.state import LabState
from lab.traffic.attribution import Attributor
from lab.traffic.converge import probe_for, wait_until_serving

Sleep = Callable[[float], None]

KUBECONFIG_FILE = "kubeconfig"
CA_FILE = "ca.pem"
DISCOVERY_CACHE = "kube-discovery.json"
KIND_CONFIG_FILE = "kind-cluster.yaml"


@dataclass(frozen=True)
class Target:
    """Where the lab goes: kubeconfig (None: the default one), context, and the lab's namespace."""

    kubeconfig: Path | None
    context: str | None
    namespace: str
    helm_path: str

    @property
    def helm(self) -> helm.HelmTarget:
        """The same target for helm (Consul lives in the lab's namespace)."""
        return helm.HelmTarget(self.helm_path, self.kubeconfig, self.context, self.namespace)


def record_of(state: LabState) -> KubeRecord:
    """The engine's record in a state (an empty one when there is none yet)."""
    return state.record if isinstance(state.record, KubeRecord) else KubeRecord()


def objects_of(state: LabState) -> dict[str, list[str]]:
    """What the state says was applied: key -> [apiVersion, digest]."""
    return {str(k): [v.api_version, v.digest] for k, v in record_of(state).objects.items()}


def with_objects(record: KubeRecord, objects: Mapping[str, Sequence[str]]) -> KubeRecord:
    """The record with `objects` as what was applied."""
    applied = {ObjectKey.parse(k): AppliedObject(str(v[0]), str(v[1])) for k, v in objects.items()}
    return replace(record, objects=applied)


class KubernetesLab:
    """The steps the kind and cluster engines share, from the CRDs onward."""

    name: ClassVar[str] = ""
    takes_cluster_options: ClassVar[bool] = False

    def private_port_map(self, plan: Plan) -> PortMap:
        """The Gateway's ports are the cluster's (host ports): nothing to remap."""
        return ()

    def alive(self, state: LabState) -> Liveness:
        """Assumed alive: `lab status` asks the cluster (a call per command would be slow)."""
        return Liveness(True)

    def leftovers(self) -> list[str]:
        """Nothing is found without a record: lab never removes a cluster it has no record of."""
        return []

    def __init__(
        self,
        options: EngineOptions,
        *,
        sleep: Sleep = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        cache: Path | None = None,
        gateway_host: str = "localhost",
    ) -> None:
        self.options = options
        self.timeouts = options.timeouts
        self.sleep = sleep
        self.clock = clock
        self.cache, self.cache_reason = (
            (cache, "given") if cache is not None else prefetch.resolve_cache(options.cache_dir, options.state.path)
        )
        self.gateway_host = gateway_host
        self.port_map = dict(options.port_map)

    def refuse_what_consul_never_serves(self, plan: Plan, steps: Sequence[StepPlan]) -> None:
        """InvalidInput (exit 3) for warnings Consul API Gateway 0.1.0 turns into a route it never accepts.

        The embedded engine serves such a plan as the specification says; here the route would stay
        Accepted=False and `lab up` would wait out route_accepted, so it stops before anything is made.
        """
        refused = list(dict.fromkeys(str(w) for step in steps for w in step.warnings if w.consul_refuses))
        if refused:
            raise InvalidInput(
                f"the {self.name} engine cannot run {plan.scenario.name}: Consul API Gateway 0.1.0 never accepts "
                "what these warnings describe (`lab up` would wait for it in vain):\n" + "\n".join(refused),
                fix="fix the manifest as each `kind engine:` line says, or run the scenario on --engine local, "
                "which serves it as the specification says",
            )

    # -- paths in the state folder ---------------------------------------------------------------
    @property
    def state_path(self) -> Path:
        """The state folder."""
        return self.options.state.path

    def waiter(self, progress: Progress) -> Waiter:
        """The engine's waiter: its poll interval, sleep and clock, progress to `progress`."""
        return Waiter(
            self.timeouts.poll_interval,
            progress,
            progress_every=self.timeouts.progress_every,
            sleep=self.sleep,
            clock=self.clock,
        )

    def _connect(self, target: Target) -> Kube:
        return Kube(
            target.kubeconfig,
            context=target.context,
            discovery_cache=self.state_path / DISCOVERY_CACHE,
            request_timeout=self.timeouts.api_request,
        )

    def _platform(self, kube: Kube, target: Target, progress: Progress) -> Platform:
        return Platform(kube, target.helm, self.timeouts, self.waiter(progress), self.cache)

    def _apply(
        self,
        kube: Kube,
        step: StepPlan,
        tenancy: Tenancy,
        progress: Progress,
        previous: Mapping[str, Sequence[str]] | None,
        extra: Sequence[Mapping[str, Any]] = (),
    ) -> dict[str, list[str]]:
        """Apply what differs from `previous` (everything when None); return key -> [apiVersion, digest]."""
        for note in engine_notes(step):
            progress(f"note: {note}")
        applier = Applier(kube, self.timeouts, self.waiter(progress), progress, self.clock)
        return applier.apply_step(documents(step, tenancy, extra), previous)

    def _tenancy(self, state: LabState) -> Tenancy:
        """Whose objects the lab's are (the kind engine's cluster is its own: labels only)."""
        return Tenancy(state.run_id)

    def _own_objects(self, kube: Kube, state: LabState, step: StepPlan) -> list[dict[str, Any]]:
        """Objects the engine adds to a step's (the cluster engine: the attendee's GatewayClass...)."""
        return []

    def _reached(self, state: LabState, step: StepPlan, progress: Progress) -> LabState:
        """The state once the gateway can be reached for `step` (the cluster engine: its port-forward)."""
        return state

    def _fetch_ca(self, kube: Kube, namespace: str) -> Path:
        secret = kube.get("v1", "Secret", pins.CONSUL_CA_SECRET, namespace)
        data = ((secret or {}).get("data") or {}).get("tls.crt")
        if not data:
            raise NotConverged(
                f"secret {namespace}/{pins.CONSUL_CA_SECRET} has no tls.crt; the chart's TLS init did not run",
                fix="check global.tls.enabled in the values file and the consul-tls-init job",
            )
        self.options.state.ensure()
        path = self.state_path / CA_FILE
        path.write_bytes(base64.b64decode(data))
        return path

    def _converge(
        self, step: StepPlan, ports: Mapping[int, int], ca: Path, progress: Progress, host: str | None = None
    ) -> None:
        attributor = Attributor.from_resources(step.resources)
        for t in step.traffic:
            url = t.url(host=host or self.gateway_host, port=ports.get(t.port, t.port))
            progress(f"converge: {url} answers 2xx {self.timeouts.converge_successes} times in a row")
            with requests.Session() as session:
                session.trust_env = False  # the gateway is on this machine: no proxy from HTTPS_PROXY
                wait_until_serving(
                    probe_for(t, url, str(ca), attributor),
                    self.timeouts,
                    sleep=self.sleep,
                    clock=self.clock,
                    session=session,
                    on_progress=self.waiter(progress).reporter(),
                )

    def _diagnosed_namespace(self, state: LabState, target: Target) -> str:
        """Whose pods and events a failed switch lists (the kind engine: the lab's Consul namespace)."""
        return target.namespace

    def _diagnose(
        self, error: Exception, stage: str, kube: Kube | None, target: Target | None, namespace: str | None = None
    ) -> LabError:
        """The error, helm's status of the release in `target`, the pods and events of `namespace` (None: target's)."""
        lines = [f"diagnostics after step {stage!r} failed:"]
        if target is not None:
            lines.append("  " + helm.status(target.helm, self.timeouts))
        lines += ["  " + line for line in diagnostics(kube, namespace or (target.namespace if target else None))]
        text = "\n".join(lines)
        if isinstance(error, NotConverged):
            return type(error)(f"{stage}: {error.message}\n{text}", fix=error.fix)
        return NotConverged(f"{stage}: {type(error).__name__}: {error}\n{text}")

    def _install_and_apply(
        self,
        start: LabState,
        plan: Plan,
        step: StepPlan,
        target: Target,
        progress: Progress,
        journal: Journal,
    ) -> LabState:
        ctx: dict[str, Any] = {"stage": "connect"}
        kube: Kube | None = None
        try:
            kube = self._connect(target)
            record = replace(record_of(start), release=pins.RELEASE_NAME, release_namespace=target.namespace)
            journal(replace(start, record=record))
            ctx["stage"] = "crds"
            platform = self._platform(kube, target, progress)
            platform.install_crds(progress)
            ctx["stage"] = "consul"
            platform.install_consul(dict(plan.values), progress)
            ctx["stage"] = "apply"
            objects = self._apply(kube, step, self._tenancy(start), progress, None)
            ctx["stage"] = "ca"
            ca = self._fetch_ca(kube, target.namespace)
            ctx["stage"] = "converge"
            ports = self._ports(step)
            self._converge(step, ports, ca, progress)
        except (EnvironmentNotReady, KeyboardInterrupt):
            raise
        except Exception as exc:
            raise self._diagnose(exc, str(ctx["stage"]), kube, target) from exc
        return replace(
            start,
            gateway_host=self.gateway_host,
            ports=ports,
            ca_file=str(ca),
            files=tuple(str(f) for f in (*plan.base_files, *step.files)),
            applied=tuple(ObjectKey.parse(k) for k in objects),
            record=with_objects(record, objects),
        )

    def _ports(self, step: StepPlan) -> dict[int, int]:
        return gateway_ports(step, self.port_map)

    def _target_from_state(self, state: LabState) -> Target:
        helm_path = shutil.which("helm")
        if helm_path is None:
            raise EnvironmentNotReady("helm is not on PATH", fix=doctor.install_command("helm"))
        record = record_of(state)
        return Target(
            Path(record.kubeconfig) if record.kubeconfig else None,
            record.context,
            record.namespace,
            helm_path,
        )

    # -- the protocol methods shared by both engines ------------------------------------------------
    def switch(
        self, state: LabState, plan: Plan, step: StepPlan, progress: Progress, journal: Journal
    ) -> LabState:
        """Apply only what differs for `step` (deleting what it no longer has) and wait until live."""
        self.refuse_what_consul_never_serves(plan, [step])
        target = self._target_from_state(state)
        previous = objects_of(state)
        stage = "connect"
        kube: Kube | None = None
        try:
            kube = self._connect(target)
            stage = "switch"
            progress(f"switch: {state.step} -> {step.step.name}")
            extra = self._own_objects(kube, state, step)
            objects = self._apply(kube, step, self._tenancy(state), progress, previous, extra)
            stage = "converge"
            state = self._reached(state, step, progress)
            ports = dict(state.ports) or self._ports(step)
            self._converge(step, ports, Path(state.ca_file), progress, state.gateway_host)
        except (EnvironmentNotReady, KeyboardInterrupt):
            raise
        except Exception as exc:
            raise self._diagnose(exc, stage, kube, target, self._diagnosed_namespace(state, target)) from exc
        return replace(
            state,
            scenario=plan.scenario.name,
            step=step.step.name,
            files=tuple(str(f) for f in (*plan.base_files, *step.files)),
            applied=tuple(ObjectKey.parse(k) for k in objects),
            record=with_objects(record_of(state), objects),
        )

    def _lab_rows(self, state: LabState, target: Target) -> list[StatusRow]:
        rows = [
            StatusRow("Consul", "ok" if "deployed" in (line := helm.status(target.helm, self.timeouts)) else "problem", line)
        ]
        try:
            kube = self._connect(target)
        except LabError as exc:
            return [*rows, StatusRow("API server", "down", exc.message)]
        return rows + self._object_rows(state, kube)

    def _object_rows(self, state: LabState, kube: Kube) -> list[StatusRow]:
        """The Gateway's Ready and each route's Accepted condition, as the cluster says now."""
        rows = []
        for text, (api_version, _) in objects_of(state).items():
            key = ObjectKey.parse(text)
            if key.kind not in ("Gateway", "HTTPRoute"):
                continue
            try:
                obj = kube.get(api_version, key.kind, key.name, key.namespace or None)
                ok, seen = condition_true(obj, "Ready") if key.kind == "Gateway" else route_accepted(obj)
                if key.kind == "HTTPRoute":
                    seen += "".join(f"; note: {n}" for n in engine_notes_for_route(obj or {}))
            except Exception as exc:
                ok, seen = False, f"{type(exc).__name__}: {exc}"
            rows.append(StatusRow(key.display(), "ok" if ok else "problem", seen))
        return rows


def clear_state(engine: KubernetesLab) -> LabError | None:
    """Remove the files the engine keeps in the state folder (state.json is lifecycle's); the first error."""
    first: LabError | None = None
    for name in (KUBECONFIG_FILE, CA_FILE, DISCOVERY_CACHE, KIND_CONFIG_FILE):
        try:
            (engine.state_path / name).unlink(missing_ok=True)
        except OSError as exc:
            first = first or NotConverged(f"cannot remove {engine.state_path / name}: {exc}")
    # pytest-kind's work folder (KindCluster makes ./.pytest-kind/<name>; the kind engine runs it here)
    shutil.rmtree(engine.state_path / ".pytest-kind", ignore_errors=True)
    return first
