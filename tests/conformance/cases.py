"""The upstream HTTPRoute conformance tests as data: cases translated to Gateway API v1alpha2 (v0.4.0).

Source: kubernetes-sigs/gateway-api, tag v1.0.0, conformance/tests/httproute-*.go (37 tests). Each
translated case names the upstream ShortName, applies lab's own v1alpha2 YAML from manifests/, and
lists request/expected-response pairs and status conditions. Where the v0.4.0 text differs from
the upstream expectation, the pair follows v0.4.0 and `v040` says what upstream expects and why.
Route condition reasons: v0.4.0 names none but RefNotPermitted, so the lab's controller
(consul-api-gateway v0.1.0-beta) reasons stand in for the later ones (see REASONS).
"""

from __future__ import annotations

from dataclasses import dataclass

INFRA = "gateway-conformance-infra"
APP = "gateway-conformance-app-backend"
WEB = "gateway-conformance-web-backend"
V1, V2, V3 = "infra-backend-v1", "infra-backend-v2", "infra-backend-v3"
# Manifest ports of the base Gateways (tests/conformance/base.yaml).
SAME, ALL, BACKENDS = 80, 81, 82

# v0.4.0 HTTPRouteRule.BackendRefs: invalid backends get 503 (500 from v0.5.0 on).
V040_503 = "upstream expects 500 (v0.5.0 and later); v0.4.0 HTTPRouteRule.BackendRefs says 503"
# Upstream (v1.0) reason -> the lab controller's (consul-api-gateway v0.1.0-beta statuses.yaml).
REASONS = {
    "BackendNotFound": "ServiceNotFound",
    "InvalidKind": "Errors",
    "RefNotPermitted": "RefNotPermitted",
    "NotAllowedByListeners": "ListenerNamespacePolicy or InvalidRouteKind",
    "NoMatchingParent": "BindError",
    "NoMatchingListenerHostname": "ListenerHostnameMismatch",
}


@dataclass(frozen=True)
class Pair:
    """One request and the response it must get (and what the backend must have received)."""

    path: str
    backend: str | None = None
    namespace: str = INFRA
    status: int = 200
    port: int = SAME
    method: str = "GET"
    host: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    seen: tuple[tuple[str, str], ...] = ()
    absent: tuple[str, ...] = ()
    location: str | None = None
    v040: str | None = None


@dataclass(frozen=True)
class Cond:
    """A route condition on its parent Gateway: type, "True"/"False", the reason (None: any)."""

    route: str
    type: str
    status: str
    reason: str | None = None
    namespace: str = INFRA


@dataclass(frozen=True)
class Attached:
    """A Gateway listener's attachedRoutes."""

    gateway: str
    listener: str
    routes: int


@dataclass(frozen=True)
class Step:
    """Apply these manifests (with the base), then check."""

    manifests: tuple[str, ...]
    pairs: tuple[Pair, ...] = ()
    conditions: tuple[Cond, ...] = ()
    attached: tuple[Attached, ...] = ()


@dataclass(frozen=True)
class Case:
    """One upstream test: its ShortName and the steps of its translation."""

    name: str
    steps: tuple[Step, ...]
    note: str = ""


def ok(route: str, namespace: str = INFRA) -> tuple[Cond, Cond]:
    """Accepted and ResolvedRefs both True."""
    return Cond(route, "Accepted", "True", namespace=namespace), Cond(
        route, "ResolvedRefs", "True", namespace=namespace
    )


def h(**headers: str) -> tuple[tuple[str, str], ...]:
    """Headers as (name, value) pairs; underscores become dashes."""
    return tuple((k.replace("_", "-"), v) for k, v in headers.items())


def one(name: str, file: str, *pairs: Pair, conditions: tuple[Cond, ...] = (), note: str = "") -> Case:
    """A case with one step."""
    return Case(name, (Step((file,), pairs, conditions),), note)


def redirect(
    path: str,
    location: str,
    status: int = 302,
    port: int = SAME,
    host: str | None = None,
    v040: str | None = None,
) -> Pair:
    """A request the route answers with a redirect."""
    return Pair(path, status=status, port=port, host=host, location=location, v040=v040)


# Every HTTPRoute test of kubernetes-sigs/gateway-api v1.0.0 (conformance/tests/httproute-*.go).
UPSTREAM = (
    "HTTPRouteBackendProtocolH2C",
    "HTTPRouteBackendProtocolWebSocket",
    "HTTPRouteCrossNamespace",
    "HTTPRouteDisallowedKind",
    "HTTPExactPathMatching",
    "HTTPRouteHeaderMatching",
    "HTTPRouteHostnameIntersection",
    "HTTPRouteInvalidNonExistentBackendRef",
    "HTTPRouteInvalidBackendRefUnknownKind",
    "HTTPRouteInvalidCrossNamespaceBackendRef",
    "HTTPRouteInvalidCrossNamespaceParentRef",
    "HTTPRouteInvalidParentRefNotMatchingListenerPort",
    "HTTPRouteInvalidParentRefNotMatchingSectionName",
    "HTTPRouteInvalidReferenceGrant",
    "HTTPRouteListenerHostnameMatching",
    "HTTPRouteMatchingAcrossRoutes",
    "HTTPRouteMatching",
    "HTTPRouteMethodMatching",
    "HTTPRouteObservedGenerationBump",
    "HTTPRoutePartiallyInvalidViaInvalidReferenceGrant",
    "HTTPRoutePathMatchOrder",
    "HTTPRouteQueryParamMatching",
    "HTTPRouteRedirectHostAndStatus",
    "HTTPRouteRedirectPath",
    "HTTPRouteRedirectPortAndScheme",
    "HTTPRouteRedirectPort",
    "HTTPRouteRedirectScheme",
    "HTTPRouteReferenceGrant",
    "HTTPRouteRequestHeaderModifier",
    "HTTPRouteRequestMirror",
    "HTTPRouteRequestMultipleMirrors",
    "HTTPRouteResponseHeaderModifier",
    "HTTPRouteRewriteHost",
    "HTTPRouteRewritePath",
    "HTTPRouteSimpleSameNamespace",
    "HTTPRouteTimeoutBackendRequest",
    "HTTPRouteTimeoutRequest",
)

# Upstream tests not translated, and why (the version named is where the feature first appears).
SKIPPED = {
    "HTTPRouteBackendProtocolH2C": "Service appProtocol kubernetes.io/h2c backends: Gateway API v1.0.0 (GEP-1911)",
    "HTTPRouteBackendProtocolWebSocket": "Service appProtocol kubernetes.io/ws backends: Gateway API v1.0.0 (GEP-1911)",
    "HTTPRouteInvalidParentRefNotMatchingListenerPort": "ParentReference.port: Gateway API v0.5.0",
    "HTTPRouteObservedGenerationBump": "lab has no API server: objects have no metadata.generation to observe",
    "HTTPRouteRedirectPath": "RequestRedirect.path: Gateway API v0.5.0",
    "HTTPRouteRequestMultipleMirrors": "v0.4.0's webhook allows one RequestMirror per rule, and mirroring is not emulated",
    "HTTPRouteResponseHeaderModifier": "the ResponseHeaderModifier filter: Gateway API v0.6.0",
    "HTTPRouteRewriteHost": "the URLRewrite filter: Gateway API v0.5.0",
    "HTTPRouteRewritePath": "the URLRewrite filter: Gateway API v0.5.0",
    "HTTPRouteTimeoutBackendRequest": "HTTPRouteRule.timeouts: Gateway API v1.0.0",
    "HTTPRouteTimeoutRequest": "HTTPRouteRule.timeouts: Gateway API v1.0.0",
}
