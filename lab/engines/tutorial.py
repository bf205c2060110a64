"""What each engine does instead of some tutorial steps, one line each, for `lab plan` and teaching mode.

The tutorial's commands (lab.spec.commands) are what the kind engine runs; the others say where
they differ, so a workshop attendee on the embedded engine knows which steps were emulated.
"""

from __future__ import annotations

from collections.abc import Mapping

from lab.spec import commands as c
from lab.spec.plan import Plan

_EMBEDDED = "emulated by the embedded engine: "

NOTES: Mapping[str, Mapping[str, str]] = {
    "local": {
        c.CLUSTER: _EMBEDDED + "no cluster; one background process on this machine plays it",
        c.CRDS: _EMBEDDED + "no CRDs to install; the Gateway API v1alpha2 (v0.4.0) routing model is built in",
        c.CONSUL: _EMBEDDED + "no Consul; its HTTPS listener with Gateway API semantics plays the API gateway",
        c.CA: _EMBEDDED + "no secret to read; the lab made its own CA at that path when it started",
        c.SERVICES: _EMBEDDED + "lab loads the same YAML into its process (no kubectl); each Service's "
        "pods answer like their image",
        c.ROUTES: _EMBEDDED + "lab loads the same YAML into its process (no kubectl) and swaps its routing table",
    },
    "cluster": {
        c.CLUSTER: "the cluster engine uses the existing cluster of your kubeconfig context (no kind "
        "cluster); kubectl talks to that context, in your namespace (lab-<user name>, or --namespace)",
        c.CRDS: "the cluster engine installs the CRDs once per cluster (`lab cluster prepare`), only where "
        "none are; it never replaces CRDs lab did not install unless --force-crds",
        c.CONSUL: "the cluster engine uses the cluster's one Consul (namespace consul), installed once by "
        "`lab cluster prepare` or `lab up --install-consul`, after checking it is chart 0.40.0 with the "
        "API gateway",
        c.CA: "the cluster engine reads secret consul-ca-cert from Consul's namespace (consul)",
        c.SERVICES: "the cluster engine applies them in your namespace, and every name Consul sees gets it "
        "appended (Consul service echo-1-lab-alice, Gateway example-gateway-lab-alice): one Consul serves "
        "every attendee and Consul OSS has a single namespace",
        c.TRAFFIC: "the cluster engine reaches your gateway through a port-forward on a local port "
        "(`lab status` shows the URL), not localhost:8443; the certificate still verifies (it names localhost)",
    },
}


def notes(engine: str | None) -> Mapping[str, str]:
    """Step key -> what `engine` does instead; empty for kind (it runs the commands as printed)."""
    return NOTES.get(engine or "", {})

# Engines that pull images (what `lab plan --engine` lists with the prefetch cache).
PULLS_IMAGES = frozenset({"kind"})


def pulls_images(engine: str | None) -> bool:
    """Whether `engine` pulls container images, so `lab plan` lists them and the prefetch cache."""
    return engine in PULLS_IMAGES


def plan_notes(engine: str | None, plan: Plan) -> list[str]:
    """Sentences about the whole plan on `engine` (kind/cluster: where Consul API Gateway 0.1.0 differs)."""
    if engine not in ("kind", "cluster"):
        return []
    from lab.engines.kube.documents import engine_notes

    return sorted({note for step in plan.steps for note in engine_notes(step)})
