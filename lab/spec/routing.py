"""HTTPRoute semantics of Gateway API v1alpha2: matching, precedence and weighted backend choice.

One routing table serves two users: the plan derives the expected split of a scenario's traffic
from it, and the embedded engine's gateway routes every request with it.
"""

from __future__ import annotations

import bisect
import random
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from lab.spec.hostnames import effective_hostnames, host_match
from lab.spec.manifests import Resource

GATEWAY_GROUP = "gateway.networking.k8s.io"


@dataclass(frozen=True)
class RouteId:
    """A route's identity, printed `{namespace}/{name}` like the specification names routes."""

    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True)
class RefProblem:
    """Why the controller drops a backendRef: the ResolvedRefs=False reason and a message."""

    reason: str
    message: str


@dataclass(frozen=True)
class BackendRef:
    """One backendRef after defaulting: a Service by namespace/name, port, weight and its filters.

    `problem` is set when the controller drops the reference (v0.4.0 HTTPBackendRef: a missing
    referent, or a cross-namespace one no ReferencePolicy allows): its share of the weight gets 503.
    """

    name: str
    namespace: str
    port: int | None
    weight: int
    kind: str = "Service"
    group: str = ""
    filters: tuple[Mapping[str, Any], ...] = field(default=(), compare=False)
    problem: RefProblem | None = None

    @property
    def key(self) -> str:
        """How reports name this backend: the Service name (namespace-qualified off `default`)."""
        return self.name if self.namespace == "default" else f"{self.namespace}/{self.name}"


@dataclass(frozen=True)
class PathMatch:
    """Path match after defaulting (PathPrefix "/")."""

    type: str = "PathPrefix"
    value: str = "/"
    regex: re.Pattern[str] | None = field(default=None, compare=False)

    def matches(self, path: str) -> bool:
        """Exact: the whole path; PathPrefix: whole path elements; RegularExpression: full match."""
        if self.type == "Exact":
            return path == self.value
        if self.type == "PathPrefix":
            prefix = self.value.rstrip("/")
            if not prefix:
                return True
            return path == prefix or path.startswith(prefix + "/")
        assert self.regex is not None  # noqa: S101 - compiled in Rule.from_spec
        return self.regex.fullmatch(path) is not None

    @property
    def rank(self) -> tuple[int, int, int]:
        """Precedence: Exact first; then more characters (prefix or pattern); prefix before regex.

        v1alpha2 ranks by "characters in a matching path" and leaves regular expressions to the
        implementation; counting a pattern's characters keeps a catch-all `/` below `/api/v[0-9]+`.
        """
        if self.type == "Exact":
            return 2, len(self.value), 1
        if self.type == "PathPrefix":
            return 1, len(self.value.rstrip("/")), 1
        return 1, len(self.value), 0


@dataclass(frozen=True)
class ValueMatch:
    """A header or query parameter match (Exact or RegularExpression)."""

    name: str
    value: str
    type: str = "Exact"
    regex: re.Pattern[str] | None = field(default=None, compare=False)

    def matches(self, actual: str | None) -> bool:
        """True when the value is present and matches."""
        if actual is None:
            return False
        if self.type == "Exact":
            return actual == self.value
        assert self.regex is not None  # noqa: S101 - compiled in _value_match
        return self.regex.fullmatch(actual) is not None


@dataclass(frozen=True)
class Match:
    """One HTTPRouteMatch: every condition must hold."""

    path: PathMatch = PathMatch()
    headers: tuple[ValueMatch, ...] = ()
    query: tuple[ValueMatch, ...] = ()
    method: str | None = None


@dataclass(frozen=True)
class Request:
    """What routing looks at: method, host (without port), path, headers (lower-case), query."""

    path: str
    method: str = "GET"
    host: str = "localhost"
    headers: Mapping[str, str] = field(default_factory=dict)
    query: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_target(
        cls,
        target: str,
        *,
        method: str = "GET",
        host: str = "localhost",
        headers: Mapping[str, str] | None = None,
    ) -> Request:
        """Build from a request target like `/echo?x=1` (first value wins per query name)."""
        parts = urlsplit(target)
        query: dict[str, str] = {}
        for k, v in parse_qsl(parts.query, keep_blank_values=True):
            query.setdefault(k, v)
        return cls(
            path=parts.path or "/",
            method=method.upper(),
            host=host.rsplit(":", 1)[0] if host.count(":") == 1 else host,
            headers={k.lower(): v for k, v in (headers or {}).items()},
            query=query,
        )


@dataclass(frozen=True)
class Rule:
    """One HTTPRouteRule of one route, with defaults applied and regexes compiled."""

    route: RouteId
    index: int
    matches: tuple[Match, ...]
    backends: tuple[BackendRef, ...]
    filters: tuple[Mapping[str, Any], ...] = ()
    hostnames: tuple[str, ...] = ()
    order: int = 0
    _cumulative: tuple[int, ...] = field(default=(), compare=False, repr=False)

    def __post_init__(self) -> None:
        total = 0
        cumulative = []
        for backend in self.backends:
            total += max(backend.weight, 0)
            cumulative.append(total)
        object.__setattr__(self, "_cumulative", tuple(cumulative))

    @property
    def total_weight(self) -> int:
        """Sum of the weights; 0 (no backendRefs, or all weight 0) means nothing is chosen: 503."""
        return self._cumulative[-1] if self._cumulative else 0

    def choose(self, rng: random.Random) -> BackendRef | None:
        """Per-request weighted random choice; weight 0 is never chosen; None when all are 0."""
        total = self.total_weight
        if total <= 0:
            return None
        pick = rng.randrange(total)
        return self.backends[bisect.bisect_right(self._cumulative, pick)]

    def expected_weights(self) -> dict[str, int]:
        """Weights per backend key (summed when a Service appears twice)."""
        out: dict[str, int] = {}
        for backend in self.backends:
            out[backend.key] = out.get(backend.key, 0) + backend.weight
        return out


def _compile(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _value_match(raw: Mapping[str, Any], *, lower_name: bool) -> ValueMatch:
    kind = str(raw.get("type", "Exact"))
    name = str(raw.get("name", ""))
    value = str(raw.get("value", ""))
    return ValueMatch(
        name=name.lower() if lower_name else name,
        value=value,
        type=kind,
        regex=_compile(value) if kind == "RegularExpression" else None,
    )


def _match(raw: Mapping[str, Any]) -> Match:
    path_raw = raw.get("path") or {}
    ptype = str(path_raw.get("type", "PathPrefix"))
    pvalue = str(path_raw.get("value", "/"))
    path = PathMatch(ptype, pvalue, _compile(pvalue) if ptype == "RegularExpression" else None)
    return Match(
        path=path,
        headers=tuple(_value_match(h, lower_name=True) for h in raw.get("headers") or ()),
        query=tuple(_value_match(q, lower_name=False) for q in raw.get("queryParams") or ()),
        method=str(raw["method"]).upper() if raw.get("method") else None,
    )


# How the engine's controller judges one backendRef of a route: None when it resolves.
Resolver = Callable[[Resource, BackendRef], RefProblem | None]


def _backend(raw: Mapping[str, Any], namespace: str) -> BackendRef:
    return BackendRef(
        name=str(raw.get("name")),
        namespace=str(raw.get("namespace") or namespace),
        port=raw.get("port"),
        weight=int(raw.get("weight", 1)),
        kind=str(raw.get("kind", "Service")),
        group=str(raw.get("group", "")),
        filters=tuple(f for f in raw.get("filters") or () if isinstance(f, Mapping)),
    )


def rules_of(
    route: Resource,
    order: int = 0,
    listener_hostname: str | None = None,
    resolve: Resolver | None = None,
) -> tuple[Rule, ...]:
    """The rules of an HTTPRoute with the specification's defaults applied, on one listener.

    `resolve` marks the backendRefs the controller drops (they stay in the rule, keeping its weights).
    """
    spec = route.spec
    rid = RouteId(route.namespace or "default", route.name)
    effective = effective_hostnames(listener_hostname, [str(h).lower() for h in spec.get("hostnames") or ()])
    if effective is None:
        return ()
    hostnames = effective
    raw_rules = spec.get("rules") or [{}]
    out = []
    for i, raw in enumerate(raw_rules):
        matches = tuple(_match(m) for m in raw.get("matches") or [{}])
        backends = tuple(_backend(b, rid.namespace) for b in raw.get("backendRefs") or ())
        if resolve is not None:
            backends = tuple(replace(b, problem=resolve(route, b)) for b in backends)
        filters = tuple(raw.get("filters") or ())
        out.append(Rule(rid, i, matches, backends, filters, hostnames, order))
    return tuple(out)


@dataclass(frozen=True)
class Selection:
    """The rule a request selected and the match that selected it."""

    rule: Rule
    match: Match


def _request_matches(match: Match, request: Request) -> bool:
    if match.method is not None and match.method != request.method:
        return False
    if not match.path.matches(request.path):
        return False
    if not all(h.matches(request.headers.get(h.name)) for h in match.headers):
        return False
    return all(q.matches(request.query.get(q.name)) for q in match.query)


class RouteTable:
    """All rules of the routes attached to one listener, in v0.4.0 precedence.

    Candidates are ordered by: hostname specificity, path (Exact, then longest prefix), number of
    header matches, number of query matches, then oldest route (apply order), then rule and match
    order. The first candidate that matches wins. The specification's last tie-break,
    `{namespace}/{name}`, only decides between routes created in the same second; apply order
    gives every route its own rank, so it never comes into play here.
    A method match only filters: v0.4.0's list (apis/v1alpha2/httproute_types.go, `Matches`) does
    not rank it; "Method match" joined the list in v0.8.0 (apis/v1beta1/httproute_types.go).
    """

    def __init__(
        self,
        routes: Iterable[Resource | tuple[Resource, str | None]],
        resolve: Resolver | None = None,
    ) -> None:
        """Routes in definition order, each alone or with the hostname of the listener it is on."""
        pairs = [r if isinstance(r, tuple) else (r, None) for r in routes]
        self.rules: tuple[Rule, ...] = tuple(
            rule
            for order, (route, host) in enumerate(pairs)
            for rule in rules_of(route, order, host, resolve)
        )
        self._by_host: dict[str, tuple[tuple[Rule, Match], ...]] = {}

    def _candidates(self, host: str) -> tuple[tuple[Rule, Match], ...]:
        cached = self._by_host.get(host)
        if cached is not None:
            return cached
        keyed = []
        for rule in self.rules:
            spec = host_match(rule.hostnames, host)
            if spec is None:
                continue
            for mi, match in enumerate(rule.matches):
                key = (
                    (-spec[0], -spec[1]),
                    tuple(-x for x in match.path.rank),
                    -len(match.headers),
                    -len(match.query),
                    rule.order,
                    rule.index,
                    mi,
                )
                keyed.append((key, (rule, match)))
        keyed.sort(key=lambda kv: kv[0])
        result = tuple(rm for _, rm in keyed)
        if len(self._by_host) < 1024:
            self._by_host[host] = result
        return result

    def select(self, request: Request) -> Selection | None:
        """The winning rule for a request, or None (the gateway answers 404)."""
        for rule, match in self._candidates(request.host):
            if _request_matches(match, request):
                return Selection(rule, match)
        return None
