"""`lab doctor --engine cluster`: can this user run the lab on that cluster? Each gap with its fix.

Reachability and the Kubernetes version, the Gateway API CRDs and the shared Consul as the cluster
engine would find them (lab.engines.kube.detect), and every rule of the RBAC an attendee needs,
shipped as manifests/cluster/attendee-rbac.yaml, asked of the API server with a
SelfSubjectAccessReview (authorization.k8s.io/v1). Read-only.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from lab.engines.kube.client import Kube
from lab.engines.kube.crds import all_files
from lab.engines.kube.detect import survey_consul, survey_crds
from lab.engines.kube.doctor import Check
from lab.engines.kube.tenancy import default_namespace
from lab.errors import LabError
from lab.spec import pins
from lab.timeouts import DEFAULT

RBAC_MANIFEST = Path("manifests") / "cluster" / "attendee-rbac.yaml"
# the chart needs Kubernetes >= 1.18 (consul-k8s v0.40.0 Chart.yaml kubeVersion); the stack dates
# from early 2022 and the tutorial ran it on v1.21
MIN_MINOR, TESTED_MINOR = 18, 21


@dataclass(frozen=True)
class Permission:
    """One thing lab does: a verb on a resource (in a namespace; "" = cluster-scoped), maybe one name."""

    verb: str
    group: str
    resource: str
    namespace: str
    name: str = ""
    role: str = ""

    def __str__(self) -> str:
        where = f" in namespace {self.namespace}" if self.namespace else " (cluster-wide)"
        named = f" {self.name}" if self.name else ""
        return f"{self.verb} {self.resource}{'.' + self.group if self.group else ''}{named}{where}"


def permissions(manifest: Path, namespace: str, consul_namespace: str) -> Iterator[Permission]:
    """Every (verb, resource) the shipped roles grant, placed where lab uses them."""
    for doc in yaml.safe_load_all(manifest.read_text(encoding="utf-8")):
        if not isinstance(doc, Mapping) or doc.get("kind") not in ("ClusterRole", "Role"):
            continue
        name = str(doc["metadata"]["name"])
        where = {"lab-attendee": namespace, "lab-attendee-cluster": "", "lab-attendee-consul": consul_namespace}
        if name not in where:
            continue
        for rule in doc.get("rules") or []:
            for group in rule.get("apiGroups") or [""]:
                for resource in rule.get("resources") or []:
                    for verb in rule.get("verbs") or []:
                        for named in rule.get("resourceNames") or [""]:
                            yield Permission(verb, group, resource, where[name], named, name)


def allowed(kube: Kube, permission: Permission) -> tuple[bool, str]:
    """The API server's answer for this user: (allowed, its reason)."""
    resource, _, sub = permission.resource.partition("/")
    attributes: dict[str, Any] = {"verb": permission.verb, "group": permission.group, "resource": resource}
    if sub:
        attributes["subresource"] = sub
    if permission.namespace:
        attributes["namespace"] = permission.namespace
    if permission.name:
        attributes["name"] = permission.name
    review = kube.create(
        "authorization.k8s.io/v1",
        "SelfSubjectAccessReview",
        {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview", "spec": {"resourceAttributes": attributes}},
    )
    status = review.get("status") or {}
    return bool(status.get("allowed")), str(status.get("reason") or "")


def _version(kube: Kube) -> Check:
    info = kube.version()
    minor = int("".join(ch for ch in str(info.get("minor", "0")) if ch.isdigit()) or 0)
    shown = str(info.get("gitVersion", "?"))
    if minor < MIN_MINOR:
        return Check("Kubernetes version", False, f"{shown}: Consul chart 0.40.0 needs >= 1.{MIN_MINOR}", "use a newer cluster")
    if minor > TESTED_MINOR + 4:
        return Check(
            "Kubernetes version",
            False,
            f"{shown}: the lab's stack (Consul 1.11, consul-api-gateway 0.1.0, early 2022) was run on 1.{TESTED_MINOR}; "
            "APIs it uses may be gone",
            "if `lab up` fails on removed APIs, use a cluster near v1.21 (or --engine kind)",
            blocking=False,
        )
    return Check("Kubernetes version", True, shown)


def cluster_checks(kube: Kube, lab_root: Path, namespace: str, consul_namespace: str) -> list[Check]:
    """Everything `lab up --engine cluster` needs from the cluster and from this user's rights."""
    checks = [Check("API server", True, "answers"), _version(kube)]
    crds = survey_crds(kube, all_files())
    bad = crds.unusable
    absent = [c.file.crd_name for c in crds.found if c.owner == "absent"]
    if bad:
        checks.append(Check("Gateway API CRDs", False, "; ".join(c.describe() for c in bad) + " (no v1alpha2)",
                            "use a cluster without Gateway API v1 CRDs, or --engine kind"))
    elif absent:
        checks.append(Check("Gateway API CRDs", False, "missing: " + ", ".join(absent), "the host runs `lab cluster prepare`"))
    else:
        owners = sorted({"lab's" if c.owner == "lab" else "someone else's (used as they are)" for c in crds.found})
        checks.append(Check("Gateway API CRDs", True, f"v1alpha2 served ({', '.join(owners)})"))
    consul = survey_consul(kube, consul_namespace)
    fix = "the host runs `lab cluster prepare`, or pass --consul-namespace where Consul runs"
    checks.append(Check(f"Consul ({consul_namespace})", consul.usable, "; ".join(consul.problems) or consul.seen,
                        "" if consul.usable else fix))
    manifest = lab_root / RBAC_MANIFEST
    gaps = [(p, why) for p in permissions(manifest, namespace, consul_namespace) for ok, why in [allowed(kube, p)] if not ok]
    roles = sorted({p.role for p, _ in gaps})
    if gaps:
        detail = "; ".join(str(p) for p, _ in gaps[:6]) + (f"; and {len(gaps) - 6} more" if len(gaps) > 6 else "")
        checks.append(Check(
            "RBAC",
            False,
            f"not allowed: {detail}",
            f"the host grants {', '.join(roles)}: sed -e 's/ATTENDEE/<your user>/g' {manifest} | kubectl apply -f - "
            f"(namespace {namespace}; Consul's in {consul_namespace})",
        ))
    else:
        checks.append(Check("RBAC", True, f"every rule of {RBAC_MANIFEST} is allowed in {namespace}"))
    return checks


def run(
    lab_root: Path,
    context: str | None,
    namespace: str | None,
    consul_namespace: str | None,
    timeout: float = DEFAULT.api_request,
) -> list[Check]:
    """The cluster checks for a context (None: the current one), or one blocking check when it does not answer."""
    with tempfile.TemporaryDirectory(prefix="lab-doctor-") as folder:
        try:
            kube = Kube(None, context=context, discovery_cache=Path(folder) / "discovery.json", request_timeout=timeout)
            return cluster_checks(
                kube, lab_root, namespace or default_namespace(), consul_namespace or pins.CONSUL_NAMESPACE
            )
        except LabError as exc:
            return [Check("API server", False, exc.message, "check --context (`kubectl cluster-info`)")]
