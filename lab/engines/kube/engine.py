"""The kind engine (pinned kind cluster, Consul 0.40.0, API gateway) and the cluster engine.

The cluster engine is the same lab on an existing kubeconfig context, in its own namespace, with no
cluster lifecycle.

Steps, each named through `progress` and idempotent: preflight (tools, Docker) -> cluster -> images
(from the prefetch cache) -> CRDs -> Consul (helm) -> manifests -> Gateway -> routes -> CA -> probe.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ClassVar

import yaml

from lab.engines.base import EngineOptions, Journal, Liveness, PortMap, Progress, StatusRow
from lab.engines.kube import crds, doctor, helm, prefetch
from lab.engines.kube.client import (
    Condition,
    Kube,
    condition_true,
    diagnostics,
    digest,
    object_key,
    pods_ready,
    route_accepted,
    wait_for,
)
from lab.engines.kube.record import AppliedObject, KubeRecord
from lab.errors import EnvironmentNotReady, LabError, NotConverged
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
KIND_CONTEXT = f"kind-{pins.CLUSTER_NAME}"
GATEWAY_API = "gateway.networking.k8s.io"
ROUTE_KINDS = frozenset({"HTTPRoute", "TCPRoute", "TLSRoute", "UDPRoute"})
# Apply order inside the base phase (kubectl apply -f DIR order would be by file name; this order
# never applies a Deployment before its ServiceAccount or a binding before its role).
KIND_ORDER = (
    "Namespace",
    "CustomResourceDefinition",
    "ServiceAccount",
    "ClusterRole",
    "ClusterRoleBinding",
    "Role",
    "RoleBinding",
    "Secret",
    "ConfigMap",
    "Service",
    "Deployment",
    "StatefulSet",
)


def phase_of(kind: str) -> int:
    """0: base resources, 1: Gateways, 2: routes (applied after the Gateway is Ready)."""
    if kind in ROUTE_KINDS:
        return 2
    return 1 if kind == "Gateway" else 0


def _rewrite_namespace(value: Any, namespace: str) -> Any:
    if isinstance(value, Mapping):
        return {
            k: (namespace if k == "namespace" and v == "default" else _rewrite_namespace(v, namespace))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_rewrite_namespace(v, namespace) for v in value]
    return value


def documents(step: StepPlan, namespace: str = "default") -> list[dict[str, Any]]:
    """The step's resources as apply bodies, in apply order; `default` rewritten to `namespace`."""
    docs: list[dict[str, Any]] = []
    for res in step.resources:
        body = copy.deepcopy(dict(res.body))
        if res.namespace is not None:
            body.setdefault("metadata", {})["namespace"] = res.namespace
        if namespace != "default":
            body = _rewrite_namespace(body, namespace)
        docs.append(body)
    if namespace != "default":
        docs.insert(0, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})

    def order(doc: dict[str, Any]) -> tuple[int, int]:
        kind = str(doc["kind"])
        return phase_of(kind), KIND_ORDER.index(kind) if kind in KIND_ORDER else len(KIND_ORDER)

    return sorted(docs, key=order)


def pod_backends(step: StepPlan) -> dict[str, str]:
    """Deployment name -> the Service that selects its pods (for `Hostname: <pod>` attribution)."""
    services = [r for r in step.resources if r.kind == "Service"]
    out: dict[str, str] = {}
    for dep in (r for r in step.resources if r.kind == "Deployment"):
        labels = ((dep.spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
        for svc in services:
            selector = svc.spec.get("selector") or {}
            if (
                selector
                and svc.namespace == dep.namespace
                and all(labels.get(k) == v for k, v in selector.items())
            ):
                out[dep.name] = svc.name
                break
    return out


def service_for_pod(hostname: str, backends: Mapping[str, str]) -> str | None:
    """The Service behind a pod name `<deployment>-<replicaset hash>-<pod suffix>` (None if unknown)."""
    parts = hostname.strip().split("-")
    if len(parts) < 3:
        return None
    return backends.get("-".join(parts[:-2]))


def gateway_ports(step: StepPlan, port_map: Mapping[int, int]) -> dict[int, int]:
    """Listener port -> local port for every Gateway listener of the step."""
    ports: dict[int, int] = {}
    for res in step.resources:
        if res.kind == "Gateway":
            for listener in res.spec.get("listeners") or []:
                port = int(listener["port"])
                ports[port] = port_map.get(port, port)
    return ports


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


def _record(state: LabState) -> KubeRecord:
    return state.record if isinstance(state.record, KubeRecord) else KubeRecord()


def _objects(state: LabState) -> dict[str, list[str]]:
    return {str(k): [v.api_version, v.digest] for k, v in _record(state).objects.items()}


def _with_objects(record: KubeRecord, objects: Mapping[str, Sequence[str]]) -> KubeRecord:
    applied = {ObjectKey.parse(k): AppliedObject(str(v[0]), str(v[1])) for k, v in objects.items()}
    return replace(record, objects=applied)


class _KubernetesLab:
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
        cache: Path | None = None,
        gateway_host: str = "localhost",
    ) -> None:
        self.options = options
        self.timeouts = options.timeouts
        self.sleep = sleep
        self.cache = cache if cache is not None else prefetch.cache_dir()
        self.gateway_host = gateway_host
        self.port_map = dict(options.port_map)

    # -- paths in the state folder ---------------------------------------------------------------
    @property
    def state_path(self) -> Path:
        """The state folder."""
        return self.options.state.path

    def _wait(
        self, name: str, description: str, timeout: float, check: Callable[[], tuple[bool, str]]
    ) -> None:
        wait_for(
            Condition(name, description, timeout, check),
            poll_interval=self.timeouts.poll_interval,
            sleep=self.sleep,
        )

    def _connect(self, target: Target) -> Kube:
        return Kube(
            target.kubeconfig, context=target.context, discovery_cache=self.state_path / DISCOVERY_CACHE
        )

    # -- install ----------------------------------------------------------------------------------
    def _install_crds(self, kube: Kube, progress: Progress) -> None:
        files = crds.all_files()
        progress(f"crds: Gateway API {pins.GATEWAY_API_VERSION} and GatewayClassConfig ({len(files)} files)")
        names = []
        for crd in files:
            data = crds.load(crd, cache=self.cache, timeout=self.timeouts.download)
            for doc in crds.documents(crd, data):
                kube.apply(doc)
                names.append(str(doc["metadata"]["name"]))
        for name in names:

            def established(name: str = name) -> tuple[bool, str]:
                obj = kube.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", name)
                return condition_true(obj, "Established")

            self._wait(
                "CRDsMustBeEstablished", f"CRD {name} Established", self.timeouts.crd_established, established
            )

    def _install_consul(self, kube: Kube, target: Target, plan: Plan, progress: Progress) -> str:
        archive = helm.cached_chart(self.cache)
        where = f"cached {archive.name}" if archive else pins.CHART_REPO_URL
        progress(f"consul: helm chart {pins.CHART_NAME} {pins.CHART_VERSION} from {where} (--wait)")
        outcome, revision = helm.install(
            target.helm, plan.values, timeout=self.timeouts.helm_install, chart_archive=archive
        )
        progress(f"consul: release {pins.RELEASE_NAME} {outcome} (revision {revision}); waiting for pods")
        for what, selector in pins.CONSUL_POD_SELECTORS.items():

            def ready(selector: str = selector) -> tuple[bool, str]:
                return pods_ready(kube.list("v1", "Pod", target.namespace, label_selector=selector))

            self._wait(
                "ConsulPodsMustBeReady", f"{what} pods ({selector}) Ready", self.timeouts.consul_ready, ready
            )

        def accepted() -> tuple[bool, str]:
            return condition_true(
                kube.get(f"{GATEWAY_API}/v1alpha2", "GatewayClass", pins.GATEWAY_CLASS), "Accepted"
            )

        self._wait(
            "GatewayClassMustBeAccepted",
            f"GatewayClass {pins.GATEWAY_CLASS} Accepted",
            self.timeouts.gateway_class_accepted,
            accepted,
        )
        return outcome

    # -- apply ------------------------------------------------------------------------------------
    def _apply(
        self,
        kube: Kube,
        step: StepPlan,
        target: Target,
        progress: Progress,
        previous: Mapping[str, Sequence[str]] | None,
    ) -> dict[str, list[str]]:
        """Apply what differs from `previous` (everything when None); return key -> [apiVersion, digest]."""
        docs = documents(step, target.namespace)
        objects = {object_key(d): [str(d["apiVersion"]), digest(d)] for d in docs}
        changed = [
            d
            for d in docs
            if previous is None or list(previous.get(object_key(d)) or []) != objects[object_key(d)]
        ]
        by_phase = {p: [d for d in changed if phase_of(str(d["kind"])) == p] for p in (0, 1, 2)}
        if by_phase[0]:
            progress(
                f"manifests: server-side apply of {len(by_phase[0])} objects (services, intentions, RBAC)"
            )
            for doc in by_phase[0]:
                kube.apply(doc)
        gateways = [d for d in docs if d["kind"] == "Gateway"]
        if by_phase[1]:
            progress("gateway: " + ", ".join(str(d["metadata"]["name"]) for d in by_phase[1]))
            for doc in by_phase[1]:
                kube.apply(doc)
            for gw in gateways:
                name, ns = str(gw["metadata"]["name"]), str(gw["metadata"]["namespace"])

                def ready(
                    name: str = name, ns: str = ns, api: str = str(gw["apiVersion"])
                ) -> tuple[bool, str]:
                    return condition_true(kube.get(api, "Gateway", name, ns), "Ready")

                self._wait(
                    "GatewayMustBeReady", f"Gateway {ns}/{name} Ready", self.timeouts.gateway_ready, ready
                )
        if by_phase[2]:
            progress("routes: " + ", ".join(str(d["metadata"]["name"]) for d in by_phase[2]))
            for doc in by_phase[2]:
                kube.apply(doc)
        if previous is not None:
            gone = [k for k in previous if k not in objects]
            for key in reversed(gone):
                _, kind, ns, name = key.split("/", 3)
                progress(f"routes: deleting {kind} {ns}/{name} (no longer in the step)")
                kube.delete(str(previous[key][0]), kind, name, ns or None)
        for route in (d for d in docs if d["kind"] == "HTTPRoute"):
            name, ns = str(route["metadata"]["name"]), str(route["metadata"]["namespace"])

            def accepted(
                name: str = name, ns: str = ns, api: str = str(route["apiVersion"])
            ) -> tuple[bool, str]:
                return route_accepted(kube.get(api, "HTTPRoute", name, ns))

            self._wait(
                "HTTPRouteMustBeAccepted",
                f"HTTPRoute {ns}/{name} Accepted (current generation)",
                self.timeouts.route_accepted,
                accepted,
            )
        return objects

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

    def _converge(self, step: StepPlan, ports: Mapping[int, int], ca: Path, progress: Progress) -> None:
        attributor = Attributor.from_resources(step.resources)
        for t in step.traffic:
            url = t.url(host=self.gateway_host, port=ports.get(t.port, t.port))
            progress(f"converge: {url} answers 2xx {self.timeouts.converge_successes} times in a row")
            wait_until_serving(probe_for(t, url, str(ca), attributor), self.timeouts, sleep=self.sleep)

    def _diagnose(self, error: Exception, stage: str, kube: Kube | None, target: Target | None) -> LabError:
        lines = [f"diagnostics after step {stage!r} failed:"]
        if target is not None:
            lines.append("  " + helm.status(target.helm))
        lines += ["  " + line for line in diagnostics(kube, target.namespace if target else None)]
        text = "\n".join(lines)
        if isinstance(error, NotConverged):
            return type(error)(f"{stage}: {error.message}\n{text}", fix=error.fix)
        return NotConverged(f"{stage}: {type(error).__name__}: {error}\n{text}")

    @contextlib.contextmanager
    def _stage(self, holder: dict[str, Any], stage: str) -> Iterator[None]:
        holder["stage"] = stage
        yield

    def _install_and_apply(
        self, start: LabState, plan: Plan, step: StepPlan, target: Target, progress: Progress, journal: Journal
    ) -> LabState:
        ctx: dict[str, Any] = {"stage": "connect"}
        kube: Kube | None = None
        try:
            kube = self._connect(target)
            record = replace(_record(start), release=pins.RELEASE_NAME, release_namespace=target.namespace)
            journal(replace(start, record=record))
            ctx["stage"] = "crds"
            self._install_crds(kube, progress)
            ctx["stage"] = "consul"
            self._install_consul(kube, target, plan, progress)
            ctx["stage"] = "apply"
            objects = self._apply(kube, step, target, progress, None)
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
            record=_with_objects(record, objects),
        )

    def _ports(self, step: StepPlan) -> dict[int, int]:
        return gateway_ports(step, self.port_map)

    def _target_from_state(self, state: LabState) -> Target:
        helm_path = shutil.which("helm")
        if helm_path is None:
            raise EnvironmentNotReady("helm is not on PATH", fix=doctor.install_command("helm"))
        record = _record(state)
        return Target(
            Path(record.kubeconfig) if record.kubeconfig else None,
            record.context,
            record.namespace,
            helm_path,
        )

    # -- the protocol methods shared by both engines ------------------------------------------------
    def switch(self, state: LabState, plan: Plan, step: StepPlan, progress: Progress, journal: Journal) -> LabState:
        """Apply only what differs for `step` (deleting what it no longer has) and wait until live."""
        target = self._target_from_state(state)
        previous = _objects(state)
        stage = "connect"
        kube: Kube | None = None
        try:
            kube = self._connect(target)
            stage = "switch"
            progress(f"switch: {state.step} -> {step.step.name}")
            objects = self._apply(kube, step, target, progress, previous)
            stage = "converge"
            ports = dict(state.ports) or self._ports(step)
            self._converge(step, ports, Path(state.ca_file), progress)
        except (EnvironmentNotReady, KeyboardInterrupt):
            raise
        except Exception as exc:
            raise self._diagnose(exc, stage, kube, target) from exc
        return replace(
            state,
            scenario=plan.scenario.name,
            step=step.step.name,
            files=tuple(str(f) for f in (*plan.base_files, *step.files)),
            applied=tuple(ObjectKey.parse(k) for k in objects),
            record=_with_objects(_record(state), objects),
        )

    def _lab_rows(self, state: LabState, target: Target) -> list[StatusRow]:
        rows = [
            StatusRow("Consul", "ok" if "deployed" in (line := helm.status(target.helm)) else "problem", line)
        ]
        try:
            kube = self._connect(target)
        except LabError as exc:
            return [*rows, StatusRow("API server", "down", exc.message)]
        objects = _objects(state)
        for key, (api_version, _) in objects.items():
            _, kind, ns, name = key.split("/", 3)
            if kind not in ("Gateway", "HTTPRoute"):
                continue
            try:
                obj = kube.get(api_version, kind, name, ns or None)
                ok, seen = condition_true(obj, "Ready") if kind == "Gateway" else route_accepted(obj)
            except Exception as exc:
                ok, seen = False, f"{type(exc).__name__}: {exc}"
            rows.append(StatusRow(f"{kind} {ns}/{name}", "ok" if ok else "problem", seen))
        return rows


class KindEngine(_KubernetesLab):
    """The real lab on a pinned kind cluster; its kubeconfig stays in the state folder."""

    name: ClassVar[str] = "kind"

    @property
    def kubeconfig(self) -> Path:
        """The lab's own kubeconfig (~/.kube/config is never touched)."""
        return self.state_path / KUBECONFIG_FILE

    def _tools(self) -> dict[str, str]:
        found = {tool: shutil.which(tool) for tool in doctor.ENGINE_TOOLS["kind"]}
        problems = []
        fixes = []
        docker = _docker_problem(self.timeouts.docker_ping)
        if docker:
            problems.append(docker)
            fixes.append(doctor.DOCKER_FIX)
        for tool, path in found.items():
            if path is None:
                problems.append(f"{tool} is not on PATH")
                fixes.append(f"install {tool}: {doctor.install_command(tool)}")
        if problems:
            raise EnvironmentNotReady(
                "the kind engine cannot start: " + "; ".join(problems), fix="; ".join(fixes)
            )
        return {tool: str(Path(path).resolve()) for tool, path in found.items() if path}

    def _kind_config(self, plan: Plan) -> tuple[Path, list[int]]:
        """The kind config to use (remapped host ports written to the state folder) and its host ports."""
        config = yaml.safe_load(plan.kind_config.read_text(encoding="utf-8"))
        ports = []
        for node in config.get("nodes") or []:
            for mapping in node.get("extraPortMappings") or []:
                mapping["hostPort"] = self.port_map.get(int(mapping["hostPort"]), int(mapping["hostPort"]))
                ports.append(int(mapping["hostPort"]))
        if not self.port_map:
            return plan.kind_config, ports
        path = self.state_path / KIND_CONFIG_FILE
        path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
        return path, ports

    def _cluster(self, tools: Mapping[str, str]) -> Any:
        from pytest_kind import KindCluster

        # pytest-kind makes ./.pytest-kind/<name> in the working folder: keep it in the state folder
        with contextlib.chdir(self.state_path):
            return KindCluster(
                name=pins.CLUSTER_NAME,
                kubeconfig=self.kubeconfig,
                image=pins.NODE_IMAGE,
                kind_path=Path(tools["kind"]),
                kubectl_path=Path(tools["kubectl"]),
            )

    def _cluster_exists(self, kind_path: str) -> bool:
        out = subprocess.run(
            [kind_path, "get", "clusters"], capture_output=True, text=True, check=False, timeout=60
        )
        if out.returncode != 0:
            raise NotConverged(f"`kind get clusters` failed: {out.stderr.strip()}", fix=doctor.DOCKER_FIX)
        return pins.CLUSTER_NAME in out.stdout.split()

    def _export_kubeconfig(self, kind_path: str) -> None:
        argv = [
            kind_path,
            "export",
            "kubeconfig",
            "--name",
            pins.CLUSTER_NAME,
            "--kubeconfig",
            str(self.kubeconfig),
        ]
        out = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=60)
        if out.returncode != 0:
            raise NotConverged(f"`kind export kubeconfig` failed: {out.stderr.strip()}")

    def _load_cached_images(self, cluster: Any, progress: Progress) -> None:
        try:
            client = doctor.docker_client(self.timeouts.docker_ping)
        except Exception:
            return
        for image in pins.ALL_IMAGES:
            if prefetch.image_present(client, image):
                progress(f"images: kind load docker-image {image}")
                cluster.load_docker_image(image)

    def up(self, start: LabState, plan: Plan, step: StepPlan, progress: Progress, journal: Journal) -> LabState:
        """Preflight, kind cluster (reused if there), cached images, then the shared install steps."""
        progress("preflight: Docker daemon, kind, helm, kubectl")
        tools = self._tools()
        self.options.state.ensure()
        config, host_ports = self._kind_config(plan)
        exists = self._cluster_exists(tools["kind"])
        if not exists:
            busy = [c for c in doctor.check_ports(host_ports) if not c.ok]
            if busy:
                raise EnvironmentNotReady(
                    "host ports the kind cluster maps are busy: "
                    + ", ".join(f"{c.name} {c.detail}" for c in busy),
                    fix=busy[0].fix,
                )
        cluster = self._cluster(tools)
        record = KubeRecord(
            kubeconfig=str(self.kubeconfig), context=KIND_CONTEXT, namespace="default",
            cluster=None if exists else pins.CLUSTER_NAME,
        )
        if exists and start.record is None:
            progress(f"cluster: kind cluster {pins.CLUSTER_NAME} exists and lab has no record of creating it; "
                     "`lab down` will leave it")
        start = replace(start, record=record)
        journal(start)
        if exists and not (self.kubeconfig.is_file() and self.kubeconfig.stat().st_size):
            # reusing a cluster with a fresh state folder: pytest-kind expects the kubeconfig there
            self._export_kubeconfig(tools["kind"])
        progress(
            f"cluster: {'reusing' if exists else 'creating'} kind cluster {pins.CLUSTER_NAME} "
            f"({pins.NODE_IMAGE.split('@')[0]}), kubeconfig {self.kubeconfig}"
        )
        try:
            cluster.create(config_file=config)
            self._load_cached_images(cluster, progress)
        except subprocess.CalledProcessError as exc:
            raise NotConverged(
                f"cluster: `{' '.join(map(str, exc.cmd))}` failed with exit {exc.returncode} (kind's output is above)",
                fix="run `lab doctor`; if a half-made cluster is left, `kind delete cluster --name "
                f"{pins.CLUSTER_NAME}` and try again",
            ) from exc
        target = Target(self.kubeconfig, None, "default", tools["helm"])
        return self._install_and_apply(start, plan, step, target, progress, journal)

    def status(self, state: LabState) -> list[StatusRow]:
        """Cluster, Consul release, Gateway and routes."""
        kind_path = shutil.which("kind")
        if kind_path is None:
            return [StatusRow("kind", "missing", "kind is not on PATH")]
        try:
            exists = self._cluster_exists(kind_path)
        except LabError as exc:
            return [StatusRow("cluster", "unknown", exc.message)]
        rows = [StatusRow("cluster", "running" if exists else "missing", f"kind cluster {pins.CLUSTER_NAME}")]
        if not exists:
            return rows
        return rows + self._lab_rows(state, self._target_from_state(state))

    def down(self, state: LabState | None, progress: Progress) -> None:
        """Delete the kind cluster (a missing one is fine) and the state; keeps the first error."""
        first: LabError | None = None
        cluster = _record(state).cluster if state is not None else None
        if cluster is None:
            if state is not None:
                progress(f"cluster: leaving kind cluster {pins.CLUSTER_NAME} (lab did not create it)")
            first = _clear_state(self)
            if first is not None:
                raise first
            return
        kind_path, kubectl_path = shutil.which("kind"), shutil.which("kubectl")
        if kind_path is None or kubectl_path is None:
            raise EnvironmentNotReady(
                "kind and kubectl are needed to delete the cluster", fix=doctor.install_command("kind")
            )
        progress(f"cluster: deleting kind cluster {pins.CLUSTER_NAME}")
        try:
            self.options.state.ensure()
            self._cluster({"kind": kind_path, "kubectl": kubectl_path}).delete()
        except subprocess.CalledProcessError as exc:
            first = NotConverged(
                f"`kind delete cluster --name {pins.CLUSTER_NAME}` failed with exit {exc.returncode}"
            )
        if first is None:
            progress(f"state: clearing {self.state_path}")
            first = _clear_state(self)
        if first is not None:
            raise first


class ClusterEngine(_KubernetesLab):
    """The lab on an existing cluster (kubeconfig context), isolated in its own namespace."""

    name: ClassVar[str] = "cluster"
    takes_cluster_options: ClassVar[bool] = True

    def _target(self) -> Target:
        helm_path = shutil.which("helm")
        if helm_path is None:
            raise EnvironmentNotReady(
                "helm is not on PATH", fix=f"install helm: {doctor.install_command('helm')}"
            )
        return Target(None, self.options.kube_context, self.options.namespace or "lab", helm_path)

    def up(self, start: LabState, plan: Plan, step: StepPlan, progress: Progress, journal: Journal) -> LabState:
        """The shared steps on the context's cluster, in the lab's namespace."""
        progress("preflight: helm")
        target = self._target()
        self.options.state.ensure()
        progress(f"cluster: using context {target.context or '(current)'}, namespace {target.namespace}")
        start = replace(start, record=KubeRecord(context=target.context, namespace=target.namespace))
        journal(start)
        return self._install_and_apply(start, plan, step, target, progress, journal)

    def status(self, state: LabState) -> list[StatusRow]:
        """Consul release, Gateway and routes in the lab's namespace."""
        return self._lab_rows(state, self._target_from_state(state))

    def down(self, state: LabState | None, progress: Progress) -> None:
        """Delete what the lab applied (reverse order), uninstall its Consul release, clear the state."""
        first: LabError | None = None
        if state is not None:
            target = self._target_from_state(state)
            objects = _objects(state)
            try:
                kube = self._connect(target)
                for key in reversed(list(objects)):
                    _, kind, ns, name = key.split("/", 3)
                    if kind == "Namespace":
                        continue
                    progress(f"delete: {kind} {ns}/{name}")
                    kube.delete(str(objects[key][0]), kind, name, ns or None)
            except LabError as exc:
                first = exc
            progress(f"consul: helm uninstall {pins.RELEASE_NAME} -n {target.namespace}")
            try:
                helm.uninstall(target.helm, timeout=self.timeouts.helm_install)
            except LabError as exc:
                first = first or exc
        err = _clear_state(self)
        first = first or err
        if first is not None:
            raise first


def _docker_problem(timeout: float) -> str | None:
    try:
        doctor.docker_client(timeout)
    except Exception as exc:
        return f"no Docker daemon answers ({type(exc).__name__})"
    return None


def _clear_state(engine: _KubernetesLab) -> LabError | None:
    first: LabError | None = None
    for name in (KUBECONFIG_FILE, CA_FILE, DISCOVERY_CACHE, KIND_CONFIG_FILE):
        try:
            (engine.state_path / name).unlink(missing_ok=True)
        except OSError as exc:
            first = first or NotConverged(f"cannot remove {engine.state_path / name}: {exc}")
    shutil.rmtree(engine.state_path / ".pytest-kind", ignore_errors=True)
    return first
