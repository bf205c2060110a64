"""A fake Kubernetes API server on loopback: discovery, server-side apply, get/list/delete, with the
behaviour of tests/fakes/cluster_model.py behind it (in virtual time) and the real CRD schemas.

Answers in the API server's shapes: a Status object with code/reason/message for errors (422 Invalid
from schema validation, 500 InternalError from a refusing webhook, 404 NotFound, 403 Forbidden for
what `denied` forbids). A path listed in `stall` never answers (a stuck connection), to test request
timeouts. Pods' port-forward endpoint is served over websocket (tests/fakes/portforward.py), and
SelfSubjectAccessReviews are answered from `denied` (authorization.k8s.io/v1, as the RBAC
authorizer would for the same rules).
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

from tests.fakes import portforward
from tests.fakes.clock import VirtualClock
from tests.fakes.cluster_model import Cluster


@dataclass
class Kind:
    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool


CORE = [
    Kind("", "v1", "namespaces", "Namespace", False),
    Kind("", "v1", "services", "Service", True),
    Kind("", "v1", "serviceaccounts", "ServiceAccount", True),
    Kind("", "v1", "pods", "Pod", True),
    Kind("", "v1", "events", "Event", True),
    Kind("", "v1", "secrets", "Secret", True),
    Kind("", "v1", "configmaps", "ConfigMap", True),
    Kind("apps", "v1", "deployments", "Deployment", True),
    Kind("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False),
    Kind("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", False),
    Kind("rbac.authorization.k8s.io", "v1", "roles", "Role", True),
    Kind("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", True),
    Kind("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", False),
    Kind("authorization.k8s.io", "v1", "selfsubjectaccessreviews", "SelfSubjectAccessReview", False),
]
# A forbidden request: (verb, API group, resource, namespace); namespace "*" means every namespace and
# the cluster scope ("" alone means the cluster scope).
Rule = tuple[str, str, str, str]
# the CRDs the Consul chart itself installs (consul-k8s v0.40.0 charts/consul/templates/crd-*.yaml)
CONSUL_KINDS = [
    Kind("consul.hashicorp.com", "v1alpha1", p, k, True)
    for p, k in [
        ("servicedefaults", "ServiceDefaults"),
        ("serviceintentions", "ServiceIntentions"),
        ("serviceresolvers", "ServiceResolver"),
        ("servicerouters", "ServiceRouter"),
        ("servicesplitters", "ServiceSplitter"),
        ("proxydefaults", "ProxyDefaults"),
    ]
]


@dataclass
class FakeKube:
    log_path: Path
    ca_pem: bytes
    clock: VirtualClock = field(default_factory=VirtualClock)
    kinds: list[Kind] = field(default_factory=lambda: list(CORE))
    crd_files: dict[str, bytes] = field(default_factory=dict)
    stall: set[str] = field(default_factory=set)
    on_reset: Any = None
    server_cert_pem: bytes = b""
    server_key_pem: bytes = b""
    git_version: str = "v1.21.1"
    denied: set[Rule] = field(default_factory=set)
    # when set, the RBAC authorizer allows only what it says yes to: (verb, group, resource, namespace, name)
    allowed: Any = None
    # every request answered 403: (verb, resource, namespace, name)
    refused: list[tuple[str, str, str, str]] = field(default_factory=list)
    # (namespace, pod, port) -> where that pod's port listens (the world's fake gateway pods)
    pod_address: Any = None
    cluster: Cluster = field(init=False)

    def __post_init__(self) -> None:
        self.cluster = Cluster(self.clock, self.ca_pem, server_cert_pem=self.server_cert_pem,
                               server_key_pem=self.server_key_pem)
        self.cluster.plural_of = self.plural_of
        self.lock = self.clock.lock

    @property
    def behaviour(self) -> Any:
        return self.cluster.behaviour

    def log(self, method: str, path: str, query: dict[str, list[str]], content_type: str | None) -> None:
        q = "&".join(f"{k}={v[0]}" for k, v in sorted(query.items()))
        entry = {
            "t": time.time(),
            "src": "api",
            "method": method,
            "path": path + (f"?{q}" if q else ""),
            "content_type": content_type,
        }
        with open(self.log_path, "a") as fh:
            fh.write(json.dumps(entry) + "\n")

    # -- registry ---------------------------------------------------------------------------------
    def find(self, group: str, version: str, plural: str) -> Kind | None:
        return next(
            (k for k in self.kinds if (k.group, k.version, k.plural) == (group, version, plural)), None
        )

    def plural_of(self, kind: str) -> tuple[str, str]:
        k = next(k for k in self.kinds if k.kind == kind)
        return k.group, k.plural

    def register(self, kind: Kind) -> None:
        if not self.find(kind.group, kind.version, kind.plural):
            self.kinds.append(kind)

    def forbidden(self, verb: str, group: str, plural: str, ns: str, name: str = "") -> bool:
        """Whether `denied` (or, when set, `allowed`) forbids the request, as the RBAC authorizer would."""
        if self.allowed is not None and not self.allowed(verb, group, plural, ns, name):
            return True
        return any(
            (v, g, r) == (verb, group, plural) and (n == "*" or n == ns) for v, g, r, n in self.denied
        )

    def access_review(self, body: dict[str, Any]) -> dict[str, Any]:
        """A SelfSubjectAccessReview with its status (authorization/v1 SubjectAccessReviewStatus)."""
        attrs = (body.get("spec") or {}).get("resourceAttributes") or {}
        resource = str(attrs.get("resource", "")) + (f"/{attrs['subresource']}" if attrs.get("subresource") else "")
        denied = self.forbidden(
            str(attrs.get("verb")), str(attrs.get("group", "")), resource, str(attrs.get("namespace", "")),
            str(attrs.get("name", "")),
        )
        status = {"allowed": not denied}
        if denied:
            status["reason"] = ""
        return {**body, "status": status}

    def apply(self, kind: Kind, ns: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if kind.kind == "CustomResourceDefinition":
            dropped = self.cluster.dropped_stored_versions(body)
            if dropped:
                # apiextensions validation: every status.storedVersions entry must stay in spec.versions
                # (k8s.io/apiextensions-apiserver pkg/apis/apiextensions/validation ValidateCustomResourceDefinitionStoredVersions)
                index, version = dropped
                message = (
                    f'CustomResourceDefinition.apiextensions.k8s.io "{body["metadata"]["name"]}" is invalid: '
                    f'status.storedVersions[{index}]: Invalid value: "{version}": must appear in spec.versions'
                )
                return 422, _status(422, "Invalid", message)
        refused = self.cluster.admit(kind.kind, kind.group, body)
        if refused is not None:
            code, reason, message = refused
            return code, _status(code, reason, message)
        key = (kind.group, kind.plural, ns if kind.namespaced else "", body["metadata"]["name"])
        obj, changed = self.cluster.put(key, kind.kind, f"{kind.group}/{kind.version}".lstrip("/"), body)
        if changed:
            if kind.kind == "CustomResourceDefinition":
                spec = obj["spec"]
                for v in spec["versions"]:
                    self.register(
                        Kind(
                            spec["group"],
                            v["name"],
                            spec["names"]["plural"],
                            spec["names"]["kind"],
                            spec["scope"] == "Namespaced",
                        )
                    )
            self.cluster.react(kind.kind, obj)
        return 200, obj

    def reset(self) -> None:
        """`kind delete cluster`: the API server and everything in it are gone (behaviour stays)."""
        old = self.cluster
        self.kinds = list(CORE)
        self.cluster = Cluster(self.clock, self.ca_pem, old.behaviour, server_cert_pem=self.server_cert_pem,
                               server_key_pem=self.server_key_pem)
        self.cluster.plural_of = self.plural_of
        self.cluster.on_gateway_ready, self.cluster.on_route_accepted = (
            old.on_gateway_ready,
            old.on_route_accepted,
        )
        if self.on_reset is not None:
            self.on_reset()

    def helm(self, action: str, ns: str, host_ports: bool = True) -> dict[str, Any]:
        if action == "install":
            self.clock.frozen = False
            for k in CONSUL_KINDS:
                self.register(k)
            self.cluster.helm_install(ns, host_ports)
        elif action == "deployed":
            self.cluster.helm_deployed()
            self.clock.frozen = True  # until the code under test acts on helm's answer
        elif action == "uninstall":
            self.cluster.helm_uninstall(ns)
        return {"ready": self.cluster.helm_ready(ns), "now": self.clock.now()}

    # -- HTTP -------------------------------------------------------------------------------------
    def discovery(self, path: str) -> dict[str, Any] | None:
        if path == "/version":
            major, minor = self.git_version.lstrip("v").split(".")[:2]
            return {"major": major, "minor": minor, "gitVersion": self.git_version}
        if path == "/api":
            return {"kind": "APIVersions", "versions": ["v1"]}
        if path == "/apis":
            groups: dict[str, list[str]] = {}
            for k in self.kinds:
                if k.group and k.version not in groups.setdefault(k.group, []):
                    groups[k.group].append(k.version)
            return {
                "kind": "APIGroupList",
                "apiVersion": "v1",
                "groups": [
                    {
                        "name": g,
                        "versions": [{"groupVersion": f"{g}/{v}", "version": v} for v in vs],
                        "preferredVersion": {"groupVersion": f"{g}/{vs[0]}", "version": vs[0]},
                    }
                    for g, vs in groups.items()
                ],
            }
        parts = path.strip("/").split("/")
        if parts[0] == "api" and len(parts) == 2:
            group, version = "", parts[1]
        elif parts[0] == "apis" and len(parts) == 3:
            group, version = parts[1], parts[2]
        else:
            return None
        kinds = [k for k in self.kinds if (k.group, k.version) == (group, version)]
        if not kinds:
            return {"__status": 404}
        return {
            "kind": "APIResourceList",
            "groupVersion": f"{group}/{version}".lstrip("/"),
            "resources": [
                {
                    "name": k.plural,
                    "singularName": k.kind.lower(),
                    "namespaced": k.namespaced,
                    "kind": k.kind,
                    "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"],
                }
                for k in kinds
            ],
        }

    def route(self, path: str) -> tuple[Kind, str, str | None] | None:
        parts = path.strip("/").split("/")
        if parts[0] == "api":
            version, rest, group = parts[1], parts[2:], ""
        elif parts[0] == "apis" and len(parts) > 2:
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            return None
        ns = ""
        if len(rest) >= 3 and rest[0] == "namespaces":
            ns, rest = rest[1], rest[2:]
        kind = self.find(group, version, rest[0]) if rest else None
        if kind is None:
            return None
        return kind, ns, rest[1] if len(rest) > 1 else None


def _status(code: int, reason: str, message: str) -> dict[str, Any]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "reason": reason,
        "message": message,
        "code": code,
    }


def _matches(obj: dict[str, Any], selector: dict[str, str]) -> bool:
    labels = obj["metadata"].get("labels") or {}
    return all(labels.get(k) == v for k, v in selector.items())


def make_handler(fake: FakeKube) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def reply(self, code: int, body: Any, ctype: str = "application/json") -> None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def handle_any(self, method: str) -> None:
            url = urlparse(self.path)
            query = parse_qs(url.query)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            path = url.path
            if any(s in path for s in fake.stall):
                time.sleep(30)  # a connection that never answers (the client must time out)
                return
            if path.startswith("/_crds/"):
                name = path.rsplit("/", 1)[1]
                fake.log(method, path, {}, None)
                if name in fake.crd_files:
                    return self.reply(200, fake.crd_files[name], "text/plain")
                return self.reply(404, b"404: Not Found", "text/plain")
            if path == "/_fake/cluster-deleted":
                with fake.lock:
                    fake.reset()
                return self.reply(200, {})
            if path.startswith("/_fake/helm-"):
                with fake.lock:
                    fake.clock.due()
                    out = fake.helm(
                        path.rsplit("-", 1)[1],
                        query.get("namespace", ["default"])[0],
                        query.get("hostports", ["true"])[0] == "true",
                    )
                return self.reply(200, out)
            fake.log(method, path, query, self.headers.get("Content-Type") if raw else None)
            if method == "GET" and path.endswith("/portforward"):
                return self.port_forward(path, query)
            if not (method == "GET" and path.rsplit("/", 1)[-1] in ("pods", "events")):
                fake.clock.frozen = False  # anything but the polling of pods: helm's answer was used
            with fake.lock:
                fake.clock.due()
                self.serve(method, path, query, raw)

        def port_forward(self, path: str, query: dict[str, list[str]]) -> None:
            """GET .../pods/NAME/portforward (websocket): 404 for a missing pod, else relay to its port."""
            parts = path.strip("/").split("/")  # api v1 namespaces NS pods NAME portforward
            ns, name = parts[3], parts[5]
            with fake.lock:
                fake.clock.due()
                pod = fake.cluster.objects.get(("", "pods", ns, name))
                # the websocket upgrade is a GET: the authorizer sees verb "get" on pods/portforward
                # (k8s.io/apiserver pkg/endpoints/request/requestinfo.go: connect verbs follow the HTTP method)
                denied = fake.forbidden("get", "", "pods/portforward", ns, name)
            if denied:
                fake.refused.append(("get", "pods/portforward", ns, name))
                return self.reply(403, _status(403, "Forbidden", f'pods "{name}" is forbidden: cannot get resource "pods/portforward" in the namespace "{ns}"'))
            if pod is None:
                return self.reply(404, _status(404, "NotFound", f'pods "{name}" not found'))
            ports = [int(p) for v in query.get("ports", []) for p in v.split(",")]
            address = fake.pod_address or (lambda n, p, port: None)
            portforward.serve(self, ns, name, ports, address)

        def serve(self, method: str, path: str, query: dict[str, list[str]], raw: bytes) -> None:
            if method == "GET":
                disc = fake.discovery(path)
                if disc is not None:
                    if disc.get("__status") == 404:
                        return self.reply(
                            404, _status(404, "NotFound", "the server could not find the requested resource")
                        )
                    return self.reply(200, disc)
            found = fake.route(path)
            if found is None:
                return self.reply(404, _status(404, "NotFound", f"no route for {path}"))
            kind, ns, name = found
            key = (kind.group, kind.plural, ns if kind.namespaced else "", name or "")
            if method == "POST" and kind.kind == "SelfSubjectAccessReview":
                return self.reply(201, fake.access_review(json.loads(raw)))
            verb = {"PATCH": "patch", "DELETE": "delete", "GET": "get" if name else "list"}.get(method, "")
            if fake.forbidden(verb, kind.group, kind.plural, ns, name or ""):
                fake.refused.append((verb, kind.plural, ns, name or ""))
                where = f' in the namespace "{ns}"' if ns else " at the cluster scope"
                return self.reply(403, _status(403, "Forbidden", f'{kind.plural}.{kind.group or "core"} "{name or ""}" is '
                                  f'forbidden: User "attendee" cannot {verb} resource "{kind.plural}" in API group '
                                  f'"{kind.group}"{where}'))
            if method == "PATCH":
                if (
                    self.headers.get("Content-Type") != "application/apply-patch+yaml"
                    or query.get("fieldManager") != ["lab"]
                    or query.get("force") != ["true"]
                ):
                    return self.reply(
                        400, _status(400, "BadRequest", "not a server-side apply by lab with force")
                    )
                code, obj = fake.apply(kind, ns, json.loads(raw))
                return self.reply(code, obj)
            if method == "GET" and name:
                obj = fake.cluster.objects.get(key)
                if obj is None:
                    return self.reply(404, _status(404, "NotFound", f'{kind.plural} "{name}" not found'))
                return self.reply(200, obj)
            if method == "GET":
                selector = dict(p.split("=", 1) for p in query.get("labelSelector", [""])[0].split(",") if p)
                items = [
                    o
                    for (g, p, n, _), o in fake.cluster.objects.items()
                    if (g, p) == (kind.group, kind.plural) and (not ns or n == ns) and _matches(o, selector)
                ]
                return self.reply(
                    200, {"kind": f"{kind.kind}List", "apiVersion": "v1", "metadata": {}, "items": items}
                )
            if method == "DELETE":
                if fake.cluster.objects.pop(key, None) is None:
                    return self.reply(404, _status(404, "NotFound", f'{kind.plural} "{name}" not found'))
                fake.cluster.last_applied.pop(key, None)
                fake.cluster.collect(kind.kind, ns, name or "")
                return self.reply(200, _status(200, "", "deleted") | {"status": "Success"})
            return self.reply(405, _status(405, "MethodNotAllowed", method))

        def do_GET(self) -> None:
            self.handle_any("GET")

        def do_PATCH(self) -> None:
            self.handle_any("PATCH")

        def do_DELETE(self) -> None:
            self.handle_any("DELETE")

        def do_POST(self) -> None:
            self.handle_any("POST")

    return Handler


def serve(fake: FakeKube) -> tuple[ThreadingHTTPServer, str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(fake))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"
