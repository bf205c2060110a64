"""The platform a shared cluster runs once for every attendee: the CRDs, one Consul, Consul's RBAC.

`lab cluster prepare` (the host, once) or the first `lab up --engine cluster --install-consul`
installs it; every other `lab up` checks it and reuses it. Everything is surveyed first and a
cluster lab cannot use is refused before anything changes.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lab.engines.base import Progress
from lab.engines.kube import crds
from lab.engines.kube.client import Kube
from lab.engines.kube.detect import ConsulSurvey, CrdSurvey, survey_consul, survey_crds
from lab.engines.kube.install import Platform
from lab.engines.kube.tenancy import platform_objects
from lab.errors import EnvironmentNotReady
from lab.spec import pins


@dataclass(frozen=True)
class PlatformPlan:
    """What a cluster has and what lab will do about it (decided before anything changes)."""

    crds: CrdSurvey
    consul: ConsulSurvey
    # lab may install the platform (`lab cluster prepare`, `lab up --install-consul`)
    may_install: bool
    force_crds: bool

    @property
    def install_consul(self) -> bool:
        """Consul is to be installed: asked for, and none is there."""
        return self.may_install and not self.consul.found

    @property
    def crds_to_install(self) -> list[pins.CrdFile]:
        """The CRD files lab applies (only when it may install the platform)."""
        return self.crds.to_install(self.force_crds) if self.may_install else []


def survey(kube: Kube, consul_namespace: str, *, install_consul: bool, force_crds: bool) -> PlatformPlan:
    """Read the cluster's CRDs and Consul; EnvironmentNotReady (exit 4, nothing changed) when lab cannot use it."""
    crd_survey = survey_crds(kube, crds.all_files())
    crd_survey.refuse_unusable()
    consul = survey_consul(kube, consul_namespace)
    if consul.found and consul.problems:
        raise EnvironmentNotReady(
            f"the Consul in namespace {consul_namespace} is not one the lab can share: "
            + "; ".join(consul.problems)
            + f" (seen: {consul.seen}). Nothing was changed.",
            fix=f"the lab needs Consul chart {pins.CHART_VERSION} with apiGateway.enabled and image "
            f"{pins.API_GATEWAY_IMAGE}: point --consul-namespace at such a Consul, or let the host run "
            "`lab cluster prepare` on a cluster without one",
        )
    if not consul.found and not install_consul:
        raise EnvironmentNotReady(
            f"no Consul in namespace {consul_namespace} ({consul.seen}); on a shared cluster the host installs "
            "it once for every attendee. Nothing was changed.",
            fix="the host runs `lab cluster prepare` (or `lab up --engine cluster --install-consul` once); if "
            "Consul runs in another namespace, pass --consul-namespace",
        )
    missing = [c for c in crd_survey.found if c.owner == "absent"]
    if missing and not install_consul:
        raise EnvironmentNotReady(
            "Consul is there but these CRDs are not: " + ", ".join(c.file.crd_name for c in missing),
            fix="the host runs `lab cluster prepare` (it installs only the CRDs that are missing)",
        )
    return PlatformPlan(crd_survey, consul, install_consul, force_crds)


def cluster_values(values: Mapping[str, Any]) -> dict[str, Any]:
    """The chart values for a shared cluster: the managed GatewayClass without host ports (ClusterIP)."""
    out = copy.deepcopy(dict(values))
    api = out.setdefault("apiGateway", {})
    api["managedGatewayClass"] = {**(api.get("managedGatewayClass") or {}), "serviceType": "ClusterIP", "useHostPorts": False}
    return out


def install(
    plan: PlatformPlan,
    platform: Platform,
    values: Mapping[str, Any],
    manifests: Sequence[Mapping[str, Any]],
    progress: Progress,
) -> list[str]:
    """Apply the missing CRDs, install Consul and its RBAC when asked; say what was reused. What was done."""
    done = []
    for found in plan.crds.foreign:
        if plan.force_crds:
            progress(f"crds: --force-crds: replacing {found.describe()} (not installed by lab) with {pins.GATEWAY_API_VERSION}")
        else:
            progress(f"crds: using {found.describe()} as it is (not installed by lab; --force-crds replaces it)")
    files = plan.crds_to_install
    if files:
        platform.install_crds(progress, files)
        done.append(f"CRDs {', '.join(f.crd_name for f in files)}")
    if not plan.install_consul:
        progress(
            f"consul: reusing the Consul in namespace {plan.consul.namespace} (chart {pins.CHART_VERSION}, "
            f"{pins.API_GATEWAY_IMAGE}); lab will not remove it"
        )
        return done
    namespace = plan.consul.namespace
    progress(f"consul: installing the cluster's one Consul in namespace {namespace} (shared by every attendee)")
    platform.install_consul(cluster_values(values), progress)
    for body in platform_objects(manifests, namespace):
        platform.kube.apply(body)
    done.append(f"Consul release {pins.RELEASE_NAME} in namespace {namespace}")
    return done
