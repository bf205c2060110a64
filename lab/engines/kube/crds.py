"""The pinned Gateway API and GatewayClassConfig CRD files: fetched (cache first), sha256-checked, parsed.

The Consul chart ships none of them, so the kind and cluster engines apply them before helm runs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import requests
import yaml

from lab.errors import ChecksumMismatch, EnvironmentNotReady
from lab.spec import pins
from lab.spec.pins import CrdFile


def sha256(data: bytes) -> str:
    """Hex sha256 of `data`."""
    return hashlib.sha256(data).hexdigest()


def cached_path(cache: Path, crd: CrdFile) -> Path:
    """Where `lab prefetch` keeps one CRD file."""
    return cache / "crds" / crd.name


def download(crd: CrdFile, *, timeout: float, session: requests.Session | None = None) -> bytes:
    """Download one CRD file and check its sha256 against the pin."""
    http = session or requests.Session()
    try:
        response = http.get(crd.url, timeout=timeout)
        response.raise_for_status()
    except requests.RequestException as exc:
        raise EnvironmentNotReady(
            f"cannot download CRD {crd.name} from {crd.url}: {exc}",
            fix="check the network (or a proxy); for an offline workshop run `lab prefetch` while online",
        ) from exc
    data = response.content
    _verify(crd, data, crd.url)
    return data


def _verify(crd: CrdFile, data: bytes, where: str) -> None:
    got = sha256(data)
    if got != crd.sha256:
        raise ChecksumMismatch(
            f"CRD {crd.name} from {where} has sha256 {got}, but lab pins {crd.sha256} "
            f"(gateway-api {pins.GATEWAY_API_VERSION} / consul-api-gateway {pins.API_GATEWAY_VERSION})",
            fix="something rewrote the file (proxy, mirror, edited cache); delete the cached copy and run "
            "`lab prefetch` again, or check pins.CRD_FILES against the URL with `curl -sL URL | sha256sum`",
        )


def load(
    crd: CrdFile, *, cache: Path | None, timeout: float, session: requests.Session | None = None
) -> bytes:
    """One CRD file's bytes: the prefetch cache when it holds it, else a download; always sha256-checked."""
    if cache is not None:
        path = cached_path(cache, crd)
        if path.is_file():
            data = path.read_bytes()
            _verify(crd, data, str(path))
            return data
    return download(crd, timeout=timeout, session=session)


def documents(crd: CrdFile, data: bytes) -> list[dict[str, Any]]:
    """The CustomResourceDefinition documents of one file."""
    try:
        docs = [d for d in yaml.safe_load_all(data.decode("utf-8")) if d]
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ChecksumMismatch(f"CRD {crd.name} is not readable YAML: {exc}") from exc
    bad = [d for d in docs if not isinstance(d, dict) or d.get("kind") != "CustomResourceDefinition"]
    if bad or not docs:
        raise ChecksumMismatch(f"CRD {crd.name} holds something other than CustomResourceDefinitions")
    return docs


def all_files() -> Sequence[CrdFile]:
    """The pinned CRD files (read at call time so tests can pin their own)."""
    return pins.CRD_FILES
