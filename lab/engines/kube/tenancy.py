"""Whose objects these are: ownership labels on everything lab creates, and an attendee's share of a cluster.

On a shared cluster each attendee has their namespace, their own GatewayClass without host ports and
their copy of the TLS certificate, so N attendees never collide on names or ports, and `lab down`
removes exactly its own objects (found by the run's id).
"""

from __future__ import annotations

import copy
import getpass
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from lab.spec import pins

MANAGED_BY = "app.kubernetes.io/managed-by"
RUN_ID = "lab.gateway-lab.dev/run-id"
# on cluster-scoped objects of one attendee: whose they are
TENANT = "lab.gateway-lab.dev/namespace"
# on the platform lab installs once per cluster (CRDs, Consul's RBAC): which pins it carries
PIN = "lab.gateway-lab.dev/pin"
# Objects that live outside any namespace: on a shared cluster they belong to the platform (prepared
# once) or, for the attendee's own GatewayClass(Config), carry the attendee's namespace.
CLUSTER_SCOPED = frozenset(
    {"Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "GatewayClass", "GatewayClassConfig"}
)


def default_namespace(user: str | None = None) -> str:
    """`lab-<user name>` as a DNS label (lowercase letters, digits, dashes; at most 63 characters)."""
    name = re.sub(r"[^a-z0-9-]+", "-", (user or getpass.getuser()).lower()).strip("-") or "attendee"
    return f"lab-{name}"[:63].rstrip("-")


@dataclass(frozen=True)
class Tenancy:
    """One lab's objects on its cluster: the run they belong to and, shared, the attendee's namespace."""

    run_id: str
    namespace: str = "default"
    # a cluster shared by attendees: namespaces mapped into the attendee's, own GatewayClass, no
    # cluster-scoped objects of the manifests (the platform's)
    shared: bool = False

    @property
    def labels(self) -> dict[str, str]:
        """The labels every object of this lab carries."""
        out = {MANAGED_BY: "lab", RUN_ID: self.run_id}
        if self.shared:
            out[TENANT] = self.namespace
        return out

    @property
    def selector(self) -> str:
        """A label selector for exactly this lab's objects."""
        return f"{MANAGED_BY}=lab,{RUN_ID}={self.run_id}"

    @property
    def gateway_class(self) -> str:
        """The attendee's own GatewayClass (and GatewayClassConfig) on a shared cluster."""
        return f"lab-{self.namespace}"[:63]

    def namespace_of(self, original: str | None) -> str:
        """Where an object of namespace `original` goes: `default` is the attendee's, others get its prefix."""
        ns = original or "default"
        if not self.shared:
            return ns
        return self.namespace if ns == "default" else f"{self.namespace}-{ns}"[:63].rstrip("-")

    def owns(self, obj: Mapping[str, Any] | None) -> bool:
        """Whether an object on the cluster carries this run's id."""
        labels = ((obj or {}).get("metadata") or {}).get("labels") or {}
        return labels.get(MANAGED_BY) == "lab" and labels.get(RUN_ID) == self.run_id

    def mark(self, body: dict[str, Any]) -> dict[str, Any]:
        """The body with this lab's labels."""
        meta = body.setdefault("metadata", {})
        meta["labels"] = {**(meta.get("labels") or {}), **self.labels}
        return body

    def adopt(self, body: dict[str, Any]) -> dict[str, Any]:
        """An apply body moved into the attendee's namespaces, its Gateway on the attendee's class."""
        if not self.shared:
            return self.mark(body)
        body = _map_namespaces(body, self.namespace_of)
        if body.get("kind") == "Gateway" and (body.get("spec") or {}).get("gatewayClassName") == pins.GATEWAY_CLASS:
            body["spec"]["gatewayClassName"] = self.gateway_class
        return self.mark(body)

    def consul_name(self, name: str, namespace: str) -> str:
        """The name Consul sees for an object of a (mapped) namespace: its name and the namespace.

        Consul OSS has one namespace: two attendees' echo-1 would be one Consul service, and their
        Gateways of one name one ingress-gateway entry (consul-api-gateway v0.1.0-beta names them
        after the Gateway alone). Suffixing the namespace keeps each attendee's apart.
        """
        return f"{name}-{namespace}" if self.shared else name

    def unique_in_consul(self, docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The bodies with every name Consul sees made the attendee's own (a shared cluster only).

        Mesh pods get `consul.hashicorp.com/connect-service` (the name connect-inject registers,
        consul-k8s v0.40.0 endpoints_controller.go), ServiceDefaults and ServiceIntentions name the
        same services, and Gateways (with the parentRefs naming them) carry the namespace too.
        """
        if not self.shared:
            return docs
        services = [d for d in docs if d["kind"] == "Service"]
        for doc in docs:
            meta, spec, ns = doc["metadata"], doc.get("spec") or {}, str(doc["metadata"].get("namespace") or "")
            if doc["kind"] in ("Deployment", "StatefulSet"):
                _name_mesh_pods(doc, [s for s in services if s["metadata"].get("namespace") == ns], self)
            elif doc["kind"] == "ServiceDefaults":
                meta["name"] = self.consul_name(str(meta["name"]), ns)
            elif doc["kind"] == "ServiceIntentions":
                dest = spec.get("destination") or {}
                dest["name"] = self.consul_name(str(dest.get("name")), str(dest.get("namespace") or ns))
                meta["name"] = dest["name"]
                for src in spec.get("sources") or []:
                    if src.get("name") != "*":
                        src["name"] = self.consul_name(str(src.get("name")), str(src.get("namespace") or ns))
            elif doc["kind"] == "Gateway":
                meta["name"] = self.consul_name(str(meta["name"]), ns)
            for parent in spec.get("parentRefs") or [] if str(doc.get("apiVersion", "")).startswith("gateway.") else []:
                if parent.get("kind", "Gateway") == "Gateway":
                    parent["name"] = self.consul_name(str(parent["name"]), str(parent.get("namespace") or ns))
        return docs

    def own_objects(
        self, chart_config: Mapping[str, Any] | None, server_cert: Mapping[str, Any], gateway_namespaces: Iterable[str]
    ) -> list[dict[str, Any]]:
        """The attendee's GatewayClassConfig and GatewayClass, and the TLS certificate in each Gateway's namespace.

        The config is the chart's, without host ports (ClusterIP): the gateway is reached by port-forward.
        """
        spec = copy.deepcopy(dict((chart_config or {}).get("spec") or _CHART_CONFIG_SPEC))
        spec.update(serviceType="ClusterIP", useHostPorts=False)
        group = pins.GATEWAY_CLASS_CONFIG_API.split("/")[0]
        docs: list[dict[str, Any]] = [
            {
                "apiVersion": pins.GATEWAY_CLASS_CONFIG_API,
                "kind": "GatewayClassConfig",
                "metadata": {"name": self.gateway_class},
                "spec": spec,
            },
            {
                "apiVersion": "gateway.networking.k8s.io/v1alpha2",
                "kind": "GatewayClass",
                "metadata": {"name": self.gateway_class},
                "spec": {
                    "controllerName": pins.API_GATEWAY_CONTROLLER,
                    "parametersRef": {"group": group, "kind": "GatewayClassConfig", "name": self.gateway_class},
                },
            },
        ]
        for ns in sorted(set(gateway_namespaces)):
            docs.append(
                {
                    "apiVersion": "v1",
                    "kind": "Secret",
                    "metadata": {"name": pins.CONSUL_SERVER_CERT, "namespace": ns},
                    "type": "kubernetes.io/tls",
                    "data": {k: v for k, v in (server_cert.get("data") or {}).items() if k in ("tls.crt", "tls.key")},
                }
            )
        return [self.mark(d) for d in docs]


# What the chart 0.40.0 writes into its GatewayClassConfig with TLS on (consul-k8s v0.40.0
# templates/api-gateway-gatewayclassconfig.yaml), for a Consul installed without the managed class.
_CHART_CONFIG_SPEC: Mapping[str, Any] = {
    "consul": {"scheme": "https", "caSecret": pins.CONSUL_CA_SECRET, "ports": {"http": 8501, "grpc": 8502}},
    "image": {"consulAPIGateway": pins.API_GATEWAY_IMAGE, "envoy": pins.ENVOY_IMAGE},
}


def _name_mesh_pods(workload: dict[str, Any], services: list[dict[str, Any]], tenancy: Tenancy) -> None:
    """Give a mesh workload's pods the Consul name of the one Service that selects them."""
    template = (workload.get("spec") or {}).get("template") or {}
    tmeta = template.setdefault("metadata", {})
    notes, labels = tmeta.get("annotations") or {}, tmeta.get("labels") or {}
    if notes.get("consul.hashicorp.com/connect-inject") != "true":
        return
    selecting = [
        s for s in services
        if (sel := (s.get("spec") or {}).get("selector") or {}) and all(labels.get(k) == v for k, v in sel.items())
    ]
    if len(selecting) == 1:  # several Services: consul-k8s keeps their own names (multi-port)
        svc = selecting[0]["metadata"]
        name = tenancy.consul_name(str(svc["name"]), str(svc.get("namespace") or ""))
        tmeta["annotations"] = {**notes, "consul.hashicorp.com/connect-service": name}


def _map_namespaces(value: Any, mapped: Any) -> Any:
    if isinstance(value, Mapping):
        out = {k: (mapped(v) if k == "namespace" and isinstance(v, str) else _map_namespaces(v, mapped)) for k, v in value.items()}
        if out.get("kind") == "Namespace" and isinstance(out.get("metadata"), Mapping):
            out["metadata"] = {**out["metadata"], "name": mapped(out["metadata"].get("name"))}
        return out
    if isinstance(value, list):
        return [_map_namespaces(v, mapped) for v in value]
    return value


def platform_objects(docs: Iterable[Mapping[str, Any]], consul_namespace: str) -> list[dict[str, Any]]:
    """The manifests' cluster-scoped RBAC for Consul's service accounts, bound in Consul's namespace.

    Applied once per cluster with Consul, never by an attendee.
    """
    out = []
    for doc in docs:
        if doc.get("kind") in ("ClusterRole", "ClusterRoleBinding"):
            body = _map_namespaces(copy.deepcopy(dict(doc)), lambda ns: consul_namespace if ns == "default" else ns)
            meta = body.setdefault("metadata", {})
            meta["labels"] = {**(meta.get("labels") or {}), MANAGED_BY: "lab"}
            meta["annotations"] = {**(meta.get("annotations") or {}), PIN: pins.API_GATEWAY_VERSION}
            out.append(body)
    return out
