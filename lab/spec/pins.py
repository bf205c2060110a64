"""Every pinned version the lab depends on, in one place, each with the source it comes from.

Nothing else in the package spells a version, a digest or a checksum.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType


@dataclass(frozen=True)
class Pin:
    """One pinned artefact and where the pin comes from."""

    what: str
    value: str
    source: str


# kind v0.11.1: the release of the tutorial's era (kind tag v0.11.1).
KIND_VERSION = "v0.11.1"
# Node image kind v0.11.1 defaults to (kind v0.11.1 pkg/apis/config/defaults/image.go); amd64+arm64.
NODE_IMAGE = "kindest/node:v1.21.1@sha256:69860bda5563ac81e3c0057d654b5253219618a22ec3a346306239bba8cfa1a6"
# Name of the kind cluster lab creates (and reuses).
CLUSTER_NAME = "lab"


@dataclass(frozen=True)
class KindPin:
    """A kind release and the node image to use with it (`lab up --kind-pin NAME`)."""

    name: str
    kind_version: str
    node_image: str
    source: str


# tutorial: the tutorial's kind and its default node image. compat: for hosts where that 2021
# image does not boot (cgroup v2 hosts with new kernels and systemd, kind#2731; kind v0.20.0
# "fixes runc 1.1.6+ / misc controller support as well as cgroupns support on cgroup v1"): kind
# v0.20.0 with the v1.21 image built for it, from its release notes ("Images pre-built for this
# release: 1.21"); kind v0.20.0 needs Docker 20.10.0+ and a kernel with cgroup namespaces.
KIND_PINS = MappingProxyType(
    {
        "tutorial": KindPin("tutorial", KIND_VERSION, NODE_IMAGE, "kind v0.11.1 defaults/image.go"),
        "compat": KindPin(
            "compat",
            "v0.20.0",
            "kindest/node:v1.21.14@sha256:8a4e9bb3f415d2bb81629ce33ef9c76ba514c14d707f9797a01e3216376ba093",
            "kind v0.20.0 release notes, images pre-built for this release (1.21)",
        ),
    }
)
# helm 3.7.0 cancels an interrupted install (cmd/helm/install.go L252-262, SIGINT/SIGTERM), so a
# Ctrl-C during --wait marks the release failed; older helm 3 leaves it pending-install.
MIN_HELM = (3, 7)
# kubectl is supported within one minor version of the API server (Kubernetes version skew policy);
# both pins run Kubernetes v1.21.
KUBERNETES_MINOR = (1, 21)

# Consul helm chart (consul-k8s tag v0.40.0 charts/consul/Chart.yaml: appVersion 1.11.2).
CHART_NAME = "consul"
CHART_VERSION = "0.40.0"
CHART_REPO_URL = "https://helm.releases.hashicorp.com"
RELEASE_NAME = "consul"
VALUES_FILE = f"consul-{CHART_VERSION}.yaml"

# Images the chart pulls at 0.40.0 (consul-k8s v0.40.0 charts/consul/values.yaml).
CONSUL_IMAGE = "hashicorp/consul:1.11.2"
CONSUL_K8S_IMAGE = "hashicorp/consul-k8s-control-plane:0.40.0"
ENVOY_IMAGE = "envoyproxy/envoy-alpine:v1.20.1"
# The API gateway image the tutorial's values set
# (learn-consul-kubernetes api-gateway/consul/config.yaml).
API_GATEWAY_IMAGE = "hashicorp/consul-api-gateway:0.1.0-beta"
API_GATEWAY_VERSION = "v0.1.0-beta"

# Gateway API CRDs the API gateway v0.1.0-beta expects
# (consul-api-gateway v0.1.0-beta config/crd/kustomization.yaml -> gateway-api v0.4.0).
GATEWAY_API_VERSION = "v0.4.0"
GATEWAY_API_CRD_BASE = (
    "https://raw.githubusercontent.com/kubernetes-sigs/gateway-api/"
    f"{GATEWAY_API_VERSION}/config/crd/v1alpha2/"
)
GATEWAY_CLASS_CONFIG_CRD_BASE = (
    f"https://raw.githubusercontent.com/hashicorp/consul-api-gateway/{API_GATEWAY_VERSION}/config/crd/bases/"
)


@dataclass(frozen=True)
class CrdFile:
    """One CRD file: where it is served from and its sha256 as served raw from that tag."""

    name: str
    url: str
    sha256: str

    @property
    def crd_name(self) -> str:
        """The CustomResourceDefinition's name: `<plural>.<group>` from `<group>_<plural>.yaml`."""
        group, _, plural = self.name.removesuffix(".yaml").partition("_")
        return f"{plural}.{group}"


# sha256 of each file as served raw from the tags above (shared/REFERENCE.md, re-checkable with
# `curl -sL URL | sha256sum`).
_GATEWAY_API_SHA256 = {
    "gateway.networking.k8s.io_gatewayclasses.yaml": "1373ee7b19f7d075deb0c96a9ae94203d32ed8b3c643186ea75776a3dc881786",
    "gateway.networking.k8s.io_gateways.yaml": "3d07e4ac2819079508e86a97d90658e8da915fe75ad68180f2bf084dde73b556",
    "gateway.networking.k8s.io_httproutes.yaml": "27f4a3fb823352810404b862ddee1b43c1f96ff7b972e64c6b3510f951cf7f01",
    "gateway.networking.k8s.io_referencepolicies.yaml": "b325f958f663d2d336e9b8e3b4a7c104d233b0f0635bfd9e916ceec19fdd1b18",
    "gateway.networking.k8s.io_tcproutes.yaml": "911bdcb8025588efa85faf8e0653f446770a4079a38dd43cb332aa7fae355bf3",
    "gateway.networking.k8s.io_tlsroutes.yaml": "3a49759a6c23afae6c6a1c540945c1b54ac44b8ab992bdfd2b2f1e9829134067",
    "gateway.networking.k8s.io_udproutes.yaml": "f54f94eeb03ad6596551aa58d1d6cd75106e09e4359b39c8e035c0a137cf832e",
}
_GATEWAY_CLASS_CONFIG_SHA256 = {
    "api-gateway.consul.hashicorp.com_gatewayclassconfigs.yaml": "ea8286fed9cb2307994ede735a57fd5a631b5df52f6bd590929bfe45fc001d54",
}

CRD_FILES: tuple[CrdFile, ...] = tuple(
    [CrdFile(n, GATEWAY_API_CRD_BASE + n, s) for n, s in _GATEWAY_API_SHA256.items()]
    + [CrdFile(n, GATEWAY_CLASS_CONFIG_CRD_BASE + n, s) for n, s in _GATEWAY_CLASS_CONFIG_SHA256.items()]
)

# Images the lab's own manifests use. The tutorial's
# gcr.io/kubernetes-e2e-test-images/echoserver:2.2 is amd64-only on a deprecated registry;
# 2.5 from registry.k8s.io answers the same way (kubernetes test/images/echoserver), multi-arch.
ECHO_IMAGE = "registry.k8s.io/e2e-test-images/echoserver:2.5"
# HashiCups images, as in learn-consul-kubernetes api-gateway/two-services (amd64-only builds).
HASHICUPS_IMAGES = (
    "hashicorpdemoapp/frontend:v0.0.7",
    "hashicorpdemoapp/public-api:v0.0.5",
    "hashicorpdemoapp/product-api:v0.0.14",
    "hashicorpdemoapp/payments:v0.0.12",
    "hashicorpdemoapp/product-api-db:v0.0.19",
)
# Images published for amd64 only: `lab doctor` flags them on arm64 hosts.
AMD64_ONLY_IMAGES = frozenset(HASHICUPS_IMAGES)

# Every image the kind lab needs, for `lab prefetch` and `lab plan --engine kind`.
CHART_IMAGES = (CONSUL_IMAGE, CONSUL_K8S_IMAGE, ENVOY_IMAGE, API_GATEWAY_IMAGE)
ALL_IMAGES = (*CHART_IMAGES, ECHO_IMAGE, *HASHICUPS_IMAGES)

# Host ports the kind cluster maps (manifests/kind/cluster.yaml):
# gateway 8443, Consul 443/8501/8502.
HOST_PORTS = (8443, 443, 8501, 8502)

# Tool versions known not to work with this lab: (tool, version prefix) -> why.
KNOWN_BAD_TOOLS = MappingProxyType(
    {
        ("helm", "v2."): "helm 2 has no `helm install NAME CHART`; install helm 3",
    }
)

# Where a missing tool comes from: the install command `lab doctor` and the kind engine print.
# kind as pinned above (kind.sigs.k8s.io/dl), helm 3 by its official script, kubectl matching
# the node image's Kubernetes v1.21.1 (dl.k8s.io).
TOOL_INSTALL = MappingProxyType(
    {
        "kind": "curl -Lo ./kind https://kind.sigs.k8s.io/dl/v0.11.1/kind-{os}-{arch} && chmod +x ./kind "
        "&& sudo mv ./kind /usr/local/bin/kind",
        "helm": "curl -fsSL https://raw.githubusercontent.com/helm/helm/main/scripts/get-helm-3 | bash",
        "kubectl": "curl -LO https://dl.k8s.io/release/v1.21.1/bin/{os}/{arch}/kubectl "
        "&& sudo install -m 0755 kubectl /usr/local/bin/kubectl",
    }
)

# Consul API Gateway 0.1.0 objects lab waits on (created by the chart and the tutorial manifests).
GATEWAY_CLASS = "consul-api-gateway"
CONSUL_CA_SECRET = "consul-ca-cert"  # noqa: S105 - a Secret name, not a password
# The chart's TLS server certificate (SANs include localhost and 127.0.0.1): the Gateway's certificateRef.
CONSUL_SERVER_CERT = "consul-server-cert"
# consul-api-gateway v0.1.0-beta's controllerName and its GatewayClassConfig API
# (consul-api-gateway v0.1.0-beta pkg/apis/v1alpha1: group api-gateway.consul.hashicorp.com).
API_GATEWAY_CONTROLLER = "hashicorp.com/consul-api-gateway-controller"
GATEWAY_CLASS_CONFIG_API = "api-gateway.consul.hashicorp.com/v1alpha1"
# The chart's managed GatewayClassConfig (consul-k8s v0.40.0 api-gateway-gatewayclassconfig.yaml).
GATEWAY_CLASS_CONFIG = "consul-api-gateway"
# The API version of each CRD group that Consul API Gateway 0.1.0 reads (Gateway API v0.4.0).
CRD_SERVED_VERSION = MappingProxyType(
    {"gateway.networking.k8s.io": "v1alpha2", "api-gateway.consul.hashicorp.com": "v1alpha1"}
)
# --engine cluster: the namespace of the one Consul a shared cluster runs for every attendee.
CONSUL_NAMESPACE = "consul"
# Label selectors of the pods the chart runs that must be Ready before the lab is applied
# (consul-k8s v0.40.0 server-statefulset.yaml / controller-deployment.yaml labels).
CONSUL_POD_SELECTORS = MappingProxyType(
    {
        "Consul server": "app=consul,component=server",
        "Consul controller": "app=consul,component=controller",
    }
)


def pins() -> tuple[Pin, ...]:
    """Every pin as a row for `lab plan` and the README."""
    return (
        Pin("kind", KIND_VERSION, "kind tag v0.11.1"),
        Pin("node image", NODE_IMAGE, "kind v0.11.1 defaults/image.go"),
        Pin("Consul chart", f"{CHART_NAME} {CHART_VERSION}", "consul-k8s v0.40.0 Chart.yaml"),
        Pin("Consul", CONSUL_IMAGE, "chart 0.40.0 values.yaml"),
        Pin("consul-k8s", CONSUL_K8S_IMAGE, "chart 0.40.0 values.yaml"),
        Pin("Envoy", ENVOY_IMAGE, "chart 0.40.0 values.yaml"),
        Pin("API gateway", API_GATEWAY_IMAGE, "tutorial consul/config.yaml"),
        Pin(
            "Gateway API CRDs",
            f"{GATEWAY_API_VERSION} (v1alpha2)",
            "consul-api-gateway v0.1.0-beta kustomization",
        ),
        Pin("echo image", ECHO_IMAGE, "kubernetes test/images/echoserver"),
    )
