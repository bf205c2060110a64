"""Translated upstream tests about filters and weights: RequestRedirect, RequestHeaderModifier, RequestMirror.

Requests name their port in Host the way curl does (none for 80 and 443); a redirect without a
port keeps "the port (if specified) of the request" (v0.4.0 HTTPRequestRedirectFilter.Port).
"""

from __future__ import annotations

from tests.conformance.cases import V1, V2, V3, Case, Pair, Sample, Step, h, ok, one

HTTP_8080, HTTPS = 8080, 443
PORT_OF_THE_REQUEST = (
    "upstream expects https://example.org/... (from v0.5.0 a scheme without a port redirects to its "
    "well-known port); v0.4.0 HTTPRequestRedirectFilter.Port: 'When empty, port (if specified) of "
    "the request is used', and this request came to port 8080"
)


def moved(
    path: str,
    location: str,
    status: int = 302,
    port: int = 80,
    host: str | None = None,
    v040: str | None = None,
) -> Pair:
    """A request the route answers with a redirect to `location` (the request path appended)."""
    return Pair(path, status=status, port=port, host=host, location=location + path, v040=v040)


def _redirect_port_and_scheme() -> Case:
    org = "http://example.org"
    on_80 = (
        moved("/scheme-nil-and-port-nil", org),
        moved("/scheme-nil-and-port-80", org),
        moved("/scheme-nil-and-port-8080", org + ":8080"),
        moved("/scheme-https-and-port-nil", "https://example.org"),
        moved("/scheme-https-and-port-443", "https://example.org"),
        moved("/scheme-https-and-port-8443", "https://example.org:8443"),
    )
    on_8080 = (
        moved("/scheme-nil-and-port-nil", org + ":8080", port=HTTP_8080),
        moved("/scheme-nil-and-port-80", org, port=HTTP_8080),
        moved(
            "/scheme-https-and-port-nil", "https://example.org:8080", port=HTTP_8080, v040=PORT_OF_THE_REQUEST
        ),
    )
    on_443 = tuple(
        moved(path, location, port=HTTPS, host="example.org")
        for path, location in (
            ("/scheme-nil-and-port-nil", "https://example.org"),
            ("/scheme-nil-and-port-443", "https://example.org"),
            ("/scheme-nil-and-port-8443", "https://example.org:8443"),
            ("/scheme-http-and-port-nil", org),
            ("/scheme-http-and-port-80", org),
            ("/scheme-http-and-port-8080", org + ":8080"),
        )
    )
    routes = (
        "http-route-for-listener-on-port-80",
        "http-route-for-listener-on-port-8080",
        "http-route-for-listener-on-port-443",
    )
    conditions = tuple(c for r in routes for c in ok(r))
    return Case(
        "HTTPRouteRedirectPortAndScheme",
        (Step(("redirect-port-and-scheme",), on_80 + on_8080 + on_443, conditions),),
        note="the HTTPS listener serves the lab CA's certificate (verified as localhost) for its Secret",
    )


def _header_modifier(
    name: str = "HTTPRouteRequestHeaderModifier", manifest: str = "request-header-modifier"
) -> Case:
    """The same requests for the filter on the rule (v1.0.0) and on its backendRef (v1.1.0)."""
    v = "some-other-value"
    pairs = (
        Pair(
            "/set",
            V1,
            headers=h(Some_Other_Header="val"),
            seen=h(Some_Other_Header="val", X_Header_Set="set-overwrites-values"),
        ),
        Pair(
            "/set",
            V1,
            headers=h(Some_Other_Header="val", X_Header_Set=v),
            seen=h(X_Header_Set="set-overwrites-values"),
        ),
        Pair(
            "/add",
            V1,
            headers=h(Some_Other_Header="val"),
            seen=h(Some_Other_Header="val", X_Header_Add="add-appends-values"),
        ),
        Pair("/add", V1, headers=h(X_Header_Add=v), seen=h(X_Header_Add=f"{v},add-appends-values")),
        Pair("/remove", V1, headers=h(X_Header_Remove="val"), absent=("X-Header-Remove",)),
        Pair(
            "/multiple",
            V1,
            headers=h(
                X_Header_Set_2="set-val-2",
                X_Header_Add_2="add-val-2",
                X_Header_Remove_2="remove-val-2",
                Another_Header="another-header-val",
            ),
            seen=h(
                X_Header_Set_1="header-set-1",
                X_Header_Set_2="header-set-2",
                X_Header_Add_1="header-add-1",
                X_Header_Add_2="add-val-2,header-add-2",
                X_Header_Add_3="header-add-3",
                Another_Header="another-header-val",
            ),
            absent=("X-Header-Remove-1", "X-Header-Remove-2"),
        ),
        Pair(
            "/case-insensitivity",
            V1,
            headers=(
                ("x-header-set", "original-val-set"),
                ("x-header-add", "original-val-add"),
                ("x-header-remove", "gone"),
                ("Another-Header", "x"),
            ),
            seen=h(X_Header_Set="header-set", X_Header_Add="original-val-add,header-add", Another_Header="x"),
            absent=("x-header-remove",),
        ),
    )
    return Case(name, (Step((manifest,), pairs, ok("request-header-modifier")),))


FILTERS: tuple[Case, ...] = (
    one(
        "HTTPRouteRedirectHostAndStatus",
        "redirect-host-and-status",
        moved("/hostname-redirect", "http://example.org"),
        moved("/host-and-status", "http://example.org", status=301),
        conditions=ok("redirect-host-and-status"),
    ),
    one(
        "HTTPRouteRedirectPort",
        "redirect-port",
        moved("/port", "http://localhost:8083"),
        moved("/port-and-host", "http://example.org:8083"),
        moved("/port-and-status", "http://localhost:8083", status=301),
        moved("/port-and-host-and-status", "http://example.org:8083"),
        conditions=ok("redirect-port"),
    ),
    one(
        "HTTPRouteRedirectScheme",
        "redirect-scheme",
        moved("/scheme", "https://localhost"),
        moved("/scheme-and-host", "https://example.org"),
        moved("/scheme-and-status", "https://localhost", status=301),
        moved("/scheme-and-host-and-status", "https://example.org"),
        conditions=ok("redirect-scheme"),
    ),
    _redirect_port_and_scheme(),
    _header_modifier(),
    _header_modifier("HTTPRouteBackendRequestHeaderModifier", "request-header-modifier-backend"),
    Case(
        "HTTPRouteWeight",
        (
            Step(
                ("weight",),
                conditions=ok("weighted-backends"),
                samples=(Sample("/", ((V1, 70), (V2, 30), (V3, 0))),),
            ),
        ),
        note="the lab's exact test at alpha 0.001 in place of upstream's +/-5 point band retried",
    ),
    Case(
        "HTTPRouteRequestHeaderModifierBackendWeights",
        (
            Step(
                ("request-header-modifier-backend-weights",),
                conditions=ok("request-header-modifier-backend-weights"),
                samples=(Sample("/", ((V1, 10), (V2, 10)), requests=100, header="Backend"),),
            ),
        ),
        note="each answer's Backend header names its pod's backend, as upstream; the split judged too",
    ),
    one(
        "HTTPRouteRequestMirror",
        "request-mirror",
        Pair("/mirror", V1),
        Pair(
            "/mirror-and-modify-headers",
            V1,
            headers=h(X_Header_Remove="remove-val", X_Header_Add_Append="append-val-1"),
            seen=h(
                X_Header_Add="header-val-1",
                X_Header_Add_Append="append-val-1,header-val-2",
                X_Header_Set="set-overwrites-values",
            ),
            absent=("X-Header-Remove",),
        ),
        conditions=ok("request-mirror"),
        note="the responses only: RequestMirror is accepted and not emulated, so no mirrored copy is checked",
    ),
)
