"""Validation of custom resources against the real pinned CRD files, like the API server does.

The API server validates a custom resource against its CRD version's `openAPIV3Schema`
(kubernetes apiextensions-apiserver pkg/registry/customresource/validator.go, via kube-openapi's
validate package) and answers 422 Invalid with one `<field path>: <reason>` cause per problem
(apimachinery pkg/util/validation/field/errors.go: "Invalid value", "Required value",
"Unsupported value"). The schemas are OpenAPI v3, close enough to JSON Schema draft 4 for
jsonschema to enforce required, enum, pattern, min/max, maxItems and maxLength the same way;
`x-kubernetes-*` keys are ignored (jsonschema skips unknown keywords).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jsonschema
import yaml

CRD_DIR = Path(__file__).resolve().parent.parent / "fixtures" / "crds"


def load_crds(folder: Path = CRD_DIR) -> dict[tuple[str, str], dict[str, Any]]:
    """(group, kind) -> the CustomResourceDefinition, from the vendored upstream files."""
    out = {}
    for path in sorted(folder.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and doc.get("kind") == "CustomResourceDefinition":
                out[(doc["spec"]["group"], doc["spec"]["names"]["kind"])] = doc
    return out


def schema_of(crd: Mapping[str, Any], version: str) -> Mapping[str, Any] | None:
    """The openAPIV3Schema of one served version (None when the CRD does not serve it)."""
    for v in crd["spec"]["versions"]:
        if v["name"] == version and v.get("served", True):
            return (v.get("schema") or {}).get("openAPIV3Schema")
    return None


def _field(path: Any) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _cause(error: jsonschema.ValidationError) -> str:
    where = _field(error.absolute_path)
    if error.validator == "required":
        missing = str(error.message).split("'")[1]
        return f"{where + '.' if where else ''}{missing}: Required value"
    if error.validator == "enum":
        allowed = ", ".join(f'"{v}"' for v in error.validator_value)
        return f'{where}: Unsupported value: "{error.instance}": supported values: {allowed}'
    return f"{where}: Invalid value: {error.instance!r}: {error.message}"


def validate(crd: Mapping[str, Any], body: Mapping[str, Any]) -> list[str]:
    """The API server's causes for rejecting `body` (empty when it is valid)."""
    version = str(body.get("apiVersion", "")).rpartition("/")[2]
    schema = schema_of(crd, version)
    if schema is None:
        return [f"apiVersion: Invalid value: {body.get('apiVersion')!r}: version not served"]
    validator = jsonschema.Draft4Validator(schema)
    causes = [_cause(e) for e in validator.iter_errors(dict(body))]
    return sorted(causes)


def invalid_message(body: Mapping[str, Any], crd: Mapping[str, Any], causes: list[str]) -> str:
    """`HTTPRoute.gateway.networking.k8s.io "name" is invalid: [cause, cause]` as the server words it."""
    kind = f"{body.get('kind')}.{crd['spec']['group']}"
    name = (body.get("metadata") or {}).get("name")
    joined = causes[0] if len(causes) == 1 else "[" + ", ".join(causes) + "]"
    return f'{kind} "{name}" is invalid: {joined}'
