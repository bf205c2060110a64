"""Translated upstream tests about attachment and references: hostnames, namespaces, kinds, grants.

ReferenceGrant (v1beta1, from v0.6.0) is ReferencePolicy in v0.4.0; invalid backends answer 503.
"""

from __future__ import annotations

from tests.conformance.cases import (
    APP,
    BACKENDS,
    INFRA,
    V040_503,
    V1,
    V2,
    V3,
    WEB,
    Attached,
    Case,
    Cond,
    Pair,
    Step,
    ok,
    one,
)

HI = "httproute-hostname-intersection"
UNRESOLVED = "upstream reason {}; v0.4.0 names no route reasons, so the lab's controller's ({}) stands in"


def _hostname_intersection() -> Case:
    pairs = [
        Pair("/s1", V1, host="very.specific.com"),
        Pair("/s1", V1, host="very.specific.com:1234"),
        *(
            Pair("/s1", status=404, host=x)
            for x in ("non.matching.com", "foo.nonmatchingwildcard.io", "foo.wildcard.io")
        ),
        Pair("/non-matching-prefix", status=404, host="very.specific.com"),
        *(Pair("/s2", V2, host=x) for x in ("foo.wildcard.io", "bar.wildcard.io", "foo.bar.wildcard.io")),
        *(Pair("/s2", status=404, host=x) for x in ("non.matching.com", "wildcard.io", "very.specific.com")),
        Pair("/non-matching-prefix", status=404, host="foo.wildcard.io"),
        Pair("/s3", V3, host="very.specific.com"),
        *(
            Pair("/s3", status=404, host=x)
            for x in ("non.matching.com", "foo.specific.com", "foo.wildcard.io")
        ),
        Pair("/non-matching-prefix", status=404, host="very.specific.com"),
        *(
            Pair("/s4", V1, host=x)
            for x in ("foo.anotherwildcard.io", "bar.anotherwildcard.io", "foo.bar.anotherwildcard.io")
        ),
        *(
            Pair("/s4", status=404, host=x)
            for x in ("anotherwildcard.io", "foo.wildcard.io", "very.specific.com")
        ),
        Pair("/non-matching-prefix", status=404, host="foo.anotherwildcard.io"),
        Pair("/s5", status=404, host="specific.but.wrong.com"),
        Pair("/s5", status=404, host="wildcard.io"),
    ]
    routes = (
        "specific-host-matches-listener-specific-host",
        "specific-host-matches-listener-wildcard-host",
        "wildcard-host-matches-listener-specific-host",
        "wildcard-host-matches-listener-wildcard-host",
    )
    conditions = tuple(c for r in routes for c in ok(r)) + (
        Cond("no-intersecting-hosts", "Accepted", "False", "ListenerHostnameMismatch"),
    )
    return Case(
        "HTTPRouteHostnameIntersection", (Step(("hostname-intersection",), tuple(pairs), conditions),)
    )


def dropped(name: str, file: str, route: str, reason: str, path: str = "/", note: str = "") -> Case:
    """A route whose only backendRef the controller drops: ResolvedRefs False, and 503."""
    return one(
        name,
        file,
        Pair(path, status=503, v040=V040_503),
        conditions=(Cond(route, "ResolvedRefs", "False", reason),),
        note=note,
    )


def unbound(
    name: str,
    file: str,
    reason: str,
    attached: Attached,
    namespace: str = INFRA,
    route: str = "",
    note: str = "",
) -> Case:
    """A route no listener accepts (Accepted False), whose references resolve; no route attached."""
    route = route or file
    conditions = (
        Cond(route, "Accepted", "False", reason, namespace),
        Cond(route, "ResolvedRefs", "True", namespace=namespace),
    )
    return Case(name, (Step((file,), conditions=conditions, attached=(attached,)),), note)


REFERENCES: tuple[Case, ...] = (
    _hostname_intersection(),
    one(
        "HTTPRouteNoBackendRefs",
        "omitted-backendrefs",
        Pair("/forward", V1),
        Pair("/omitted-no-forward", status=503, v040=V040_503),
        Pair("/empty-no-forward", status=503, v040=V040_503),
        conditions=ok("omitted-backendrefs"),
    ),
    one(
        "HTTPRouteListenerHostnameMatching",
        "listener-hostname-matching",
        Pair("/", V1, host="bar.com"),
        Pair("/", V2, host="foo.bar.com"),
        Pair("/", V3, host="baz.bar.com"),
        Pair("/", V3, host="boo.bar.com"),
        Pair("/", V3, host="multiple.prefixes.bar.com"),
        Pair("/", V3, host="multiple.prefixes.foo.com"),
        Pair("/", status=404, host="foo.com"),
        Pair("/", status=404, host="no.matching.host"),
        conditions=ok("backend-v1") + ok("backend-v2") + ok("backend-v3"),
    ),
    one(
        "HTTPRouteCrossNamespace",
        "cross-namespace",
        Pair("/", "web-backend", namespace=WEB, port=BACKENDS),
        conditions=ok("cross-namespace", namespace=WEB),
    ),
    unbound(
        "HTTPRouteDisallowedKind",
        "disallowed-kind",
        "InvalidRouteKind",
        Attached("tlsroutes-only", "tls", 0),
        note=UNRESOLVED.format("NotAllowedByListeners", "InvalidRouteKind"),
    ),
    dropped(
        "HTTPRouteInvalidNonExistentBackendRef",
        "invalid-backendref-nonexistent",
        "invalid-nonexistent-backend-ref",
        "ServiceNotFound",
        note=UNRESOLVED.format("BackendNotFound", "ServiceNotFound"),
    ),
    dropped(
        "HTTPRouteInvalidBackendRefUnknownKind",
        "invalid-backendref-unknown-kind",
        "invalid-backend-ref-unknown-kind",
        "Errors",
        path="/v2",
        note=UNRESOLVED.format("InvalidKind", "Errors"),
    ),
    dropped(
        "HTTPRouteInvalidCrossNamespaceBackendRef",
        "invalid-cross-namespace-backend-ref",
        "invalid-cross-namespace-backend-ref",
        "RefNotPermitted",
        note="ReferencePolicy (v0.4.0) in place of ReferenceGrant",
    ),
    unbound(
        "HTTPRouteInvalidCrossNamespaceParentRef",
        "invalid-cross-namespace-parent-ref",
        "ListenerNamespacePolicy",
        Attached("same-namespace", "http", 0),
        namespace=WEB,
        note=UNRESOLVED.format("NotAllowedByListeners", "ListenerNamespacePolicy"),
    ),
    unbound(
        "HTTPRouteInvalidParentRefNotMatchingSectionName",
        "invalid-parentref-not-matching-section-name",
        "BindError",
        Attached("same-namespace", "http", 0),
        route="httproute-listener-not-matching-section-name",
        note=UNRESOLVED.format("NoMatchingParent", "BindError") + "; ParentRef.port (v0.5.0) left out",
    ),
    Case(
        "HTTPRouteReferenceGrant",
        (
            Step(("reference-grant",), (Pair("/", "web-backend", namespace=WEB),), ok("reference-grant")),
            Step(
                ("reference-grant-removed",),
                (Pair("/", status=503, v040=V040_503),),
                (Cond("reference-grant", "ResolvedRefs", "False", "RefNotPermitted"),),
            ),
        ),
        note="ReferencePolicy in place of ReferenceGrant; deleting it is re-applying the set without it",
    ),
    one(
        "HTTPRouteInvalidReferenceGrant",
        "invalid-reference-grant",
        Pair("/", status=503, v040=V040_503),
        conditions=(Cond("reference-grant", "ResolvedRefs", "False", "RefNotPermitted"),),
        note="ReferencePolicy in place of ReferenceGrant",
    ),
    one(
        "HTTPRoutePartiallyInvalidViaInvalidReferenceGrant",
        "partially-invalid-via-reference-grant",
        Pair("/v2", status=503, v040=V040_503),
        Pair("/", "app-backend-v1", namespace=APP),
        conditions=(
            Cond("invalid-reference-grant", "Accepted", "True"),
            Cond("invalid-reference-grant", "ResolvedRefs", "False", "RefNotPermitted"),
        ),
        note="ReferencePolicy in place of ReferenceGrant; valid rules keep serving (v0.4.0 Listener.AllowedRoutes)",
    ),
)
