"""Upstream values as the upstream sources write them, for tests that check lab's argv and images.

Tests compare with these literals, never with lab.spec.pins: a wrong pin must fail a test. Each
value is from the source named beside it (the table in shared/REFERENCE.md, "Pins").
"""

from __future__ import annotations

# kind v0.11.1 pkg/apis/config/defaults/image.go
NODE_IMAGE = "kindest/node:v1.21.1@sha256:69860bda5563ac81e3c0057d654b5253219618a22ec3a346306239bba8cfa1a6"
# kind v0.20.0 release notes, images pre-built for this release (1.21)
COMPAT_NODE_IMAGE = "kindest/node:v1.21.14@sha256:8a4e9bb3f415d2bb81629ce33ef9c76ba514c14d707f9797a01e3216376ba093"
# learn-consul-kubernetes api-gateway README: helm repo add hashicorp https://helm.releases.hashicorp.com
CHART_REPO_URL = "https://helm.releases.hashicorp.com"
# learn-consul-kubernetes api-gateway README: helm install ... hashicorp/consul --version "0.40.0"
CHART_VERSION = "0.40.0"
# consul-k8s v0.40.0 charts/consul/values.yaml
CONSUL_IMAGE = "hashicorp/consul:1.11.2"
CONSUL_K8S_IMAGE = "hashicorp/consul-k8s-control-plane:0.40.0"
ENVOY_IMAGE = "envoyproxy/envoy-alpine:v1.20.1"
# learn-consul-kubernetes api-gateway/consul/config.yaml, apiGateway.image
API_GATEWAY_IMAGE = "hashicorp/consul-api-gateway:0.1.0-beta"
# kubernetes test/images/echoserver, multi-arch (the tutorial's 2.2 is amd64-only)
ECHO_IMAGE = "registry.k8s.io/e2e-test-images/echoserver:2.5"
# learn-consul-kubernetes api-gateway/two-services (HashiCups)
HASHICUPS_IMAGES = (
    "hashicorpdemoapp/frontend:v0.0.7",
    "hashicorpdemoapp/public-api:v0.0.5",
    "hashicorpdemoapp/product-api:v0.0.14",
    "hashicorpdemoapp/payments:v0.0.12",
    "hashicorpdemoapp/product-api-db:v0.0.19",
)
# what the kind lab pulls, in the order lab prefetches and loads them: the chart's, then the lab's
ALL_IMAGES = (CONSUL_IMAGE, CONSUL_K8S_IMAGE, ENVOY_IMAGE, API_GATEWAY_IMAGE, ECHO_IMAGE, *HASHICUPS_IMAGES)
