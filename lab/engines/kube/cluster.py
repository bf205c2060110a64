"""`--engine cluster`: the lab on an existing cluster (a kubeconfig context), in its own namespace.

No cluster lifecycle: `lab down` deletes what the lab applied and uninstalls its Consul release.
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from typing import ClassVar

from lab.engines.base import Journal, Progress, StatusRow
from lab.engines.kube import doctor, helm
from lab.engines.kube.record import KubeRecord
from lab.engines.kube.steps import KubernetesLab, Target, clear_state, objects_of
from lab.errors import EnvironmentNotReady, LabError
from lab.objects import ObjectKey
from lab.spec import pins
from lab.spec.plan import Plan, StepPlan
from lab.state import LabState


class ClusterEngine(KubernetesLab):
    """The lab on an existing cluster (kubeconfig context), isolated in its own namespace."""

    name: ClassVar[str] = "cluster"
    takes_cluster_options: ClassVar[bool] = True

    def _target(self) -> Target:
        helm_path = shutil.which("helm")
        if helm_path is None:
            raise EnvironmentNotReady(
                "helm is not on PATH", fix=f"install helm: {doctor.install_command('helm')}"
            )
        return Target(None, self.options.kube_context, self.options.namespace or "lab", helm_path)

    def up(
        self, start: LabState, plan: Plan, step: StepPlan, progress: Progress, journal: Journal
    ) -> LabState:
        """The shared steps on the context's cluster, in the lab's namespace."""
        progress("preflight: helm")
        target = self._target()
        self.options.state.ensure()
        progress(f"cluster: using context {target.context or '(current)'}, namespace {target.namespace}")
        start = replace(start, record=KubeRecord(context=target.context, namespace=target.namespace))
        journal(start)
        return self._install_and_apply(start, plan, step, target, progress, journal)

    def status(self, state: LabState) -> list[StatusRow]:
        """Consul release, Gateway and routes in the lab's namespace."""
        return self._lab_rows(state, self._target_from_state(state))

    def down(self, state: LabState | None, progress: Progress) -> None:
        """Delete what the lab applied (reverse order), uninstall its Consul release, clear the state."""
        first: LabError | None = None
        if state is not None:
            target = self._target_from_state(state)
            objects = objects_of(state)
            try:
                kube = self._connect(target)
                for text in reversed(list(objects)):
                    key = ObjectKey.parse(text)
                    if key.kind == "Namespace":
                        continue
                    progress(f"delete: {key.display()}")
                    kube.delete(str(objects[text][0]), key.kind, key.name, key.namespace or None)
            except LabError as exc:
                first = exc
            progress(f"consul: helm uninstall {pins.RELEASE_NAME} -n {target.namespace}")
            try:
                helm.uninstall(target.helm, timeout=self.timeouts.helm_install)
            except LabError as exc:
                first = first or exc
        err = clear_state(self)
        first = first or err
        if first is not None:
            raise first
