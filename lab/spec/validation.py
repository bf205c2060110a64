"""What Kubernetes would refuse: a lab's resources against the Gateway API v0.4.0 CRD schemas and webhook.

Every problem becomes a ManifestError naming the file, line and field with a fix; `validate`
collects them all so a user fixes everything in one round. What the API server accepts and the
controller flags (dangling references, no backends) is lab.spec.findings' job: warnings.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from lab.errors import InvalidInput, ManifestError
from lab.spec.manifests import FieldPath, Resource
from lab.spec.routing import GATEWAY_GROUP
from lab.spec.topology import Topology

# Gateway API v0.4.0 (v1alpha2) limits, from the CRD schemas.
MAX_HOSTNAMES = 16
MAX_PARENT_REFS = 32
MAX_RULES = 16
MAX_MATCHES = 8
MAX_BACKEND_REFS = 16
MAX_HEADER_MATCHES = 16
MAX_QUERY_MATCHES = 16
MAX_FILTERS = 16
MAX_LISTENERS = 64
MAX_WEIGHT = 1_000_000
PATH_TYPES = ("Exact", "PathPrefix", "RegularExpression")
VALUE_MATCH_TYPES = ("Exact", "RegularExpression")
METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH")
FILTER_TYPES = ("RequestHeaderModifier", "RequestMirror", "RequestRedirect", "ExtensionRef")
LISTENER_PROTOCOLS = ("HTTP", "HTTPS", "TLS", "TCP", "UDP")
ALLOWED_FROM = ("All", "Same", "Selector")
REDIRECT_CODES = (301, 302)
_HOSTNAME = re.compile(r"^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
# Listener protocols on which v0.4.0's webhook forbids `tls` (apis/v1alpha2/validation/gateway.go).
NO_TLS_PROTOCOLS = ("HTTP", "TCP", "UDP")


class InvalidPlan(InvalidInput):
    """One or more problems in the lab definition; nothing was applied."""

    def __init__(self, errors: Sequence[InvalidInput]) -> None:
        self.errors = list(errors)
        lines = [f"{len(errors)} problem(s) in the lab definition; nothing was applied:"]
        lines += [f"  {e}".replace("\n", "\n  ") for e in errors]
        super().__init__("\n".join(lines))


Report = Callable[[str, FieldPath, str | None], None]


def _seq(value: Any, path: FieldPath, limit: int, report: Report) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        report("must be a list", path, None)
        return []
    if len(value) > limit:
        report(
            f"has {len(value)} entries; Gateway API v1alpha2 allows at most {limit}",
            path,
            f"split it into several rules or routes with at most {limit} each",
        )
    return value


def _mapping(value: Any, path: FieldPath, report: Report) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        report("must be a mapping", path, None)
        return {}
    return value


def _enum(value: Any, allowed: Iterable[str], path: FieldPath, report: Report) -> None:
    allowed = tuple(allowed)
    if value not in allowed:
        report(f"is {value!r}; expected one of {', '.join(allowed)}", path, None)


def _regex(value: Any, path: FieldPath, report: Report) -> None:
    try:
        re.compile(str(value))
    except re.error as exc:
        report(f"is not a valid regular expression ({exc})", path, "fix the pattern")


def _check_match(match: Any, path: list[str | int], report: Report) -> None:
    m = _mapping(match, path, report)
    p = _mapping(m.get("path"), [*path, "path"], report)
    ptype = p.get("type", "PathPrefix")
    _enum(ptype, PATH_TYPES, [*path, "path", "type"], report)
    value = p.get("value", "/")
    if not isinstance(value, str):
        report("must be a string", [*path, "path", "value"], None)
    elif ptype == "RegularExpression":
        _regex(value, [*path, "path", "value"], report)
    elif not value.startswith("/"):
        report(f"is {value!r}; a path must start with '/'", [*path, "path", "value"], f"use '/{value}'")
    for section, limit in (("headers", MAX_HEADER_MATCHES), ("queryParams", MAX_QUERY_MATCHES)):
        for i, h in enumerate(_seq(m.get(section), [*path, section], limit, report)):
            hp = [*path, section, i]
            hm = _mapping(h, hp, report)
            if not hm.get("name"):
                report("name is required", hp, None)
            if not isinstance(hm.get("value"), str):
                report("value is required and must be a string", [*hp, "value"], None)
            htype = hm.get("type", "Exact")
            _enum(htype, VALUE_MATCH_TYPES, [*hp, "type"], report)
            if htype == "RegularExpression":
                _regex(hm.get("value"), [*hp, "value"], report)
    if "method" in m:
        _enum(m.get("method"), METHODS, [*path, "method"], report)


def _check_filter(f: Any, path: list[str | int], report: Report) -> None:
    fm = _mapping(f, path, report)
    ftype = fm.get("type")
    _enum(ftype, FILTER_TYPES, [*path, "type"], report)
    field: str | None = {
        "RequestHeaderModifier": "requestHeaderModifier",
        "RequestRedirect": "requestRedirect",
        "RequestMirror": "requestMirror",
        "ExtensionRef": "extensionRef",
    }.get(str(ftype))
    if field and not isinstance(fm.get(field), Mapping):
        report(f"type {ftype} needs the {field} field", [*path, field], None)
    if field == "requestRedirect" and isinstance(fm.get(field), Mapping):
        code = fm[field].get("statusCode", 302)
        if code not in REDIRECT_CODES:
            report(f"is {code!r}; expected 301 or 302", [*path, field, "statusCode"], None)


def _check_weights(rule_path: list[str | int], backends: list[Any], report: Report) -> None:
    """The CRD's weight schema: an integer from 0 to 1000000 (sums and splits are findings)."""
    for i, b in enumerate(backends):
        if not isinstance(b, Mapping):
            continue
        w = b.get("weight", 1)
        wpath = [*rule_path, "backendRefs", i, "weight"]
        if isinstance(w, bool) or not isinstance(w, int):
            report(
                f"is {w!r}; a weight must be a whole number from 0 to {MAX_WEIGHT}",
                wpath,
                "write an integer weight, e.g. 99 and 1 for a 99/1 split",
            )
        elif not 0 <= w <= MAX_WEIGHT:
            report(
                f"is {w}; a weight must be from 0 to {MAX_WEIGHT}",
                wpath,
                "use 0 to send nothing to this backend, or a positive share",
            )


def _check_parents(route: Resource, report: Report) -> None:
    parents = _seq(route.spec.get("parentRefs"), ["spec", "parentRefs"], MAX_PARENT_REFS, report)
    for i, parent in enumerate(parents):
        ppath: list[str | int] = ["spec", "parentRefs", i]
        if not _mapping(parent, ppath, report).get("name"):
            report("name is required", ppath, "name the lab's Gateway, e.g. name: example-gateway")


def _check_route(route: Resource, report: Report) -> None:
    spec = route.spec
    if not spec:
        report("spec is required", ["spec"], None)
        return
    hostnames = _seq(spec.get("hostnames"), ["spec", "hostnames"], MAX_HOSTNAMES, report)
    for i, h in enumerate(hostnames):
        if not isinstance(h, str) or not _HOSTNAME.match(h):
            report(
                f"is {h!r}; expected a DNS name, optionally starting with '*.'",
                ["spec", "hostnames", i],
                None,
            )
    _check_parents(route, report)
    rules = _seq(spec.get("rules"), ["spec", "rules"], MAX_RULES, report)
    for ri, rule in enumerate(rules):
        rpath: list[str | int] = ["spec", "rules", ri]
        rm = _mapping(rule, rpath, report)
        for mi, match in enumerate(_seq(rm.get("matches"), [*rpath, "matches"], MAX_MATCHES, report)):
            _check_match(match, [*rpath, "matches", mi], report)
        for fi, f in enumerate(_seq(rm.get("filters"), [*rpath, "filters"], MAX_FILTERS, report)):
            _check_filter(f, [*rpath, "filters", fi], report)
        backends = _seq(rm.get("backendRefs"), [*rpath, "backendRefs"], MAX_BACKEND_REFS, report)
        for bi, backend in enumerate(backends):
            bpath: list[str | int] = [*rpath, "backendRefs", bi]
            b = _mapping(backend, bpath, report)
            if not b.get("name"):
                report("name is required", bpath, None)
            for fi, f in enumerate(_seq(b.get("filters"), [*bpath, "filters"], MAX_FILTERS, report)):
                _check_filter(f, [*bpath, "filters", fi], report)
        _check_weights(rpath, backends, report)


def _check_listener(lm: Mapping[str, Any], lp: list[str | int], report: Report) -> None:
    port = lm.get("port")
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        report(f"is {port!r}; expected a port from 1 to 65535", [*lp, "port"], None)
    protocol = lm.get("protocol")
    _enum(protocol, LISTENER_PROTOCOLS, [*lp, "protocol"], report)
    ns_cfg = _mapping(
        _mapping(lm.get("allowedRoutes"), [*lp, "allowedRoutes"], report).get("namespaces"),
        [*lp, "allowedRoutes", "namespaces"],
        report,
    )
    if "from" in ns_cfg:
        _enum(ns_cfg.get("from"), ALLOWED_FROM, [*lp, "allowedRoutes", "namespaces", "from"], report)
    if ns_cfg.get("from") == "Selector" and not isinstance(ns_cfg.get("selector"), Mapping):
        report("from: Selector needs a selector", [*lp, "allowedRoutes", "namespaces"], None)
    if protocol in NO_TLS_PROTOCOLS and lm.get("tls") is not None:
        report(
            f"must be empty for protocol {protocol}: Gateway API v0.4.0 says it is invalid to set tls "
            "on an HTTP, TCP or UDP listener (its webhook refuses the Gateway)",
            [*lp, "tls"],
            "remove tls, or make the listener protocol: HTTPS",
        )
    if protocol == "HTTPS" and not (_mapping(lm.get("tls"), [*lp, "tls"], report).get("certificateRefs")):
        report(
            "an HTTPS listener needs tls.certificateRefs (v0.4.0: tls is required for HTTPS)",
            [*lp, "tls"],
            "add certificateRefs: [{name: consul-server-cert}]",
        )


def _check_gateway(gw: Resource, report: Report) -> None:
    spec = gw.spec
    if not spec.get("gatewayClassName"):
        report("gatewayClassName is required", ["spec", "gatewayClassName"], "use consul-api-gateway")
    listeners = _seq(spec.get("listeners"), ["spec", "listeners"], MAX_LISTENERS, report)
    if not listeners:
        report("needs at least one listener", ["spec", "listeners"], None)
    seen: set[str] = set()
    for i, raw in enumerate(listeners):
        lp: list[str | int] = ["spec", "listeners", i]
        lm = _mapping(raw, lp, report)
        name = lm.get("name")
        if not name:
            report("name is required", lp, None)
        elif name in seen:
            report(f"listener name {name!r} is used twice", [*lp, "name"], None)
        seen.add(str(name))
        _check_listener(lm, lp, report)


def validate(resources: Iterable[Resource]) -> list[ManifestError]:
    """Every problem Kubernetes would refuse in a set of resources; an empty list means valid."""
    topo = Topology(resources)
    errors: list[ManifestError] = []
    for r in topo.resources:

        def report(msg: str, path: FieldPath, fix: str | None, r: Resource = r) -> None:
            errors.append(r.error(msg, path, fix=fix))

        if r.group == GATEWAY_GROUP and r.kind == "HTTPRoute":
            _check_route(r, report)
        elif r.group == GATEWAY_GROUP and r.kind == "Gateway":
            _check_gateway(r, report)
    return errors


def ensure_valid(resources: Iterable[Resource]) -> None:
    """Raise InvalidPlan listing every problem."""
    errors = validate(resources)
    if errors:
        raise InvalidPlan(errors)
