"""The lab process's admin endpoint: bodies it cannot take are 400 with a message, never a teardown.

Issue 11 item 9: a bad JSON body, a list body or a binary file gave 500 (the traceback only in
server.log), and `{"files": []}` tore the gateway down while `lab status` still said running.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from lab.engines.local.admin import AdminEndpoint
from lab.engines.local.config import ServerConfig
from tests.local_lab import InProcessLab, dump
from tests.test_local_routing import BASE, route, rule

TOKEN = "test-token"


class Admin:
    def __init__(self, lab: InProcessLab) -> None:
        self.lab = lab
        routes = lab.write("admin-routes.yaml", dump(route("r", rule("echo-a"))))
        self.files = [str(lab.base), str(routes)]
        tls = lab.tls
        config = ServerConfig(
            state_dir=str(lab.state.path),
            files=tuple(self.files),
            bind="127.0.0.1",
            port_map=(),
            ca_file=str(tls.ca_file),
            cert_file=str(tls.cert_file),
            key_file=str(tls.key_file),
        )
        self.endpoint = AdminEndpoint(lab.server, config, TOKEN)
        lab.run(self.endpoint.start())
        self.post({"files": self.files})

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.endpoint.port}{path}"

    def post(self, body: Any, *, raw: bytes | None = None, token: str = TOKEN) -> tuple[int, dict[str, Any]]:
        with requests.Session() as s:
            s.trust_env = False
            response = s.post(
                self.url("/apply"),
                data=raw if raw is not None else None,
                json=body if raw is None else None,
                headers={"Authorization": f"Bearer {token}"},
                timeout=10,
            )
        return response.status_code, response.json()

    def get(self, path: str) -> dict[str, Any]:
        with requests.Session() as s:
            s.trust_env = False
            response = s.get(self.url(path), headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
        assert response.status_code == 200, response.text
        return dict(response.json())


@pytest.fixture(scope="module")
def admin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Admin]:
    lab = InProcessLab(tmp_path_factory.mktemp("admin"), BASE)
    admin = Admin(lab)
    yield admin
    lab.run(admin.endpoint.stop())
    lab.close()


def serving(admin: Admin) -> bool:
    return admin.lab.request("/still-here").status_code == 200


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        (b"{not json", "the body is not JSON"),
        (b"\xff\xfe\x00binary", "the body is not JSON"),
        (b'["a.yaml"]', 'must be a JSON object {"files"'),
        (b'{"files": "a.yaml"}', 'must be a JSON object {"files"'),
        (b'{"files": [1, 2]}', 'must be a JSON object {"files"'),
    ],
)
def test_a_bad_body_is_400_with_a_message(admin: Admin, raw: bytes, fragment: str) -> None:
    status, data = admin.post(None, raw=raw)
    assert status == 400 and fragment in data["error"] and data["exit_code"] == 3, data
    assert serving(admin)


def test_a_binary_manifest_is_400_naming_the_file(admin: Admin, tmp_path: Path) -> None:
    binary = tmp_path / "routes.yaml"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\xff\xd8")
    status, data = admin.post({"files": [*admin.files, str(binary)]})
    assert status == 400 and str(binary) in data["error"] and "not UTF-8 text" in data["error"], data
    assert serving(admin)


def test_an_empty_desired_set_is_refused_and_the_gateway_keeps_serving(admin: Admin) -> None:
    status, data = admin.post({"files": []})
    assert status == 400 and "files is empty" in data["error"], data
    assert serving(admin)
    assert admin.lab.server.listeners, "the gateway's listeners must stay up"


def test_without_the_token_nothing_is_applied(admin: Admin) -> None:
    status, _ = admin.post({"files": []}, token="wrong")
    assert status == 401
    assert serving(admin)


def test_objects_carry_the_status_the_controller_writes(admin: Admin) -> None:
    items = admin.get("/objects")["items"]
    (r,) = [i for i in items if i["kind"] == "HTTPRoute"]
    (parent,) = r["status"]["parents"]
    assert parent["parentRef"] == {
        "group": "gateway.networking.k8s.io",
        "kind": "Gateway",
        "namespace": "default",
        "name": "gw",
    }
    assert [(c["type"], c["status"]) for c in parent["conditions"]] == [
        ("Accepted", "True"),
        ("ResolvedRefs", "True"),
    ]
    (gw,) = [i for i in items if i["kind"] == "Gateway"]
    assert [c["type"] for c in gw["status"]["conditions"]] == ["Scheduled", "Ready"]
    assert gw["status"]["listeners"][0]["attachedRoutes"] == 1
