"""The vendored CRD files are the pinned upstream ones, and every manifest lab ships passes them."""

from __future__ import annotations

import pytest

from lab.engines.kube import crds
from lab.spec import pins
from lab.spec.manifests import load
from tests.conftest import ROOT
from tests.fakes.crd_schema import CRD_DIR, invalid_message, load_crds, validate


def test_vendored_crd_files_have_the_pinned_sha256() -> None:
    for crd in pins.CRD_FILES:
        assert crds.sha256((CRD_DIR / crd.name).read_bytes()) == crd.sha256, crd.name


def test_every_shipped_gateway_api_manifest_is_valid_for_the_real_v040_schemas() -> None:
    schemas = load_crds()
    files = sorted(p for p in (ROOT / "manifests").rglob("*.yaml") if p.parent.name != "kind")
    checked = 0
    for res in load(files):
        crd = schemas.get((res.group, res.kind))
        if crd is None:
            continue
        assert validate(crd, res.body) == [], f"{res.source}:{res.line} {res.ref}"
        checked += 1
    assert checked >= 10


@pytest.mark.parametrize(
    ("change", "cause"),
    [
        (lambda r: r["spec"]["rules"][0]["backendRefs"][0].update(weight=1000001), "weight: Invalid value"),
        (
            lambda r: r["spec"]["rules"][0]["matches"][0]["path"].update(type="Glob"),
            'Unsupported value: "Glob"',
        ),
        (lambda r: r["spec"].update(hostnames=["-bad-.example.com"]), "spec.hostnames[0]: Invalid value"),
        (lambda r: r["spec"]["parentRefs"][0].pop("name"), "spec.parentRefs[0].name: Required value"),
    ],
)
def test_the_schema_rejects_what_the_api_server_would(change, cause) -> None:  # type: ignore[no-untyped-def]
    crd = load_crds()[("gateway.networking.k8s.io", "HTTPRoute")]
    route = {
        "apiVersion": "gateway.networking.k8s.io/v1alpha2",
        "kind": "HTTPRoute",
        "metadata": {"name": "r"},
        "spec": {
            "parentRefs": [{"name": "example-gateway"}],
            "rules": [
                {
                    "matches": [{"path": {"type": "PathPrefix", "value": "/echo"}}],
                    "backendRefs": [{"name": "echo-1", "port": 8080, "weight": 99}],
                }
            ],
        },
    }
    assert validate(crd, route) == []
    change(route)
    causes = validate(crd, route)
    assert any(cause in c for c in causes), causes
    assert invalid_message(route, crd, causes).startswith(
        'HTTPRoute.gateway.networking.k8s.io "r" is invalid: '
    )
