"""`--engine kind`: the lab on a pinned kind cluster whose kubeconfig stays in the state folder.

Preflight (Docker, kind, helm, kubectl) -> cluster (reused if there) -> images from the prefetch
cache -> the shared Kubernetes steps.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

import yaml

from lab.engines.base import Journal, Progress, StatusRow
from lab.engines.kube import doctor, prefetch
from lab.engines.kube.kind_cli import KindCli
from lab.engines.kube.record import KubeRecord
from lab.engines.kube.steps import (
    KIND_CONFIG_FILE,
    KUBECONFIG_FILE,
    KubernetesLab,
    Target,
    clear_state,
    record_of,
)
from lab.errors import EnvironmentNotReady, LabError, NotConverged
from lab.spec import pins
from lab.spec.plan import Plan, StepPlan
from lab.state import LabState

KIND_CONTEXT = f"kind-{pins.CLUSTER_NAME}"


class KindEngine(KubernetesLab):
    """The real lab on a pinned kind cluster; its kubeconfig stays in the state folder."""

    name: ClassVar[str] = "kind"

    @property
    def kubeconfig(self) -> Path:
        """The lab's own kubeconfig (~/.kube/config is never touched)."""
        return self.state_path / KUBECONFIG_FILE

    @property
    def pin(self) -> pins.KindPin:
        """The kind release and node image in use (`--kind-pin`)."""
        return pins.KIND_PINS[self.options.kind_pin]

    def _check_kind_version(self, kind_path: str, progress: Progress) -> None:
        """The pin's kind release, or a note (tutorial) / exit 4 (compat) when another one is on PATH."""
        version = doctor.tool_version(kind_path, "kind").split()
        found = next((v for v in version if v.startswith("v")), "?")
        for check in doctor.version_checks("kind", found, self.pin.name):
            if check.blocks:
                raise EnvironmentNotReady(f"kind {check.detail}", fix=check.fix)
            progress(f"preflight: note: kind {check.detail}; if the cluster does not boot: {check.fix}")

    def _tools(self) -> dict[str, str]:
        found = {tool: shutil.which(tool) for tool in doctor.ENGINE_TOOLS["kind"]}
        problems = []
        fixes = []
        docker = _docker_problem(self.timeouts.docker_ping)
        if docker:
            problems.append(docker)
            fixes.append(doctor.DOCKER_FIX)
        for tool, path in found.items():
            if path is None:
                problems.append(f"{tool} is not on PATH")
                fixes.append(f"install {tool}: {doctor.install_command(tool)}")
        if problems:
            raise EnvironmentNotReady(
                "the kind engine cannot start: " + "; ".join(problems), fix="; ".join(fixes)
            )
        return {tool: str(Path(path).resolve()) for tool, path in found.items() if path}

    def _kind_config(self, plan: Plan) -> tuple[Path, list[int]]:
        """The kind config to use (remapped host ports written to the state folder) and its host ports."""
        config = yaml.safe_load(plan.kind_config.read_text(encoding="utf-8"))
        ports = []
        for node in config.get("nodes") or []:
            for mapping in node.get("extraPortMappings") or []:
                mapping["hostPort"] = self.port_map.get(int(mapping["hostPort"]), int(mapping["hostPort"]))
                ports.append(int(mapping["hostPort"]))
        if not self.port_map:
            return plan.kind_config, ports
        path = self.state_path / KIND_CONFIG_FILE
        path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
        return path, ports

    def _kind(self, kind_path: str) -> KindCli:
        return KindCli(
            kind_path,
            pins.CLUSTER_NAME,
            self.kubeconfig,
            create_timeout=self.timeouts.cluster_create,
            command_timeout=self.timeouts.kind_command,
            stop_timeout=self.timeouts.tool_stop,
            stop_interval=self.timeouts.poll_interval,
        )

    def _cluster(self, tools: Mapping[str, str]) -> Any:
        """pytest-kind's KindCluster for the pinned cluster, with the tools on PATH (it downloads none)."""
        from pytest_kind import KindCluster

        # pytest-kind makes ./.pytest-kind/<name> in the working folder: keep it in the state folder
        with contextlib.chdir(self.state_path):
            return KindCluster(
                name=pins.CLUSTER_NAME,
                kubeconfig=self.kubeconfig,
                image=self.pin.node_image,
                kind_path=Path(tools["kind"]),
                kubectl_path=Path(tools["kubectl"]),
            )

    def _load_cached_images(self, kind: KindCli, cluster: Any, progress: Progress) -> None:
        try:
            client = doctor.docker_client(self.timeouts.docker_ping)
        except Exception:
            return
        progress(f"images: prefetch cache {self.cache} ({self.cache_reason})")
        for image in pins.ALL_IMAGES:
            if not prefetch.image_present(client, image):
                continue
            progress(f"images: kind load docker-image {image}")
            problem = kind.load(cluster, image)
            if problem is not None:
                # old kind's `docker save | ctr import` fails for some multi-arch images with Docker's
                # containerd image store (kind v0.11.1 pkg/cluster/nodeutils/util.go LoadImageArchive)
                progress(
                    f"images: `kind load docker-image {image}` {problem}; the node "
                    "will pull it from its registry itself when a pod needs it"
                )

    def up(
        self, start: LabState, plan: Plan, step: StepPlan, progress: Progress, journal: Journal
    ) -> LabState:
        """Preflight, kind cluster (reused if there), cached images, then the shared install steps."""
        self.refuse_what_consul_never_serves(plan, plan.steps)
        progress("preflight: Docker daemon, kind, helm, kubectl")
        tools = self._tools()
        self._check_kind_version(tools["kind"], progress)
        self.options.state.ensure()
        config, host_ports = self._kind_config(plan)
        kind = self._kind(tools["kind"])
        exists = kind.exists()
        if not exists:
            busy = [c for c in doctor.check_ports(host_ports) if not c.ok]
            if busy:
                raise EnvironmentNotReady(
                    "host ports the kind cluster maps are busy: "
                    + ", ".join(f"{c.name} {c.detail}" for c in busy),
                    fix=busy[0].fix,
                )
        created_by_lab = not exists or record_of(start).cluster == pins.CLUSTER_NAME
        if exists and not created_by_lab:
            progress(
                f"cluster: kind cluster {pins.CLUSTER_NAME} exists and lab has no record of creating it; "
                "`lab down` will leave it"
            )
        record = KubeRecord(
            kubeconfig=str(self.kubeconfig),
            context=KIND_CONTEXT,
            namespace="default",
            cluster=pins.CLUSTER_NAME if created_by_lab else None,
        )
        start = replace(start, record=record)
        journal(start)  # before `kind create cluster`: an interrupted up still leaves a record
        if exists and not (self.kubeconfig.is_file() and self.kubeconfig.stat().st_size):
            # reusing a cluster with a fresh state folder: its kubeconfig goes to the state folder
            kind.export_kubeconfig()
        progress(
            f"cluster: {'reusing' if exists else 'creating'} kind cluster {pins.CLUSTER_NAME} "
            f"({self.pin.node_image.split('@')[0]}, pin {self.pin.name}: {self.pin.source}), "
            f"kubeconfig {self.kubeconfig}"
        )
        cluster = self._cluster(tools)
        try:
            if not exists:
                kind.create(cluster, config)
            self._load_cached_images(kind, cluster, progress)
        except subprocess.CalledProcessError as exc:
            raise NotConverged(
                f"cluster: `{' '.join(map(str, exc.cmd))}` failed with exit {exc.returncode} (kind's output is above)",
                fix="run `lab doctor`; if the node image does not boot on this host, `lab up --kind-pin compat` "
                f"(kind {pins.KIND_PINS['compat'].kind_version} with a v1.21 image built for it); `lab down` "
                "removes a half-made cluster",
            ) from exc
        target = Target(self.kubeconfig, None, "default", tools["helm"])
        return self._install_and_apply(start, plan, step, target, progress, journal)

    def status(self, state: LabState) -> list[StatusRow]:
        """Cluster, Consul release, Gateway and routes."""
        kind_path = shutil.which("kind")
        if kind_path is None:
            return [StatusRow("kind", "missing", "kind is not on PATH")]
        try:
            exists = self._kind(kind_path).exists()
        except LabError as exc:
            return [StatusRow("cluster", "unknown", exc.message)]
        rows = [StatusRow("cluster", "running" if exists else "missing", f"kind cluster {pins.CLUSTER_NAME}")]
        if not exists:
            return rows
        return rows + self._lab_rows(state, self._target_from_state(state))

    def down(self, state: LabState | None, progress: Progress) -> None:
        """Delete the kind cluster lab created (a missing one is fine) and its files; the first error."""
        first: LabError | None = None
        if state is None or record_of(state).cluster is None:
            if state is not None:
                progress(f"cluster: leaving kind cluster {pins.CLUSTER_NAME} (lab did not create it)")
            first = clear_state(self)
            if first is not None:
                raise first
            return
        kind_path = shutil.which("kind")
        if kind_path is None:
            raise EnvironmentNotReady("kind is needed to delete the cluster", fix=doctor.install_command("kind"))
        progress(f"cluster: deleting kind cluster {pins.CLUSTER_NAME}")
        try:
            self.options.state.ensure()
            self._kind(kind_path).delete()
        except NotConverged as exc:
            first = exc
        if first is None:
            progress(f"state: clearing {self.state_path}")
            first = clear_state(self)
        if first is not None:
            raise first


def _docker_problem(timeout: float) -> str | None:
    try:
        doctor.docker_client(timeout)
    except Exception as exc:
        return f"no Docker daemon answers ({type(exc).__name__})"
    return None
