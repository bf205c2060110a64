"""`--engine cluster`: the lab on an existing cluster many attendees share, each in their own namespace.

The platform (CRDs, one Consul, its RBAC) is the cluster's, installed once and reused after a
compatibility check (lab.engines.kube.platform). Each attendee gets their namespace, their own
GatewayClass without host ports and a port-forward helper to their gateway pod (TLS verified against
the Consul CA, whose certificate names localhost); every object carries the run's id, and `lab down`
removes exactly those, never Consul, the CRDs or another attendee's objects.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlparse

from lab.engines.base import EngineOptions, Journal, Liveness, Progress, StatusRow
from lab.engines.kube import platform
from lab.engines.kube.apply import GATEWAY_POD_LABEL
from lab.engines.kube.client import Kube
from lab.engines.kube.detect import refuse_taken_namespace, survey_consul
from lab.engines.kube.documents import applied_record, documents, namespaces_of, phase_of
from lab.engines.kube.record import KubeRecord
from lab.engines.kube.steps import KubernetesLab, Target, clear_state, record_of, with_objects
from lab.engines.kube.tenancy import Tenancy, default_namespace
from lab.engines.kube.tunnel import Forward, Tunnel, TunnelConfig
from lab.errors import EnvironmentNotReady, InvalidInput, LabError, NotConverged, UsageError
from lab.objects import ObjectKey
from lab.spec import pins
from lab.spec.plan import Plan, StepPlan
from lab.state import LabState

# consul-api-gateway v0.1.0-beta labels its gateway pods with the Gateway's namespace too
# (internal/k8s/utils/labels.go LabelsForGateway).
GATEWAY_POD_NAMESPACE = "api-gateway.consul.hashicorp.com/namespace"
# The attendee's objects lab adds to every step (cluster-scoped ones first).
OWN_KINDS = (("gateway.networking.k8s.io/v1alpha2", "GatewayClass"), (pins.GATEWAY_CLASS_CONFIG_API, "GatewayClassConfig"), ("v1", "Secret"))


class ClusterEngine(KubernetesLab):
    """The lab on an existing, shared cluster (kubeconfig context), isolated in the attendee's namespace."""

    name: ClassVar[str] = "cluster"
    takes_cluster_options: ClassVar[bool] = True

    def __init__(self, options: EngineOptions, **kw: Any) -> None:
        super().__init__(options, **kw)
        self.tunnel = Tunnel(options.state, self.timeouts)

    # -- where things are ------------------------------------------------------------------------
    @property
    def consul_namespace(self) -> str:
        """Where the cluster's one Consul lives (--consul-namespace, default consul)."""
        return self.options.consul_namespace or pins.CONSUL_NAMESPACE

    def _target(
        self, consul_namespace: str | None = None, context: str | None = None, kubeconfig: str | None = None
    ) -> Target:
        # None: $KUBECONFIG (a path list is merged) or ~/.kube/config, as kubectl reads them
        return Target(
            Path(kubeconfig) if kubeconfig else None,
            context or self.options.kube_context,
            consul_namespace or self.consul_namespace,
            shutil.which("helm") or "",
        )

    def _target_from_state(self, state: LabState) -> Target:
        """The cluster of the recorded lab: the kubeconfig and context of its `lab up`, from any shell."""
        record = record_of(state)
        return self._target(record.consul_namespace, record.context, record.kubeconfig)

    def _tenancy(self, state: LabState) -> Tenancy:
        return Tenancy(state.run_id, record_of(state).namespace, shared=True)

    def _diagnosed_namespace(self, state: LabState, target: Target) -> str:
        """A failed switch lists the attendee's pods and events (Consul's namespace is the cluster's)."""
        return record_of(state).namespace or target.namespace

    def _reach(self, kube_target: Target) -> Kube:
        """The API server of the context; EnvironmentNotReady (exit 4) when it does not answer."""
        try:
            return self._connect(kube_target)
        except NotConverged as exc:
            raise EnvironmentNotReady(exc.message, fix="check --context (`lab doctor --engine cluster --context C`)") from exc

    def _given_gateway(self) -> tuple[str, int, str] | None:
        """(host, port, CA file) of `--gateway-url URL --ca FILE`, or None for a port-forward."""
        url, ca = self.options.gateway_url, self.options.ca_file
        if url is None:
            if ca is not None:
                raise UsageError("--ca is for --gateway-url (the port-forward verifies against the Consul CA)")
            return None
        parsed = urlparse(url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname or parsed.path not in ("", "/"):
            raise UsageError(f"--gateway-url {url!r}: expected https://HOST[:PORT] (no path)")
        if parsed.scheme == "https" and ca is None:
            raise UsageError(
                f"--gateway-url {url} needs --ca FILE, the CA bundle its certificate verifies against "
                "(lab never skips TLS verification)"
            )
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        return parsed.hostname, port, str(Path(ca).resolve()) if ca else ""

    # -- up ----------------------------------------------------------------------------------------
    def up(self, start: LabState, plan: Plan, step: StepPlan, progress: Progress, journal: Journal) -> LabState:
        """Survey the cluster (nothing changed when it is refused), then the attendee's lab on it."""
        self.refuse_what_consul_never_serves(plan, plan.steps)
        given = self._given_gateway()
        tenancy = Tenancy(start.run_id, self.options.namespace or default_namespace(), shared=True)
        target = self._target()
        self.options.state.ensure()
        progress(
            f"cluster: context {target.context or '(current)'}, namespace {tenancy.namespace}, "
            f"Consul in namespace {target.namespace}"
        )
        kube = self._reach(target)
        survey = platform.survey(
            kube, target.namespace, install_consul=self.options.install_consul, force_crds=self.options.force_crds
        )
        if survey.install_consul and not target.helm_path:
            raise EnvironmentNotReady("installing Consul needs helm, which is not on PATH", fix=pins.TOOL_INSTALL["helm"])
        refuse_taken_namespace(kube, tenancy)
        record = KubeRecord(
            kubeconfig=os.environ.get("KUBECONFIG") or None,
            context=target.context,
            namespace=tenancy.namespace,
            consul_namespace=target.namespace,
        )
        start = replace(start, record=record)
        journal(start)  # before anything is created: `lab down` finds what this run made by its id
        stage = "platform"
        try:
            platform.install(survey, self._platform(kube, target, progress), plan.values, _manifests(plan), progress)
            stage = "namespace"
            state = self._namespaces(kube, tenancy, step, start, progress, journal)
            stage = "apply"
            extra = self._own_objects(kube, state, step)
            planned = applied_record(documents(step, tenancy, extra))
            journal(replace(state, record=with_objects(record_of(state), planned)))
            objects = self._apply(kube, step, tenancy, progress, None, extra)
            state = replace(
                state,
                ca_file=given[2] if given else str(self._fetch_ca(kube, target.namespace)),
                files=tuple(str(f) for f in (*plan.base_files, *step.files)),
                applied=tuple(ObjectKey.parse(k) for k in objects),
                record=with_objects(record_of(state), objects),
            )
            stage = "port-forward"
            if given is not None:
                state = replace(state, gateway_host=given[0], ports={t.port: given[1] for t in step.traffic})
            else:
                state = self._start_tunnel(state, step, progress)
            journal(state)
            stage = "converge"
            self._converge(step, state.ports, Path(state.ca_file), progress, state.gateway_host)
        except (EnvironmentNotReady, InvalidInput, KeyboardInterrupt):
            raise
        except Exception as exc:
            # helm's status of the cluster's Consul, the pods and events of the attendee's namespace
            raise self._diagnose(exc, stage, kube, target, tenancy.namespace) from exc
        return state

    def _namespaces(
        self, kube: Kube, tenancy: Tenancy, step: StepPlan, start: LabState, progress: Progress, journal: Journal
    ) -> LabState:
        """Create the attendee's namespaces that are not there (recorded first); existing ones are used."""
        state = start
        wanted = [tenancy.namespace, *namespaces_of(documents(step, tenancy))]
        for ns in dict.fromkeys(wanted):
            if kube.get("v1", "Namespace", ns) is not None:
                progress(f"namespace: using {ns} (lab will not delete it)")
                continue
            record = record_of(state)
            state = replace(state, record=replace(record, namespaces_created=(*record.namespaces_created, ns)))
            journal(state)
            progress(f"namespace: creating {ns}")
            kube.apply(tenancy.mark({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}))
        return state

    def _own_objects(self, kube: Kube, state: LabState, step: StepPlan) -> list[dict[str, Any]]:
        """The attendee's GatewayClassConfig and GatewayClass (no host ports), and the TLS secret copy.

        The step's namespaces are made first when missing (a switch to a scenario with another team's
        namespace); lab marks what it creates with the run's id, so `lab down` finds it.
        """
        tenancy = self._tenancy(state)
        for ns in dict.fromkeys([tenancy.namespace, *namespaces_of(documents(step, tenancy))]):
            if kube.get("v1", "Namespace", ns) is None:
                kube.apply(tenancy.mark({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}))
        consul_ns = record_of(state).consul_namespace or self.consul_namespace
        config = kube.get(pins.GATEWAY_CLASS_CONFIG_API, "GatewayClassConfig", pins.GATEWAY_CLASS_CONFIG)
        secret = kube.get("v1", "Secret", pins.CONSUL_SERVER_CERT, consul_ns)
        if secret is None:
            raise NotConverged(
                f"secret {consul_ns}/{pins.CONSUL_SERVER_CERT} is missing; the Gateway's certificate comes from it",
                fix="check the Consul installation (global.tls.enabled, the tls-init job)",
            )
        gateways = [tenancy.namespace_of(r.namespace) for r in step.resources if r.kind == "Gateway"]
        return tenancy.own_objects(config, secret, gateways)

    # -- the port-forward --------------------------------------------------------------------------
    def _forwards(self, state: LabState, step: StepPlan) -> tuple[Forward, ...]:
        tenancy = self._tenancy(state)
        out: dict[tuple[str, str, int], Forward] = {}
        for t in step.traffic:
            ns = tenancy.namespace_of(t.listener.id.namespace)
            gateway = tenancy.consul_name(t.listener.id.gateway, ns)
            selector = f"{GATEWAY_POD_LABEL}={gateway},{GATEWAY_POD_NAMESPACE}={ns}"
            out.setdefault((ns, selector, t.port), Forward(ns, selector, t.port, self.port_map.get(t.port, 0)))
        return tuple(out.values())

    def _start_tunnel(self, state: LabState, step: StepPlan, progress: Progress) -> LabState:
        record = record_of(state)
        forwards = self._forwards(state, step)
        # the kubeconfig of this `lab up` (a path list is merged), so a restart from another shell matches
        kubeconfig = record.kubeconfig or os.environ.get("KUBECONFIG") or os.path.expanduser("~/.kube/config")
        config = TunnelConfig(
            kubeconfig,
            record.context,
            forwards,
            str(self.state_path / "portforward-runtime.json"),
            request_timeout=self.timeouts.api_request,
        )
        running = self.tunnel.start(config)
        for f in forwards:
            progress(f"port-forward: localhost:{running.ports[f.remote]} -> gateway pod port {f.remote} in {f.namespace} (pid {running.pid})")
        return replace(state, gateway_host="localhost", ports=dict(running.ports), record=replace(record, tunnel=running))

    def _reached(self, state: LabState, step: StepPlan, progress: Progress) -> LabState:
        """The port-forward for `step` runs (restarted when it dropped or the step's gateway changed)."""
        record = record_of(state)
        if record.tunnel is None:
            return state  # --gateway-url: the cluster exposes the gateway itself
        current = self.tunnel.forwards()
        wanted = self._forwards(state, step)
        same = current is not None and [(f.namespace, f.selector, f.remote) for f in current] == [
            (f.namespace, f.selector, f.remote) for f in wanted
        ]
        if same and (self.tunnel.alive(record.tunnel) or self.tunnel.found()):
            return state
        progress("port-forward: " + ("restarting the helper (it had stopped)" if same else "following the step's gateway"))
        self.tunnel.stop(record.tunnel)
        return self._start_tunnel(state, step, progress)

    def alive(self, state: LabState) -> Liveness:
        """Alive while the port-forward helper runs; a helper that dropped is restarted on its ports."""
        tunnel = record_of(state).tunnel
        if tunnel is None or self.tunnel.alive(tunnel) or self.tunnel.found():
            return Liveness(True)
        restarted = self.tunnel.restart()
        where = ", ".join(f"127.0.0.1:{local} -> port {remote}" for remote, local in restarted.ports.items())
        return Liveness(
            True,
            f"port-forward to the gateway pod in {record_of(state).namespace} had stopped; "
            f"restarted on {where} (pid {restarted.pid})",
        )

    def leftovers(self) -> list[str]:
        """Port-forward helpers of this state folder running without a record."""
        return [f"port-forward helper pid {p.pid}" for p in self.tunnel.found()]

    # -- status and down -----------------------------------------------------------------------------
    def status(self, state: LabState) -> list[StatusRow]:
        """Namespace, the shared Consul, the port-forward with its local URL, Gateway and routes."""
        record = record_of(state)
        rows = [StatusRow("namespace", record.namespace, f"context {record.context or '(current)'}")]
        for listener in state.ports:
            how = "port-forward" if record.tunnel is not None else "given"
            alive = record.tunnel is None or self.tunnel.alive(record.tunnel) or bool(self.tunnel.found())
            detail = state.gateway_url(listener) + (f" -> gateway pod port {listener}" if record.tunnel else "")
            rows.append(StatusRow("gateway", how if alive else "stopped", detail))
        rows.append(StatusRow("CA bundle", "", state.ca_file))
        try:
            kube = self._reach(self._target_from_state(state))
        except LabError as exc:
            return [*rows, StatusRow("API server", "down", exc.message)]
        consul = survey_consul(kube, record.consul_namespace or self.consul_namespace)
        seen = f"namespace {consul.namespace}: " + ("; ".join(consul.problems) or consul.seen)
        rows.append(StatusRow("Consul", "ok" if consul.usable else "problem", seen + " (the cluster's, shared)"))
        return rows + self._object_rows(state, kube)

    def down(self, state: LabState | None, progress: Progress) -> None:
        """Stop the port-forward, delete this run's objects (by its id) and the namespaces it created."""
        first: LabError | None = None
        for line in self.tunnel.stop(record_of(state).tunnel if state else None):
            progress(line)
        if state is not None:
            try:
                kube = self._reach(self._target_from_state(state))
                self._delete_owned(kube, state, progress)
            except LabError as exc:
                first = exc
            record = record_of(state)
            progress(
                f"consul: left running in namespace {record.consul_namespace or self.consul_namespace} "
                "(the cluster's, shared by every attendee); the CRDs stay too"
            )
        err = clear_state(self)
        first = first or err
        if first is not None:
            raise first

    def _delete_owned(self, kube: Kube, state: LabState, progress: Progress) -> None:
        """Delete every object carrying this run's id, routes first, then its namespaces."""
        tenancy, record = self._tenancy(state), record_of(state)
        applied = record.objects
        kinds = dict.fromkeys([(v.api_version, k.kind) for k, v in applied.items()] + list(OWN_KINDS))
        namespaces = list(dict.fromkeys([k.namespace for k in applied if k.namespace] + [record.namespace]))
        for api_version, kind in sorted(kinds, key=lambda k: -phase_of(k[1])):
            try:
                namespaced = bool(kube.resource(api_version, kind).namespaced)
            except NotConverged:
                continue  # the API no longer serves the kind: nothing of it is left
            for ns in namespaces if namespaced else [None]:
                for obj in kube.list(api_version, kind, ns, label_selector=tenancy.selector):
                    name = str(obj["metadata"]["name"])
                    progress(f"delete: {kind} {ns + '/' if ns else ''}{name}")
                    kube.delete(api_version, kind, name, ns)
        for obj in kube.list("v1", "Namespace", label_selector=tenancy.selector):
            name = str(obj["metadata"]["name"])
            progress(f"delete: Namespace {name} (lab created it)")
            kube.delete("v1", "Namespace", name)


def prepare(options: EngineOptions, plan: Plan, progress: Progress, **kw: Any) -> list[str]:
    """`lab cluster prepare`: install the platform of a shared cluster once (CRDs, Consul, its RBAC).

    Idempotent: what is there and compatible is reused; a cluster lab cannot use is refused (exit 4)
    before anything changes. Returns what was installed.
    """
    engine = ClusterEngine(replace(options, install_consul=True), **kw)
    target = engine._target()
    if not target.helm_path:
        raise EnvironmentNotReady("installing Consul needs helm, which is not on PATH", fix=pins.TOOL_INSTALL["helm"])
    engine.options.state.ensure()
    progress(f"cluster: context {target.context or '(current)'}, Consul in namespace {target.namespace}")
    kube = engine._reach(target)
    survey = platform.survey(kube, target.namespace, install_consul=True, force_crds=options.force_crds)
    return platform.install(survey, engine._platform(kube, target, progress), plan.values, _manifests(plan), progress)


def _manifests(plan: Plan) -> list[Mapping[str, Any]]:
    """Every resource of the plan's steps, once (the platform takes the cluster-scoped RBAC from them)."""
    return list({(r.kind, r.namespace, r.name): dict(r.body) for step in plan.steps for r in step.resources}.values())
