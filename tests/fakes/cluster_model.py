"""What the fake cluster does behind the API, in virtual time, modelled on the real components.

Each behaviour cites the upstream file it follows:
- Deployments become pods that start after `pod_start` (or never: unschedulable, ImagePullBackOff,
  CrashLoopBackOff, with the kubelet's and scheduler's event wording).
- connect-inject registers a Ready pod's Services in the Consul catalog a little later, under the
  pod's `consul.hashicorp.com/connect-service` annotation or else the Service's name, with the
  Kubernetes Service and namespace as meta (consul-k8s v0.40.0 connect-inject
  endpoints_controller.go createServiceRegistrations). Consul OSS has one namespace, so equal names
  from two Kubernetes namespaces are one Consul service, and Envoy sends a route's share to every
  instance of it (consul-api-gateway v0.1.0-beta resolves a backendRef by that meta to the Consul
  service name, resolver.go findGlobalCatalogService, and routes to the name, http_route.go).
- consul-api-gateway v0.1.0-beta names everything it writes to Consul after the Gateway's name
  alone (reconciler/gateway.go ID(): Service = gateway name; config entries
  "consul-api-gateway_<gateway>_<route>", route.go Resolve): Gateways of the same name in two
  namespaces share one ingress-gateway entry, and the last routes written win.
- consul-api-gateway v0.1.0-beta: per Gateway a Deployment labelled as in
  internal/k8s/utils/labels.go LabelsForGateway; the Gateway is Ready only once that pod is Ready
  (internal/k8s/reconciler/gateway.go L204-208, L316-317: "gateway listeners not ready"); a route's
  backends are resolved in the catalog with `resolve_retries` x `resolve_interval` retries only when
  an HTTPRoute event arrives (internal/k8s/service/resolver.go L240-252; the controller watches
  HTTPRoutes only, internal/k8s/controllers/http_route_controller.go L53-57), and a failed
  resolution leaves Accepted=False/BindError "route is in an invalid state and cannot bind"
  (internal/k8s/reconciler/listener.go L378-379, route.go L173-212) until the route changes again.
  Conditions carry observedGeneration (zz_generated_status.go RouteAcceptedStatus.Condition).
- GatewayClasses of the controller are Accepted once their parametersRef names an existing
  GatewayClassConfig (internal/k8s/reconciler/gatewayclass.go Validate, L98-121: "unsupported
  gateway class configuration", "gateway class not found"); Gateways of other classes are left
  alone. The gateway pod asks for each listener port as a hostPort when the class's config says
  useHostPorts (internal/k8s/builder/gateway.go L281-282); two such pods on the one node collide
  like kube-scheduler's NodePorts filter says ("node(s) didn't have free ports for the requested
  pod ports", pkg/scheduler/framework/plugins/nodeports/node_ports.go ErrReason).
- the chart's controller webhooks are failurePolicy Fail (consul-k8s v0.40.0
  charts/consul/templates/controller-mutatingwebhookconfiguration.yaml L16-23): consul.hashicorp.com
  objects are refused until the webhook serves, `webhook_refuse_for` after the release deployed.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.clock import VirtualClock
from tests.fakes.crd_schema import invalid_message, validate

CONTROLLER = "hashicorp.com/consul-api-gateway-controller"
GATEWAY_LABELS = ("api-gateway.consul.hashicorp.com/name", "api-gateway.consul.hashicorp.com/namespace")
API_GATEWAY_IMAGE = "hashicorp/consul-api-gateway:0.1.0-beta"
# the gateway pod runs Envoy (consul-api-gateway v0.1.0-beta internal/k8s/builder/gateway.go)
GATEWAY_POD_IMAGE = "envoyproxy/envoy-alpine:v1.20.1"
CONSUL_PODS = (  # consul-k8s v0.40.0 templates: server-statefulset.yaml, controller-deployment.yaml, ...
    ("consul-server-0", "server", "hashicorp/consul:1.11.2"),
    ("consul-controller-6f8f6c7d9-x2x4q", "controller", "hashicorp/consul-k8s-control-plane:0.40.0"),
    (
        "consul-connect-injector-7c9d8b5f4-k8s2n",
        "connect-injector",
        "hashicorp/consul-k8s-control-plane:0.40.0",
    ),
    ("consul-api-gateway-controller-5b8c9d7f6-abcde", "api-gateway-controller", API_GATEWAY_IMAGE),
)


@dataclass
class Behaviour:
    """How the fake cluster behaves; tests shorten or break each part."""

    crd_established_after: float = 0.2
    crd_established: bool = True
    pod_start: float = 1.0
    # per Deployment (or Consul pod component) start delay overriding pod_start
    start_after: dict[str, float] = field(default_factory=dict)
    unschedulable: set[str] = field(default_factory=set)  # Deployment names / Consul components
    image_pull_errors: set[str] = field(default_factory=set)  # images
    crashing: set[str] = field(default_factory=set)  # images
    consul_register_after: float = 0.3
    resolve_retries: int = 30
    resolve_interval: float = 1.0
    webhook_refuse_for: float = 0.0
    # the controller writes status this long after an event (its work queue)
    status_lag: float = 0.0
    gateway_class_accepted: bool = True
    # the chart's tls-init job (a pre-install hook) writes <release>-ca-cert only with
    # global.tls.enabled (hashicorp/consul-k8s charts/consul/templates/tls-init-job.yaml line 2,
    # `{{- if .Values.global.tls.enabled }}`; chart 0.40.0 ships from that repository); False: it never ran
    tls_init_runs: bool = True


Key = tuple[str, str, str, str]  # group, plural, namespace, name


def _suffix(text: str, n: int) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:n]


def _condition(
    kind: str, ok: bool, reason: str, message: str = "", generation: int | None = None
) -> dict[str, Any]:
    cond = {"type": kind, "status": "True" if ok else "False", "reason": reason, "message": message}
    if generation is not None:
        cond["observedGeneration"] = generation
    return cond


@dataclass
class Cluster:
    """Objects by key plus the controllers that react to them."""

    clock: VirtualClock
    ca_pem: bytes
    behaviour: Behaviour = field(default_factory=Behaviour)
    objects: dict[Key, dict[str, Any]] = field(default_factory=dict)
    crds: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)  # (group, kind) -> CRD
    # Consul service name -> the Kubernetes (namespace, Service) registered under it (their meta)
    catalog: dict[str, set[tuple[str, str]]] = field(default_factory=dict)
    deployed_at: float | None = None
    release_namespace: str | None = None
    rv: int = 0
    last_applied: dict[Key, str] = field(default_factory=dict)
    resolutions: dict[str, int] = field(default_factory=dict)  # route -> token of the live resolution
    # the chart's consul-server-cert (its tls-init job), PEM
    server_cert_pem: bytes = b""
    server_key_pem: bytes = b""
    # hooks the test world sets: a gateway pod is Ready (namespace, Gateway, pod, uses host ports) /
    # a route is Accepted
    on_gateway_ready: Callable[[str, str, str, bool], None] | None = None
    on_route_accepted: Callable[[str], None] | None = None
    plural_of: Callable[[str], tuple[str, str]] | None = None  # kind -> (group, plural)

    # -- store ----------------------------------------------------------------------------------
    def key(self, kind: str, ns: str, name: str) -> Key:
        assert self.plural_of is not None
        group, plural = self.plural_of(kind)
        return (group, plural, ns, name)

    def get(self, kind: str, ns: str, name: str) -> dict[str, Any] | None:
        return self.objects.get(self.key(kind, ns, name))

    def of_kind(self, kind: str, ns: str | None = None) -> list[dict[str, Any]]:
        _, plural = self.plural_of(kind) if self.plural_of else ("", "")
        return [o for (_, p, n, _), o in self.objects.items() if p == plural and (ns is None or n == ns)]

    def put(self, key: Key, kind: str, api_version: str, body: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """Store `body` like server-side apply; returns the object and whether anything changed."""
        old = self.objects.get(key)
        meta = dict(body.get("metadata") or {})
        if key[2]:
            meta["namespace"] = key[2]
        gen = (old or {}).get("metadata", {}).get("generation", 0)
        if old is None or old.get("spec") != body.get("spec"):
            gen += 1  # spec changes bump metadata.generation; metadata-only changes do not
        sent = json.dumps(body, sort_keys=True)
        if old is not None and self.last_applied.get(key) == sent:
            return old, False  # an identical apply changes nothing and makes no watch event
        self.last_applied[key] = sent
        self.rv += 1
        meta.update(
            generation=gen,
            resourceVersion=str(self.rv),
            uid=(old or {}).get("metadata", {}).get("uid", f"uid-{self.rv}"),
        )
        obj = {**body, "metadata": meta, "apiVersion": api_version, "kind": kind}
        obj["status"] = (old or {}).get("status") or body.get("status") or {}
        self.objects[key] = obj
        return obj, True

    def event(self, ns: str, kind: str, name: str, reason: str, message: str, type_: str = "Normal") -> None:
        self.rv += 1
        ev_name = f"{name}.{self.rv}"
        self.objects[self.key("Event", ns, ev_name)] = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": ev_name, "namespace": ns},
            "type": type_,
            "reason": reason,
            "involvedObject": {"kind": kind, "name": name, "namespace": ns},
            "message": message,
            "lastTimestamp": f"2022-02-01T10:{int(self.clock.now()) // 60:02d}:{int(self.clock.now()) % 60:02d}Z",
        }

    def dropped_stored_versions(self, body: dict[str, Any]) -> tuple[int, str] | None:
        """(index, version) of a stored version an update of a CRD would drop from spec.versions."""
        old = self.objects.get(("apiextensions.k8s.io", "customresourcedefinitions", "", body["metadata"]["name"]))
        if old is None:
            return None
        names = {v["name"] for v in (body.get("spec") or {}).get("versions") or []}
        for index, version in enumerate((old.get("status") or {}).get("storedVersions") or []):
            if version not in names:
                return index, version
        return None

    def collect(self, kind: str, ns: str, name: str) -> None:
        """What goes with a deleted object: a Namespace's content (the namespace controller), a
        Deployment's pods and a Gateway's gateway pods (the garbage collector, via ownerReferences)."""
        if kind == "Namespace":
            gone = [k for k in self.objects if k[2] == name]
        elif kind == "Deployment":
            gone = [k for k, o in self.objects.items() if k[1] == "pods" and k[2] == ns
                    and o["metadata"]["labels"].get("lab-fake/deployment") == name]
        elif kind == "Gateway":
            gone = [k for k, o in self.objects.items() if k[1] in ("pods", "deployments") and k[2] == ns
                    and (o["metadata"].get("labels") or {}).get(GATEWAY_LABELS[0]) == name]
        else:
            gone = []
        for key in gone:
            self.objects.pop(key, None)
            self.last_applied.pop(key, None)
        if kind in ("Namespace", "Service"):  # connect-inject deregisters the Service's instances
            for members in self.catalog.values():
                members -= {m for m in members if m[0] == (name if kind == "Namespace" else ns)
                            and (kind == "Namespace" or m[1] == name)}

    # -- admission ------------------------------------------------------------------------------
    def admit(self, kind: str, group: str, body: dict[str, Any]) -> tuple[int, str, str] | None:
        """(code, reason, message) when the API server or a webhook refuses `body`, else None."""
        crd = self.crds.get((group, kind))
        if crd is not None and group != "consul.hashicorp.com":
            causes = validate(crd, body)
            if causes:
                return 422, "Invalid", invalid_message(body, crd, causes)
        if group == "consul.hashicorp.com":
            ready = (
                self.deployed_at is not None
                and self.clock.now() >= self.deployed_at + self.behaviour.webhook_refuse_for
            )
            if not ready:
                path = f"mutate-v1alpha1-{kind.lower()}"
                return (
                    500,
                    "InternalError",
                    f'Internal error occurred: failed calling webhook "mutate-{kind.lower()}.consul.hashicorp.com": '
                    f'Post "https://consul-controller-webhook.default.svc:443/{path}?timeout=10s": '
                    "dial tcp 10.96.118.64:443: connect: connection refused",
                )
        return None

    # -- controllers ----------------------------------------------------------------------------
    def react(self, kind: str, obj: dict[str, Any]) -> None:
        """Called after an object changed."""
        if kind == "CustomResourceDefinition":
            self._crd(obj)
        elif kind == "Deployment":
            self._deployment(obj)
        elif kind == "Gateway":
            self.clock.at(self.behaviour.status_lag, lambda: self._gateway(obj))
        elif kind == "GatewayClass":
            self._gateway_class(obj)
        elif kind == "HTTPRoute":
            self.clock.at(self.behaviour.status_lag, lambda: self._resolve_route(obj))

    def _crd(self, obj: dict[str, Any]) -> None:
        spec = obj["spec"]
        self.crds[(spec["group"], spec["names"]["kind"])] = obj
        # the storage version joins status.storedVersions on create and update, never leaves it
        # (kubernetes staging/src/k8s.io/apiextensions-apiserver/pkg/registry/customresourcedefinition/
        # strategy.go PrepareForCreate, PrepareForUpdate)
        stored = list((obj.get("status") or {}).get("storedVersions") or [])
        stored += [v["name"] for v in spec["versions"] if v.get("storage") and v["name"] not in stored][:1]
        obj["status"] = {"conditions": [_condition("Established", False, "Installing")], "storedVersions": stored}
        if self.behaviour.crd_established:

            def established() -> None:
                conditions = [_condition("Established", True, "InitialNamesAccepted")]
                obj["status"] = {"conditions": conditions, "storedVersions": stored}

            self.clock.at(self.behaviour.crd_established_after, established)

    def _deployment(self, dep: dict[str, Any]) -> None:
        ns, name = dep["metadata"]["namespace"], dep["metadata"]["name"]
        if any(
            p["metadata"].get("labels", {}).get("lab-fake/deployment") == name
            for p in self.of_kind("Pod", ns)
        ):
            return
        template = dep["spec"]["template"]
        labels = {**(template["metadata"].get("labels") or {}), "lab-fake/deployment": name}
        annotations = template["metadata"].get("annotations") or {}
        image = template["spec"]["containers"][0]["image"]
        pod_name = f"{name}-{_suffix(name, 9)}-{_suffix(name + 'pod', 5)}"
        self.start_pod(ns, pod_name, labels, annotations, image, name)

    def start_pod(
        self,
        ns: str,
        name: str,
        labels: dict[str, str],
        annotations: dict[str, str],
        image: str,
        owner: str,
        ports: list[dict[str, int]] | None = None,
    ) -> None:
        """A new pod: Pending (ContainerCreating), then Running and Ready, or stuck the way the kubelet says."""
        b = self.behaviour
        pod = {
            "metadata": {"name": name, "namespace": ns, "labels": labels, "annotations": annotations},
            "spec": {"containers": [{"name": owner, "image": image, "ports": ports or []}]},
            "status": {
                "phase": "Pending",
                "conditions": [
                    _condition("PodScheduled", True, ""),
                    _condition("Ready", False, "ContainersNotReady"),
                ],
                "containerStatuses": [  # the fields the kubelet always reports (core/v1 ContainerStatus)
                    {
                        "name": owner,
                        "image": image,
                        "imageID": "",
                        "restartCount": 0,
                        "ready": False,
                        "state": {"waiting": {"reason": "ContainerCreating"}},
                    }
                ],
            },
        }
        self.put(self.key("Pod", ns, name), "Pod", "v1", pod)
        self.event(ns, "Pod", name, "Scheduled", f"Successfully assigned {ns}/{name} to lab-control-plane")
        self.clock.at(
            b.start_after.get(owner, b.pod_start), lambda: self._pod_started(ns, name, image, owner)
        )

    def _pod_started(self, ns: str, name: str, image: str, owner: str) -> None:
        pod = self.get("Pod", ns, name)
        if pod is None:
            return
        st, b = pod["status"], self.behaviour
        waiting = st["containerStatuses"][0]["state"]
        if owner in b.unschedulable or self._host_ports_taken(pod):
            # kube-scheduler: PodScheduled=False reason Unschedulable, event FailedScheduling
            msg = (
                "0/1 nodes are available: 1 node(s) didn't have free ports for the requested pod ports."
                if self._host_ports_taken(pod)
                else "0/1 nodes are available: 1 Insufficient memory."
            )
            st["conditions"][0] = _condition("PodScheduled", False, "Unschedulable", msg)
            st["containerStatuses"][0]["state"] = {"waiting": {"reason": "Pending"}}
            self.event(ns, "Pod", name, "FailedScheduling", msg, "Warning")
        elif image in b.image_pull_errors:
            # kubelet: ErrImagePull then ImagePullBackOff, event Failed "Failed to pull image ..."
            waiting["waiting"] = {
                "reason": "ImagePullBackOff",
                "message": f'Back-off pulling image "{image}"',
            }
            self.event(
                ns,
                "Pod",
                name,
                "Failed",
                f'Failed to pull image "{image}": rpc error: code = NotFound '
                f'desc = failed to pull and unpack image "docker.io/{image}": not found',
                "Warning",
            )
        elif image in b.crashing:
            st["phase"] = "Running"
            waiting["waiting"] = {
                "reason": "CrashLoopBackOff",
                "message": f"back-off 10s restarting failed container={owner} pod={name}",
            }
            self.event(ns, "Pod", name, "BackOff", "Back-off restarting failed container", "Warning")
        else:
            st["phase"] = "Running"
            st["conditions"][1] = _condition("Ready", True, "")
            st["containerStatuses"][0].update(
                ready=True, state={"running": {"startedAt": "2022-02-01T10:00:00Z"}}
            )
            self.event(ns, "Pod", name, "Started", f"Started container {owner}")
            self._pod_ready(pod)

    @staticmethod
    def _host_ports(pod: dict[str, Any]) -> set[int]:
        return {
            int(p["hostPort"]) for c in pod["spec"]["containers"] for p in c.get("ports") or [] if p.get("hostPort")
        }

    def _host_ports_taken(self, pod: dict[str, Any]) -> bool:
        """Another scheduled pod on the one node already holds a hostPort this pod asks for."""
        wanted = self._host_ports(pod)
        for other in self.of_kind("Pod"):
            if other is pod or other["metadata"]["name"] == pod["metadata"]["name"]:
                continue
            scheduled = other["status"]["conditions"][0]["status"] == "True" and other["status"]["phase"] == "Running"
            if scheduled and wanted & self._host_ports(other):
                return True
        return False

    def _pod_ready(self, pod: dict[str, Any]) -> None:
        ns, labels = pod["metadata"]["namespace"], pod["metadata"]["labels"]
        if labels.get(GATEWAY_LABELS[0]):
            gw = self.get("Gateway", labels[GATEWAY_LABELS[1]], labels[GATEWAY_LABELS[0]])
            if gw is not None:
                self._gateway_status(gw, ready=True)
                if self.on_gateway_ready is not None:
                    self.on_gateway_ready(ns, gw["metadata"]["name"], pod["metadata"]["name"], bool(self._host_ports(pod)))
        if pod["metadata"]["annotations"].get("consul.hashicorp.com/connect-inject") == "true":
            for svc in self.of_kind("Service", ns):
                sel = svc["spec"].get("selector") or {}
                if sel and all(labels.get(k) == v for k, v in sel.items()):
                    name = svc["metadata"]["name"]
                    consul = pod["metadata"]["annotations"].get("consul.hashicorp.com/connect-service") or name
                    self.clock.at(
                        self.behaviour.consul_register_after,
                        lambda n=name, c=consul: self.catalog.setdefault(c, set()).add((ns, n)),
                    )

    def class_config(self, class_name: str) -> dict[str, Any] | None:
        """The GatewayClassConfig of an Accepted GatewayClass of this controller (None: not ours)."""
        cls = self.get("GatewayClass", "", class_name)
        if cls is None or cls["spec"].get("controllerName") != CONTROLLER:
            return None
        conds = (cls.get("status") or {}).get("conditions") or []
        if not any(c["type"] == "Accepted" and c["status"] == "True" for c in conds):
            return None
        ref = cls["spec"].get("parametersRef") or {}
        return self.get("GatewayClassConfig", "", ref["name"]) if ref else {"spec": {}}

    def _gateway_class(self, cls: dict[str, Any]) -> None:
        if cls["spec"].get("controllerName") != CONTROLLER or self.deployed_at is None:
            return  # another controller's class, or the controller does not run yet
        ref = cls["spec"].get("parametersRef")
        ok, message = True, ""
        if ref and (ref.get("group"), ref.get("kind")) != ("api-gateway.consul.hashicorp.com", "GatewayClassConfig"):
            ok, message = False, "unsupported gateway class configuration"
        elif ref and self.get("GatewayClassConfig", "", ref.get("name", "")) is None:
            ok, message = False, "gateway class not found"
        gen = cls["metadata"].get("generation", 1)
        reason = "Accepted" if ok else "InvalidParameters"
        cls["status"] = {"conditions": [_condition("Accepted", ok, reason, message, gen)]}

    def _gateway(self, gw: dict[str, Any]) -> None:
        ns, name = gw["metadata"]["namespace"], gw["metadata"]["name"]
        gw = self.get("Gateway", ns, name) or gw
        config = self.class_config(gw["spec"].get("gatewayClassName", ""))
        if config is None:
            return  # not a Gateway of this controller: no status, no pod
        pods = [p for p in self.of_kind("Pod", ns) if p["metadata"]["labels"].get(GATEWAY_LABELS[0]) == name]
        self._gateway_status(gw, ready=bool(pods) and pods[0]["status"]["conditions"][1]["status"] == "True")
        labels = {
            GATEWAY_LABELS[0]: name,
            GATEWAY_LABELS[1]: ns,
            "api-gateway.consul.hashicorp.com/managed": "true",
        }
        if not pods:
            host = bool((config.get("spec") or {}).get("useHostPorts"))
            ports = [
                {"containerPort": int(lst["port"]), **({"hostPort": int(lst["port"])} if host else {})}
                for lst in gw["spec"].get("listeners") or []
            ]
            # the controller's Deployment, named after the Gateway (internal/k8s/builder/gateway.go
            # Build: ObjectMeta Name gateway.Name, Labels LabelsForGateway); its pod follows
            template = {"metadata": {"labels": labels}, "spec": {"containers": [
                {"name": "consul-api-gateway", "image": GATEWAY_POD_IMAGE, "ports": ports}]}}
            deployment = {"metadata": {"name": name, "labels": dict(labels)},
                          "spec": {"replicas": 1, "selector": {"matchLabels": dict(labels)}, "template": template}}
            self.put(self.key("Deployment", ns, name), "Deployment", "apps/v1", deployment)
            self.start_pod(
                ns,
                f"{name}-{_suffix(name, 9)}-{_suffix(name + 'gw', 5)}",
                labels,
                {},
                GATEWAY_POD_IMAGE,
                name,
                ports,
            )

    def _gateway_status(self, gw: dict[str, Any], *, ready: bool) -> None:
        gen = gw["metadata"]["generation"]
        gw["status"] = {
            "conditions": [
                _condition(
                    "Ready",
                    ready,
                    "Ready" if ready else "ListenersNotReady",
                    "" if ready else "gateway listeners not ready",
                    gen,
                ),
                _condition(
                    "Scheduled",
                    ready,
                    "Scheduled" if ready else "NotReconciled",
                    "" if ready else "pod conditions not found",
                    gen,
                ),
                _condition("InSync", True, "InSync", "", gen),
            ],
            "listeners": [self._listener_status(gw, listener, gen) for listener in gw["spec"].get("listeners") or []],
        }

    def certificate_missing(self, gw: dict[str, Any], listener: dict[str, Any]) -> bool:
        """A TLS listener whose first certificateRef names no Secret (consul-api-gateway v0.1.0-beta
        internal/k8s/reconciler/listener.go validateTLS, resolveCertificateReference: the Gateway's
        namespace unless the ref names one; only the first ref is used)."""
        refs = (listener.get("tls") or {}).get("certificateRefs") or []
        if not refs:
            return False
        ref = refs[0]
        return self.get("Secret", ref.get("namespace") or gw["metadata"]["namespace"], ref["name"]) is None

    def _listener_status(self, gw: dict[str, Any], listener: dict[str, Any], gen: int) -> dict[str, Any]:
        """ResolvedRefs False/InvalidCertificateRef "certificate not found" for a missing certificate; the
        Gateway's Ready does not depend on it (gateway.go Status), but Envoy has no certificate to serve."""
        missing = self.certificate_missing(gw, listener)
        resolved = _condition("ResolvedRefs", not missing, "InvalidCertificateRef" if missing else "ResolvedRefs",
                              "certificate not found" if missing else "", gen)
        return {"name": listener["name"], "attachedRoutes": 0, "conditions": [resolved]}

    def _resolve_route(self, route: dict[str, Any]) -> None:
        name, ns = route["metadata"]["name"], route["metadata"]["namespace"]
        route = self.get("HTTPRoute", ns, name) or route
        token = self.resolutions.get(f"{ns}/{name}", 0) + 1
        self.resolutions[f"{ns}/{name}"] = token
        refs = [
            ((r.get("namespace") or ns), r["name"])
            for rule in route["spec"].get("rules") or []
            for r in rule.get("backendRefs") or []
        ]

        def attempt(n: int) -> None:
            if self.resolutions.get(f"{ns}/{name}") != token or self.get("HTTPRoute", ns, name) is None:
                return  # a newer event restarted the resolution, or the route is gone
            current = self.get("HTTPRoute", ns, name)
            assert current is not None
            if all(self.consul_name(ref) is not None for ref in refs):
                self._route_status(current, accepted=True)
            elif n + 1 < self.behaviour.resolve_retries:
                self.clock.at(self.behaviour.resolve_interval, lambda: attempt(n + 1))
            else:
                self._route_status(current, accepted=False)

        self.clock.at(0, lambda: attempt(0))

    def consul_name(self, ref: tuple[str, str]) -> str | None:
        """The Consul service a Kubernetes (namespace, Service) is registered as (by its meta)."""
        return next((name for name, members in sorted(self.catalog.items()) if ref in members), None)

    def _route_status(self, route: dict[str, Any], *, accepted: bool) -> None:
        gen = route["metadata"]["generation"]
        parents = route["spec"].get("parentRefs") or []
        conds = (
            [
                _condition("Accepted", True, "Accepted", "Route accepted.", gen),
                _condition("ResolvedRefs", True, "ResolvedRefs", "", gen),
            ]
            if accepted
            else [
                _condition(
                    "Accepted", False, "BindError", "route is in an invalid state and cannot bind", gen
                ),
                _condition("ResolvedRefs", False, "ConsulServiceNotFound", "consul service not found", gen),
            ]
        )
        route["status"] = {
            "parents": [{"parentRef": p, "controllerName": CONTROLLER, "conditions": conds} for p in parents]
        }
        if accepted and self.on_route_accepted is not None:
            self.on_route_accepted(route["metadata"]["name"])

    # -- helm -----------------------------------------------------------------------------------
    def helm_install(self, ns: str, host_ports: bool = True) -> None:
        """What the chart creates: Consul's Deployments and pods, the CA and server certificate secrets
        (its tls-init job), and the managed GatewayClassConfig (templates/api-gateway-gatewayclassconfig.yaml:
        name consul-api-gateway, the values' managedGatewayClass.useHostPorts and serviceType)."""
        self.release_namespace = ns
        for name, component, image in CONSUL_PODS:
            labels = {"app": "consul", "component": component, "release": "consul"}
            if component != "server":
                deployment = name.rsplit("-", 2)[0]
                body = {
                    "metadata": {"name": deployment, "labels": dict(labels)},
                    "spec": {"template": {"metadata": {"labels": labels}, "spec": {"containers": [{"name": component, "image": image}]}}},
                }
                self.put(self.key("Deployment", ns, deployment), "Deployment", "apps/v1", body)
            if self.get("Pod", ns, name) is None:
                self.start_pod(ns, name, labels, {}, image, component)
        ca = {
            "metadata": {"name": "consul-ca-cert"},
            "type": "Opaque",
            "data": {"tls.crt": base64.b64encode(self.ca_pem).decode()},
        }
        if self.behaviour.tls_init_runs:
            self.put(self.key("Secret", ns, "consul-ca-cert"), "Secret", "v1", ca)
        server = {
            "metadata": {"name": "consul-server-cert"},
            "type": "kubernetes.io/tls",
            "data": {
                "tls.crt": base64.b64encode(self.server_cert_pem).decode(),
                "tls.key": base64.b64encode(self.server_key_pem).decode(),
            },
        }
        self.put(self.key("Secret", ns, "consul-server-cert"), "Secret", "v1", server)
        config = {
            "metadata": {"name": "consul-api-gateway"},
            "spec": {
                "consul": {"scheme": "https", "caSecret": "consul-ca-cert", "ports": {"http": 8501, "grpc": 8502}},
                "serviceType": "NodePort" if host_ports else "ClusterIP",
                "useHostPorts": host_ports,
                "image": {"consulAPIGateway": API_GATEWAY_IMAGE, "envoy": GATEWAY_POD_IMAGE},
            },
        }
        self.put(self.key("GatewayClassConfig", "", "consul-api-gateway"), "GatewayClassConfig",
                 "api-gateway.consul.hashicorp.com/v1alpha1", config)

    def helm_ready(self, ns: str) -> bool:
        pods = [self.get("Pod", ns, name) for name, _, _ in CONSUL_PODS]
        return all(p is not None and p["status"]["conditions"][1]["status"] == "True" for p in pods)

    def helm_deployed(self) -> None:
        """The release is deployed: the controller runs and accepts the chart's GatewayClass (and any other
        GatewayClass of this controller applied before)."""
        self.deployed_at = self.clock.now()
        gc_key = self.key("GatewayClass", "", "consul-api-gateway")
        self.put(
            gc_key,
            "GatewayClass",
            "gateway.networking.k8s.io/v1alpha2",
            {
                "metadata": {"name": "consul-api-gateway"},
                "spec": {
                    "controllerName": CONTROLLER,
                    "parametersRef": {
                        "group": "api-gateway.consul.hashicorp.com",
                        "kind": "GatewayClassConfig",
                        "name": "consul-api-gateway",
                    },
                },
            },
        )
        for cls in self.of_kind("GatewayClass"):
            self._gateway_class(cls)
        if not self.behaviour.gateway_class_accepted:
            gc = self.objects[gc_key]
            gc["status"] = {"conditions": [_condition("Accepted", False, "InvalidParameters", "", 1)]}

    def helm_uninstall(self, ns: str) -> None:
        for name, _, _ in CONSUL_PODS:
            self.objects.pop(self.key("Pod", ns, name), None)
            self.objects.pop(self.key("Deployment", ns, name.rsplit("-", 2)[0]), None)
        self.deployed_at = None

    # -- the data plane -------------------------------------------------------------------------
    def answer(self, path: str, rng: Any, gateway: tuple[str, str] | None = None) -> tuple[str, str] | None:
        """(pod, namespace) that answers `path` through the Accepted routes (of `gateway`), by weight; None: 503.

        The longest matching PathPrefix wins; a rule's backends are picked by weight, like Envoy's
        weighted clusters behind consul-api-gateway (weight 0 never). A gateway serves the routes of
        every Gateway with its name (one Consul configuration, the last written wins), and a backend
        is any Ready instance of its Consul service, in whichever namespace.
        """
        best: tuple[int, int, dict[str, Any], str] | None = None
        for route in self.of_kind("HTTPRoute"):
            own = route["metadata"]["namespace"]
            parents = {p["name"] for p in route["spec"].get("parentRefs") or []}
            if gateway is not None and gateway[1] not in parents:
                continue
            conds = [c for p in (route.get("status") or {}).get("parents") or [] for c in p["conditions"]]
            if not any(c["type"] == "Accepted" and c["status"] == "True" for c in conds):
                continue
            written = int(route["metadata"].get("resourceVersion", 0))
            for rule in route["spec"].get("rules") or []:
                for match in rule.get("matches") or [{"path": {"type": "PathPrefix", "value": "/"}}]:
                    prefix = (match.get("path") or {}).get("value", "/")
                    if path.startswith(prefix) and (best is None or (len(prefix), written) > best[:2]):
                        best = (len(prefix), written, rule, own)
        if best is None:
            return None
        _, _, rule, ns = best
        refs = [r for r in rule.get("backendRefs") or [] if int(r.get("weight", 1)) > 0]
        if not refs:
            return None
        ref = rng.choices(refs, weights=[int(r.get("weight", 1)) for r in refs])[0]
        consul = self.consul_name((ref.get("namespace") or ns, ref["name"]))
        ready = []
        for svc_ns, svc_name in sorted(self.catalog.get(consul or "", set())):
            svc = self.get("Service", svc_ns, svc_name)
            selector = (svc or {}).get("spec", {}).get("selector") or {}
            for pod in self.of_kind("Pod", svc_ns):
                labels = pod["metadata"]["labels"]
                if pod["status"]["conditions"][1]["status"] == "True" and selector and all(
                    labels.get(k) == v for k, v in selector.items()
                ):
                    ready.append((pod["metadata"]["name"], svc_ns))
        if len(ready) < 2:
            return ready[0] if ready else None
        return rng.choice(ready)  # type: ignore[no-any-return]
