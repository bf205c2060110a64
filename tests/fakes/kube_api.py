"""A fake Kubernetes API server on loopback: discovery, server-side apply, get/list/delete, and a tiny
"controller" that sets the status conditions lab waits on. Switches make each wait fail.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse


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
]
# what the Consul chart's own CRDs add when helm installs it
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
class Switches:
    """Set to False to make the matching wait fail."""

    crd_established: bool = True
    gateway_class_accepted: bool = True
    gateway_ready: bool = True
    route_accepted: bool = True
    consul_pods_ready: bool = True
    # GETs of an HTTPRoute before its status shows the current generation (Consul takes seconds)
    route_lag_gets: int = 0


@dataclass
class FakeKube:
    log_path: Path
    ca_pem: bytes
    switches: Switches = field(default_factory=Switches)
    kinds: list[Kind] = field(default_factory=lambda: list(CORE))
    objects: dict[tuple[str, str, str, str], dict[str, Any]] = field(default_factory=dict)
    crd_files: dict[str, bytes] = field(default_factory=dict)
    route_gets: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    rv: int = 0
    # called once when a Gateway is first applied (the gateway pod starts listening then)
    on_gateway: Any = None

    # -- log ----------------------------------------------------------------------------------
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

    # -- registry --------------------------------------------------------------------------------
    def find(self, group: str, version: str, plural: str) -> Kind | None:
        return next(
            (k for k in self.kinds if (k.group, k.version, k.plural) == (group, version, plural)), None
        )

    def by_kind(self, kind: str) -> Kind:
        return next(k for k in self.kinds if k.kind == kind)

    def register(self, kind: Kind) -> None:
        if not self.find(kind.group, kind.version, kind.plural):
            self.kinds.append(kind)

    def put(self, kind: Kind, ns: str, body: dict[str, Any]) -> dict[str, Any]:
        key = (kind.group, kind.plural, ns if kind.namespaced else "", body["metadata"]["name"])
        old = self.objects.get(key)
        self.rv += 1
        meta = dict(body.get("metadata") or {})
        if kind.namespaced:
            meta["namespace"] = ns
        gen = (old or {}).get("metadata", {}).get("generation", 0)
        if old is None or old.get("spec") != body.get("spec"):
            gen += 1
        meta.update(
            generation=gen,
            resourceVersion=str(self.rv),
            uid=(old or {}).get("metadata", {}).get("uid", f"uid-{self.rv}"),
        )
        obj = {
            **body,
            "metadata": meta,
            "apiVersion": f"{kind.group}/{kind.version}".lstrip("/"),
            "kind": kind.kind,
        }
        obj["status"] = (old or {}).get("status") or body.get("status") or {}
        self.objects[key] = obj
        self.react(kind, obj)
        return obj

    # -- the "controllers" ---------------------------------------------------------------------
    def react(self, kind: Kind, obj: dict[str, Any]) -> None:
        s = self.switches
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
            obj["status"] = {
                "conditions": [
                    {
                        "type": "Established",
                        "status": "True" if s.crd_established else "False",
                        "reason": "InitialNamesAccepted" if s.crd_established else "Installing",
                    }
                ]
            }
        elif kind.kind == "Gateway":
            if self.on_gateway is not None:
                self.on_gateway()
                self.on_gateway = None
            obj["status"] = {
                "conditions": [
                    {"type": "Scheduled", "status": "True"},
                    {
                        "type": "Ready",
                        "status": "True" if s.gateway_ready else "False",
                        "reason": "Ready" if s.gateway_ready else "ListenersNotReady",
                    },
                ]
            }
        elif kind.kind == "HTTPRoute":
            self.route_gets[obj["metadata"]["name"]] = 0
            self.route_status(obj)

    def route_status(self, obj: dict[str, Any]) -> None:
        s = self.switches
        name = obj["metadata"]["name"]
        gen = obj["metadata"]["generation"]
        observed = gen if self.route_gets.get(name, 0) >= s.route_lag_gets else gen - 1
        if observed < 1:
            obj["status"] = {}
            return
        obj["status"] = {
            "parents": [
                {
                    "parentRef": {"name": "example-gateway"},
                    "controllerName": "hashicorp.com/consul-api-gateway-controller",
                    "conditions": [
                        {
                            "type": "Accepted",
                            "status": "True" if s.route_accepted else "False",
                            "reason": "Accepted" if s.route_accepted else "BindError",
                            "observedGeneration": observed,
                        }
                    ],
                }
            ]
        }

    def helm_installed(self, ns: str) -> None:
        for k in CONSUL_KINDS:
            self.register(k)
        ready = "True" if self.switches.consul_pods_ready else "False"
        pod = self.by_kind("Pod")
        for name, comp in (
            ("consul-server-0", "server"),
            ("consul-controller-6f8f6c7d9-x2x4q", "controller"),
            ("consul-api-gateway-controller-5b8c9d7f6-abcde", "api-gateway-controller"),
        ):
            self.put(
                pod,
                ns,
                {
                    "metadata": {
                        "name": name,
                        "labels": {"app": "consul", "component": comp, "release": "consul"},
                    },
                    "spec": {},
                    "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": ready}]},
                },
            )
        self.put(
            self.by_kind("Event"),
            ns,
            {
                "metadata": {"name": "consul-server-0.1"},
                "type": "Normal",
                "reason": "Started",
                "involvedObject": {"kind": "Pod", "name": "consul-server-0"},
                "message": "Started container consul",
                "lastTimestamp": "2022-02-01T10:00:01Z",
            },
        )
        self.put(
            self.by_kind("Secret"),
            ns,
            {
                "metadata": {"name": "consul-ca-cert"},
                "type": "Opaque",
                "data": {"tls.crt": base64.b64encode(self.ca_pem).decode()},
            },
        )
        gc = self.find("gateway.networking.k8s.io", "v1alpha2", "gatewayclasses")
        if gc:
            self.put(
                gc,
                "",
                {
                    "metadata": {"name": "consul-api-gateway"},
                    "spec": {"controllerName": "hashicorp.com/consul-api-gateway-controller"},
                },
            )
            obj = self.objects[("gateway.networking.k8s.io", "gatewayclasses", "", "consul-api-gateway")]
            ok = self.switches.gateway_class_accepted
            obj["status"] = {
                "conditions": [
                    {
                        "type": "Accepted",
                        "status": "True" if ok else "False",
                        "reason": "Accepted" if ok else "InvalidParameters",
                    }
                ]
            }

    # -- HTTP ----------------------------------------------------------------------------------
    def discovery(self, path: str) -> dict[str, Any] | None:
        if path == "/version":
            return {"major": "1", "minor": "21", "gitVersion": "v1.21.1"}
        if path == "/api":
            return {"kind": "APIVersions", "versions": ["v1"]}
        if path == "/apis":
            groups: dict[str, list[str]] = {}
            for k in self.kinds:
                if k.group:
                    groups.setdefault(k.group, [])
                    if k.version not in groups[k.group]:
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
            group, version, rest = "", parts[1], parts[2:]
        elif parts[0] == "apis":
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
        "status": "Failure",
        "reason": reason,
        "message": message,
        "code": code,
    }


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
            if path.startswith("/_crds/"):
                name = path.rsplit("/", 1)[1]
                fake.log(method, path, {}, None)
                if name in fake.crd_files:
                    return self.reply(200, fake.crd_files[name], "text/plain")
                return self.reply(404, b"404: Not Found", "text/plain")
            if path == "/_fake/helm-installed":
                with fake.lock:
                    fake.helm_installed(query.get("namespace", ["default"])[0])
                return self.reply(200, {})
            fake.log(method, path, query, self.headers.get("Content-Type") if raw else None)
            with fake.lock:
                if method == "GET":
                    disc = fake.discovery(path)
                    if disc is not None:
                        if disc.get("__status") == 404:
                            return self.reply(
                                404,
                                _status(404, "NotFound", "the server could not find the requested resource"),
                            )
                        return self.reply(200, disc)
                found = fake.route(path)
                if found is None:
                    return self.reply(404, _status(404, "NotFound", f"no route for {path}"))
                kind, ns, name = found
                key = (kind.group, kind.plural, ns if kind.namespaced else "", name or "")
                if method == "PATCH":
                    if (
                        self.headers.get("Content-Type") != "application/apply-patch+yaml"
                        or query.get("fieldManager") != ["lab"]
                        or query.get("force") != ["true"]
                    ):
                        return self.reply(
                            400,
                            _status(
                                400, "BadRequest", "not a server-side apply by field manager lab with force"
                            ),
                        )
                    body = json.loads(raw)
                    return self.reply(200, fake.put(kind, ns, body))
                if method == "GET" and name:
                    obj = fake.objects.get(key)
                    if obj is None:
                        return self.reply(404, _status(404, "NotFound", f'{kind.plural} "{name}" not found'))
                    if kind.kind == "HTTPRoute":
                        fake.route_gets[name] = fake.route_gets.get(name, 0) + 1
                        fake.route_status(obj)
                    return self.reply(200, obj)
                if method == "GET":
                    selector = dict(
                        p.split("=", 1) for p in query.get("labelSelector", [""])[0].split(",") if p
                    )
                    items = [
                        o
                        for (g, p, n, _), o in fake.objects.items()
                        if (g, p) == (kind.group, kind.plural)
                        and (not ns or n == ns)
                        and all((o["metadata"].get("labels") or {}).get(k) == v for k, v in selector.items())
                    ]
                    return self.reply(
                        200, {"kind": f"{kind.kind}List", "apiVersion": "v1", "metadata": {}, "items": items}
                    )
                if method == "DELETE":
                    if fake.objects.pop(key, None) is None:
                        return self.reply(404, _status(404, "NotFound", f'{kind.plural} "{name}" not found'))
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
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"
