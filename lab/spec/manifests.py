"""Kubernetes manifests as immutable resources that remember their file and line.

Every error about a manifest names the file, the line and the field, so the loader keeps the
YAML node of each document and can find the line of any field path.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lab.errors import ManifestError
from lab.objects import ObjectKey

# libyaml's parser where PyYAML has it (about 10x faster; the same nodes and line marks), else Python's
FAST_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
# A manifest above this size is refused unread (`lab apply /dev/zero` must not fill the memory).
MAX_MANIFEST_BYTES = 8 * 1024 * 1024
# Kinds that live outside namespaces; everything else defaults to "default" like kubectl.
CLUSTER_SCOPED_KINDS = frozenset(
    {
        "Namespace",
        "ClusterRole",
        "ClusterRoleBinding",
        "CustomResourceDefinition",
        "GatewayClass",
        "GatewayClassConfig",
        "PersistentVolume",
        "StorageClass",
    }
)
DEFAULT_NAMESPACE = "default"

FieldPath = Sequence[str | int]


def format_path(path: FieldPath) -> str:
    """Render a field path the way kubectl explains fields: spec.rules[0].backendRefs[1].weight."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


@dataclass(frozen=True)
class Resource:
    """One Kubernetes object from a manifest file; `body` is the document as written."""

    api_version: str
    kind: str
    name: str
    namespace: str | None
    body: Mapping[str, Any] = field(compare=False, hash=False)
    source: Path = field(compare=False)
    line: int = field(compare=False)
    node: yaml.Node | None = field(default=None, compare=False, repr=False, hash=False)

    @property
    def group(self) -> str:
        """API group ("" for core), as in `gateway.networking.k8s.io`."""
        return self.api_version.rpartition("/")[0]

    def key(self) -> ObjectKey:
        """The object's identity (group/kind/namespace/name), as lab records what it applied."""
        return ObjectKey.of(self.group, self.kind, self.namespace, self.name)

    @property
    def ref(self) -> str:
        """kubectl-style reference: kind/name, with namespace where it has one."""
        ns = f" -n {self.namespace}" if self.namespace else ""
        return f"{self.kind.lower()}/{self.name}{ns}"

    @property
    def spec(self) -> Mapping[str, Any]:
        """The spec section, or an empty mapping."""
        spec = self.body.get("spec")
        return spec if isinstance(spec, Mapping) else {}

    def line_of(self, path: FieldPath) -> int:
        """The line of the deepest existing node along `path` (the document's line if none)."""
        node = self.node
        line = self.line
        for part in path:
            if isinstance(node, yaml.MappingNode) and isinstance(part, str):
                nxt = next((v for k, v in node.value if getattr(k, "value", None) == part), None)
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
                nxt = node.value[part] if 0 <= part < len(node.value) else None
            else:
                nxt = None
            if nxt is None:
                break
            node = nxt
            line = nxt.start_mark.line + 1
        return line

    def error(self, message: str, path: FieldPath = (), *, fix: str | None = None) -> ManifestError:
        """A ManifestError pointing at `path` inside this resource."""
        where = f"{self.kind} {self.name}" + (f".{format_path(path)}" if path else "")
        return ManifestError(message, file=self.source, line=self.line_of(path), field=where, fix=fix)


def read_manifest_text(path: Path) -> str:
    """A manifest file's text: a regular file of at most MAX_MANIFEST_BYTES, UTF-8; ManifestError otherwise."""
    try:
        with open(path, "rb") as fh:
            if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
                raise ManifestError("not a regular file (a device, pipe or socket)", file=path,
                                    fix="pass a YAML file or a folder of them")
            data = fh.read(MAX_MANIFEST_BYTES + 1)
    except OSError as exc:
        raise ManifestError(f"cannot read manifest: {exc.strerror or exc}", file=path) from exc
    if len(data) > MAX_MANIFEST_BYTES:
        raise ManifestError(f"larger than {MAX_MANIFEST_BYTES // (1024 * 1024)} MiB; not a manifest",
                            file=path, fix="pass the YAML file itself")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ManifestError(
            f"not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}); a binary file?",
            file=path,
            line=line,
            fix="pass a YAML file, saved as UTF-8",
        ) from exc


def _documents(path: Path) -> Iterator[tuple[yaml.Node, Any]]:
    text = read_manifest_text(path)
    try:
        constructor = yaml.SafeLoader("")
        for node in yaml.compose_all(text, Loader=FAST_LOADER):
            if node is None:
                continue
            yield node, constructor.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        raise ManifestError(
            f"YAML syntax error: {exc.problem or exc}",
            file=path,
            line=line,
            fix="fix the YAML at that line (indentation, a missing colon or quote)",
        ) from exc
    except yaml.YAMLError as exc:  # e.g. ReaderError: characters YAML does not allow
        raise ManifestError(f"not YAML: {exc}", file=path, fix="pass a YAML file") from exc


def load_file(path: Path) -> tuple[Resource, ...]:
    """Load every non-empty document of one YAML file as a Resource."""
    out: list[Resource] = []
    for node, doc in _documents(path):
        line = node.start_mark.line + 1
        if not isinstance(doc, dict):
            raise ManifestError(
                "a manifest document must be a mapping with apiVersion, kind and metadata",
                file=path,
                line=line,
            )
        missing = [k for k in ("apiVersion", "kind") if not isinstance(doc.get(k), str)]
        meta = doc.get("metadata")
        if not isinstance(meta, dict) or not isinstance(meta.get("name"), str):
            missing.append("metadata.name")
        if missing:
            raise ManifestError(
                f"required field(s) missing: {', '.join(missing)}",
                file=path,
                line=line,
                field=missing[0],
                fix="every Kubernetes object needs apiVersion, kind and metadata.name",
            )
        assert isinstance(meta, dict)  # noqa: S101 - narrowed above
        kind = doc["kind"]
        namespace = None if kind in CLUSTER_SCOPED_KINDS else meta.get("namespace", DEFAULT_NAMESPACE)
        out.append(
            Resource(
                api_version=doc["apiVersion"],
                kind=kind,
                name=meta["name"],
                namespace=str(namespace) if namespace is not None else None,
                body=doc,
                source=path,
                line=line,
                node=node,
            )
        )
    return tuple(out)


def manifest_files(target: Path) -> tuple[Path, ...]:
    """A file, or the *.yaml / *.yml files of a folder in name order (like `kubectl apply -f DIR`)."""
    if target.is_dir():
        return tuple(sorted(p for p in target.iterdir() if p.suffix in (".yaml", ".yml")))
    if not target.exists():
        raise ManifestError("no such manifest file or folder", file=target)
    return (target,)


def duplicates(resources: Iterable[Resource]) -> list[ManifestError]:
    """Resources defined twice in one desired set (same group, kind, namespace and name).

    Across steps and `lab apply` the last applied wins, like `kubectl apply`; within the manifests
    of one step a second definition would silently replace the first, so it is an error.
    """
    first: dict[tuple[str, str, str | None, str], Resource] = {}
    errors = []
    for r in resources:
        key = (r.group, r.kind, r.namespace, r.name)
        seen = first.setdefault(key, r)
        if seen is r:
            continue
        name = f"{r.namespace}/{r.name}" if r.namespace else r.name
        errors.append(
            ManifestError(
                f"{r.kind} {name} is defined twice in one step: here and at {seen.source}:{seen.line}; "
                "the second definition would silently replace the first",
                file=r.source,
                line=r.line,
                fix="remove one of the two, or give one another name",
            )
        )
    return errors


def load(targets: Iterable[Path]) -> tuple[Resource, ...]:
    """Load files and folders in order; no side effects."""
    out: list[Resource] = []
    for target in targets:
        for path in manifest_files(target):
            out.extend(load_file(path))
    return tuple(out)
