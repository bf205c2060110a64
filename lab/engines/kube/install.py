"""The platform the lab needs on a cluster: the pinned CRDs, then the Consul release through helm.

helm runs in a worker thread (pyhelm3 captures its output) while the cluster is polled, so the
user sees which Consul pods are not ready yet and why during helm's own --wait.
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lab.engines.base import Progress
from lab.engines.kube import crds, helm
from lab.engines.kube.client import Kube
from lab.engines.kube.documents import GATEWAY_API
from lab.engines.kube.status import condition_true, pods_ready
from lab.engines.kube.tenancy import MANAGED_BY, PIN
from lab.engines.kube.waits import Condition, Waiter
from lab.errors import NotConverged
from lab.spec import pins
from lab.spec.pins import CrdFile
from lab.timeouts import Timeouts

# Pods of the Consul release (consul-k8s v0.40.0 templates label every pod release=<release name>).
RELEASE_PODS = f"release={pins.RELEASE_NAME}"


@dataclass(frozen=True)
class Platform:
    """Installs the CRDs and the Consul release into one cluster."""

    kube: Kube
    target: helm.HelmTarget
    timeouts: Timeouts
    waiter: Waiter
    cache: Path | None

    def install_crds(self, progress: Progress, files: Sequence[CrdFile] | None = None) -> None:
        """Apply the pinned CRD files (sha256-checked; all unless `files`) and wait until each is Established.

        Each is marked as lab's, with its pin, so a shared cluster's later survey knows whose it is.
        """
        files = crds.all_files() if files is None else files
        if not files:
            return
        progress(f"crds: Gateway API {pins.GATEWAY_API_VERSION} and GatewayClassConfig ({len(files)} files)")
        names = []
        for crd in files:
            data = crds.load(crd, cache=self.cache, timeout=self.timeouts.download)
            for doc in crds.documents(crd, data):
                meta = doc.setdefault("metadata", {})
                meta["labels"] = {**(meta.get("labels") or {}), MANAGED_BY: "lab"}
                meta["annotations"] = {**(meta.get("annotations") or {}), PIN: crd.sha256}
                self.kube.apply(doc)
                names.append(str(doc["metadata"]["name"]))
        for name in names:

            def established(name: str = name) -> tuple[bool, str]:
                obj = self.kube.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", name)
                return condition_true(obj, "Established")

            self.waiter.wait(
                Condition(
                    "CRDsMustBeEstablished",
                    f"CRD {name} Established",
                    self.timeouts.crd_established,
                    established,
                )
            )

    def _pods(self) -> tuple[bool, str]:
        namespace = self.target.namespace or "default"
        pods = self.kube.list("v1", "Pod", namespace, label_selector=RELEASE_PODS)
        return pods_ready(pods, self.kube.list("v1", "Event", namespace))

    def install_consul(self, values: dict[str, Any], progress: Progress) -> str:
        """Recover a pending/failed release, install or upgrade it (--wait), then wait for its pods."""
        recovered = helm.recover(self.target, self.timeouts)
        if recovered:
            progress(f"consul: {recovered}")
        archive = helm.cached_chart(self.cache)
        where = f"cached {archive.name}" if archive else pins.CHART_REPO_URL
        progress(f"consul: helm chart {pins.CHART_NAME} {pins.CHART_VERSION} from {where} (--wait)")
        with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="helm") as pool:
            job = pool.submit(
                helm.install, self.target, values, timeout=self.timeouts.helm_install, chart_archive=archive
            )

            def helm_done() -> tuple[bool, str]:
                if job.done():
                    return True, "helm returned"
                try:
                    return False, f"Consul pods {self._pods()[1]}"
                except Exception as exc:  # the chart's pods may not be listable yet
                    return False, f"helm is installing ({type(exc).__name__})"

            budget = helm.duration_seconds(self.timeouts.helm_install) + self.timeouts.helm_grace
            try:
                self.waiter.wait(Condition("ConsulReleaseMustDeploy", "helm --wait", budget, helm_done))
            except NotConverged as exc:
                # leaving the pool waits for its thread, which waits for helm: stop helm first
                stopped = helm.stop_children(self.target.executable, self.timeouts.tool_stop, self.timeouts.poll_interval)
                raise NotConverged(f"{exc.message}; helm was stopped ({stopped})", fix=exc.fix) from None
            outcome, revision = job.result()
        progress(f"consul: release {pins.RELEASE_NAME} {outcome} (revision {revision}); waiting for pods")
        for what, selector in pins.CONSUL_POD_SELECTORS.items():
            namespace = self.target.namespace or "default"

            def ready(selector: str = selector, namespace: str = namespace) -> tuple[bool, str]:
                pods = self.kube.list("v1", "Pod", namespace, label_selector=selector)
                return pods_ready(pods, self.kube.list("v1", "Event", namespace))

            self.waiter.wait(
                Condition(
                    "ConsulPodsMustBeReady",
                    f"{what} pods ({selector}) Ready",
                    self.timeouts.consul_ready,
                    ready,
                )
            )

        def accepted() -> tuple[bool, str]:
            gateway_class = self.kube.get(f"{GATEWAY_API}/v1alpha2", "GatewayClass", pins.GATEWAY_CLASS)
            return condition_true(gateway_class, "Accepted")

        self.waiter.wait(
            Condition(
                "GatewayClassMustBeAccepted",
                f"GatewayClass {pins.GATEWAY_CLASS} Accepted",
                self.timeouts.gateway_class_accepted,
                accepted,
            )
        )
        return outcome
