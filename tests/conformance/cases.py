"""The upstream HTTPRoute conformance tests as data: cases translated to Gateway API v1alpha2 (v0.4.0).

Source: kubernetes-sigs/gateway-api, tags v1.0.0 to v1.6.1, conformance/tests/httproute-*.go (55 tests). Each
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
class Sample:
    """Requests whose backends must follow the route's weights.

    Upstream checks each share against a fixed +/-5 point band retried up to 10 times; here the
    lab's own exact test judges the counts at alpha 0.001 (weight 0: any answer fails). `header`
    names a request header the backend must have seen set to the name of the backend answering.
    """

    path: str
    weights: tuple[tuple[str, int], ...]
    requests: int = 400
    header: str | None = None
    port: int = SAME


@dataclass(frozen=True)
class Step:
    """Apply these manifests (with the base), then check."""

    manifests: tuple[str, ...]
    pairs: tuple[Pair, ...] = ()
    conditions: tuple[Cond, ...] = ()
    attached: tuple[Attached, ...] = ()
    samples: tuple[Sample, ...] = ()


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


# Every HTTPRoute test of kubernetes-sigs/gateway-api's release tags v1.0.0 .. v1.6.1 (the ShortNames
# in conformance/tests/httproute-*.go at each tag) and the tag where it first appears. Tests only on
# main after v1.6.1 (HTTPRouteBackendRequestRedirect, HTTPRouteBackendURLRewrite,
# HTTPRouteRetryConnectionError, HTTPRouteRetryWithTimeouts) are in no tag yet.
UPSTREAM = {
    "HTTPRoute303Redirect": "v1.5.0",
    "HTTPRoute307Redirect": "v1.5.0",
    "HTTPRoute308Redirect": "v1.5.0",
    "HTTPRouteBackendProtocolH2C": "v1.0.0",
    "HTTPRouteBackendProtocolWebSocket": "v1.0.0",
    "HTTPRouteBackendRequestHeaderModifier": "v1.1.0",
    "HTTPRouteCORS": "v1.5.0",
    "HTTPRouteCORSAllowCredentialsBehavior": "v1.4.0 (gone after v1.5.1)",
    "HTTPRouteCrossNamespace": "v1.0.0",
    "HTTPRouteDisallowedKind": "v1.0.0",
    "HTTPRouteExactPathMatching": "v1.0.0 (as HTTPExactPathMatching)",
    "HTTPRouteHTTPSListener": "v1.1.0",
    "HTTPRouteHTTPSListenerDetectMisdirectedRequests": "v1.5.0",
    "HTTPRouteHeaderMatching": "v1.0.0",
    "HTTPRouteHostnameIntersection": "v1.0.0",
    "HTTPRouteInvalidBackendRefUnknownKind": "v1.0.0",
    "HTTPRouteInvalidCrossNamespaceBackendRef": "v1.0.0",
    "HTTPRouteInvalidCrossNamespaceParentRef": "v1.0.0",
    "HTTPRouteInvalidNonExistentBackendRef": "v1.0.0",
    "HTTPRouteInvalidParentRefNotMatchingListenerPort": "v1.0.0",
    "HTTPRouteInvalidParentRefNotMatchingSectionName": "v1.0.0",
    "HTTPRouteInvalidParentRefSectionNameNotMatchingPort": "v1.1.0",
    "HTTPRouteInvalidReferenceGrant": "v1.0.0",
    "HTTPRouteListenerHostnameMatching": "v1.0.0",
    "HTTPRouteListenerPortMatching": "v1.1.0",
    "HTTPRouteMatching": "v1.0.0",
    "HTTPRouteMatchingAcrossRoutes": "v1.0.0",
    "HTTPRouteMethodMatching": "v1.0.0",
    "HTTPRouteMultipleGateways": "v1.6.0",
    "HTTPRouteNamedRule": "v1.4.0",
    "HTTPRouteNoBackendRefs": "v1.6.0",
    "HTTPRouteObservedGenerationBump": "v1.0.0",
    "HTTPRoutePartiallyInvalidViaInvalidReferenceGrant": "v1.0.0",
    "HTTPRoutePathMatchOrder": "v1.0.0",
    "HTTPRouteQueryParamMatching": "v1.0.0",
    "HTTPRouteRedirectHostAndStatus": "v1.0.0",
    "HTTPRouteRedirectPath": "v1.0.0",
    "HTTPRouteRedirectPort": "v1.0.0",
    "HTTPRouteRedirectPortAndScheme": "v1.0.0",
    "HTTPRouteRedirectScheme": "v1.0.0",
    "HTTPRouteReferenceGrant": "v1.0.0",
    "HTTPRouteRequestHeaderModifier": "v1.0.0",
    "HTTPRouteRequestHeaderModifierBackendWeights": "v1.3.0",
    "HTTPRouteRequestMirror": "v1.0.0",
    "HTTPRouteRequestMultipleMirrors": "v1.0.0",
    "HTTPRouteRequestPercentageMirror": "v1.3.0",
    "HTTPRouteResponseHeaderModifier": "v1.0.0",
    "HTTPRouteRetry": "v1.6.0",
    "HTTPRouteRewriteHost": "v1.0.0",
    "HTTPRouteRewritePath": "v1.0.0",
    "HTTPRouteServiceTypes": "v1.1.0",
    "HTTPRouteSimpleSameNamespace": "v1.0.0",
    "HTTPRouteTimeoutBackendRequest": "v1.0.0",
    "HTTPRouteTimeoutRequest": "v1.0.0",
    "HTTPRouteWeight": "v1.1.0",
}

# Upstream tests not translated, and why (the version named is where the feature first appears).
SKIPPED = {
    "HTTPRoute303Redirect": "RequestRedirect statusCode 303: Gateway API v1.5.0 (v0.4.0 allows 301 and 302)",
    "HTTPRoute307Redirect": "RequestRedirect statusCode 307: Gateway API v1.5.0 (v0.4.0 allows 301 and 302)",
    "HTTPRoute308Redirect": "RequestRedirect statusCode 308: Gateway API v1.5.0 (v0.4.0 allows 301 and 302)",
    "HTTPRouteCORS": "the CORS filter: Gateway API v1.3.0",
    "HTTPRouteCORSAllowCredentialsBehavior": "the CORS filter: Gateway API v1.3.0",
    "HTTPRouteHTTPSListenerDetectMisdirectedRequests": (
        "HTTP 421 for misdirected HTTPS requests: a requirement of Gateway API v1.5.0 that v0.4.0 does not state"
    ),
    "HTTPRouteInvalidParentRefSectionNameNotMatchingPort": "ParentReference.port: Gateway API v0.5.0",
    "HTTPRouteListenerPortMatching": "ParentReference.port: Gateway API v0.5.0",
    "HTTPRouteNamedRule": "HTTPRouteRule.name: Gateway API v1.2.0",
    "HTTPRouteRequestPercentageMirror": "RequestMirror percent and fraction: Gateway API v1.2.0",
    "HTTPRouteRetry": "HTTPRouteRule.retry: Gateway API v1.2.0",
    "HTTPRouteServiceTypes": (
        "headless Services and hand-written EndpointSlices holding pod IPs: the embedded engine has no "
        "pod network and no EndpointSlices (Kubernetes, not Gateway API, features)"
    ),
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
