"""What a cluster already has, read without changing anything: Gateway API CRDs and Consul.

The cluster engine decides from these surveys what it may install (CRDs only where none are or they
are lab's own; Consul only with --install-consul) and refuses, before it changes anything, a cluster
it cannot use: Gateway API served without v1alpha2, or a Consul that is not chart 0.40.0 with the
API gateway controller.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lab.engines.kube.client import Kube
from lab.engines.kube.tenancy import MANAGED_BY, PIN, RUN_ID, Tenancy
from lab.errors import EnvironmentNotReady, NotConverged
from lab.spec import pins
from lab.spec.pins import CrdFile

CRD_API = "apiextensions.k8s.io/v1"
# Gateway API CRDs from v0.5.0 on name their release (gateway-api config/crd: bundle-version).
BUNDLE = "gateway.networking.k8s.io/bundle-version"


@dataclass(frozen=True)
class CrdFound:
    """One pinned CRD as the cluster has it: absent, lab's own (with its pin), or someone else's."""

    file: CrdFile
    owner: str  # "absent", "lab" or "foreign"
    served: tuple[str, ...] = ()
    stored: tuple[str, ...] = ()
    pin: str = ""
    bundle: str = ""

    @property
    def group(self) -> str:
        """The CRD's API group."""
        return self.file.crd_name.split(".", 1)[1]

    @property
    def usable(self) -> bool:
        """Whether it serves the version Consul API Gateway 0.1.0 reads."""
        return pins.CRD_SERVED_VERSION.get(self.group, "") in self.served

    def describe(self) -> str:
        """`httproutes.gateway.networking.k8s.io (bundle v1.0.0) serves v1, v1beta1`."""
        bundle = f" (bundle {self.bundle})" if self.bundle else ""
        return f"{self.file.crd_name}{bundle} serves {', '.join(self.served) or 'nothing'}"


@dataclass(frozen=True)
class CrdSurvey:
    """The pinned CRDs on one cluster."""

    found: tuple[CrdFound, ...]

    @property
    def unusable(self) -> list[CrdFound]:
        """Present CRDs that do not serve the version Consul API Gateway 0.1.0 reads."""
        return [c for c in self.found if c.owner != "absent" and not c.usable]

    def to_install(self, force: bool) -> list[CrdFile]:
        """What lab may apply: the absent ones, its own of another pin, and with `force` anyone's."""
        return [
            c.file
            for c in self.found
            if c.owner == "absent" or (c.owner == "lab" and c.pin != c.file.sha256) or (force and c.owner == "foreign")
        ]

    @property
    def foreign(self) -> list[CrdFound]:
        """Usable CRDs lab did not install (left as they are unless --force-crds)."""
        return [c for c in self.found if c.owner == "foreign"]

    def refuse_unusable(self) -> None:
        """EnvironmentNotReady (exit 4), before anything is changed, when Gateway API lacks v1alpha2."""
        bad = self.unusable
        if not bad:
            return
        stored = sorted({v for c in bad for v in c.stored})
        raise EnvironmentNotReady(
            "the cluster serves Gateway API without v1alpha2: "
            + "; ".join(c.describe() for c in bad)
            + ". Consul API Gateway 0.1.0 reads only v1alpha2 (Gateway API v0.4.0); lab will not replace these "
            "CRDs: the API server keeps their objects in "
            + (", ".join(stored) or "their stored versions")
            + " and refuses CRDs without those versions, and every other Gateway API user of the cluster "
            "depends on them. Nothing was changed.",
            fix="run the workshop on a cluster without Gateway API v1 CRDs (a cluster of its own, or "
            "--engine kind / --engine local); --force-crds cannot help here",
        )


def survey_crds(kube: Kube, files: Sequence[CrdFile]) -> CrdSurvey:
    """Each pinned CRD as the cluster has it (a read per CRD, nothing changed)."""
    found = []
    for crd in files:
        obj = kube.get(CRD_API, "CustomResourceDefinition", crd.crd_name)
        if obj is None:
            found.append(CrdFound(crd, "absent"))
            continue
        meta = obj.get("metadata") or {}
        labels, notes = meta.get("labels") or {}, meta.get("annotations") or {}
        versions = (obj.get("spec") or {}).get("versions") or []
        found.append(
            CrdFound(
                crd,
                "lab" if labels.get(MANAGED_BY) == "lab" else "foreign",
                served=tuple(str(v["name"]) for v in versions if v.get("served", True)),
                stored=tuple(str(v) for v in (obj.get("status") or {}).get("storedVersions") or []),
                pin=str(notes.get(PIN, "")),
                bundle=str(notes.get(BUNDLE, "")),
            )
        )
    return CrdSurvey(tuple(found))


@dataclass(frozen=True)
class ConsulSurvey:
    """The shared Consul in its namespace: found or not, why it cannot be used, what was seen."""

    namespace: str
    found: bool
    problems: tuple[str, ...] = ()
    seen: str = ""

    @property
    def usable(self) -> bool:
        """Found and compatible."""
        return self.found and not self.problems


def _images(deployment: Mapping[str, Any]) -> list[str]:
    containers = ((((deployment.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers")) or []
    return [str(c.get("image", "")) for c in containers]


def survey_consul(kube: Kube, namespace: str) -> ConsulSurvey:
    """Consul chart 0.40.0 with the API gateway controller in `namespace` (read-only).

    The chart labels its Deployments app=consul with a component (consul-k8s v0.40.0 templates
    connect-inject-deployment.yaml, api-gateway-controller-deployment.yaml); the chart version shows
    in the consul-k8s control-plane image it runs (values.yaml global.imageK8S), the API gateway in
    the controller's image.
    """
    deployments = kube.list("apps/v1", "Deployment", namespace, label_selector="app=consul")
    if not deployments:
        return ConsulSurvey(namespace, False, seen=f"no Consul Deployments (app=consul) in namespace {namespace}")
    by_component = {
        str(((d.get("metadata") or {}).get("labels") or {}).get("component", "")): _images(d) for d in deployments
    }
    problems = []
    injector = by_component.get("connect-injector")
    if injector is None:
        problems.append("no connect-injector Deployment (connectInject.enabled is off)")
    elif pins.CONSUL_K8S_IMAGE not in injector:
        problems.append(
            f"the connect injector runs {', '.join(injector)}, not {pins.CONSUL_K8S_IMAGE} "
            f"(chart {pins.CHART_VERSION})"
        )
    controller = by_component.get("api-gateway-controller")
    if controller is None:
        problems.append("no API gateway controller (apiGateway.enabled is off)")
    elif pins.API_GATEWAY_IMAGE not in controller:
        problems.append(f"the API gateway controller runs {', '.join(controller)}, not {pins.API_GATEWAY_IMAGE}")
    seen = ", ".join(f"{component}: {' '.join(images)}" for component, images in sorted(by_component.items()))
    return ConsulSurvey(namespace, True, tuple(problems), seen)


def refuse_taken_namespace(kube: Kube, tenancy: Tenancy) -> None:
    """EnvironmentNotReady (exit 4, nothing changed) when another run already uses the attendee's namespace.

    Every run marks its GatewayClass `lab-<namespace>` (one per namespace, cluster-scoped) with its id,
    so a second lab in one namespace (two workshop machines with one user name, hence one default
    namespace) is found before it takes over the first one's objects.
    """
    try:
        found = kube.get("gateway.networking.k8s.io/v1alpha2", "GatewayClass", tenancy.gateway_class)
    except NotConverged:
        return  # the cluster does not serve GatewayClasses yet: nobody's lab is there
    labels = ((found or {}).get("metadata") or {}).get("labels") or {}
    if found is None or (labels.get(MANAGED_BY) == "lab" and labels.get(RUN_ID) == tenancy.run_id):
        return
    owner = f"another lab (run {labels[RUN_ID]})" if labels.get(MANAGED_BY) == "lab" and RUN_ID in labels else "something else"
    raise EnvironmentNotReady(
        f"namespace {tenancy.namespace} is used by {owner}: GatewayClass {tenancy.gateway_class} is not this "
        "lab's. Nothing was changed.",
        fix=f"give your lab its own namespace with --namespace (e.g. --namespace {tenancy.namespace}-2, "
        "granted by the host like the first); if that lab is yours, `lab down` in its state folder removes it",
    )
