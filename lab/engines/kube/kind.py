"""`--engine kind`: the lab on a pinned kind cluster whose kubeconfig stays in the state folder.

Preflight (Docker, kind, helm, kubectl) -> cluster (reused if there) -> images from the prefetch
cache -> the shared Kubernetes steps.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import yaml

from lab.engines.base import Progress, StatusRow
from lab.engines.kube import doctor, prefetch
from lab.engines.kube.steps import KIND_CONFIG_FILE, KUBECONFIG_FILE, KubernetesLab, Target, clear_state
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

    def _cluster(self, tools: Mapping[str, str]) -> Any:
        from pytest_kind import KindCluster

        # pytest-kind makes ./.pytest-kind/<name> in the working folder: keep it in the state folder
        with contextlib.chdir(self.state_path):
            return KindCluster(
                name=pins.CLUSTER_NAME,
                kubeconfig=self.kubeconfig,
                image=pins.NODE_IMAGE,
                kind_path=Path(tools["kind"]),
                kubectl_path=Path(tools["kubectl"]),
            )

    def _cluster_exists(self, kind_path: str) -> bool:
        out = subprocess.run(
            [kind_path, "get", "clusters"], capture_output=True, text=True, check=False, timeout=60
        )
        if out.returncode != 0:
            raise NotConverged(f"`kind get clusters` failed: {out.stderr.strip()}", fix=doctor.DOCKER_FIX)
        return pins.CLUSTER_NAME in out.stdout.split()

    def _export_kubeconfig(self, kind_path: str) -> None:
        argv = [
            kind_path,
            "export",
            "kubeconfig",
            "--name",
            pins.CLUSTER_NAME,
            "--kubeconfig",
            str(self.kubeconfig),
        ]
        out = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=60)
        if out.returncode != 0:
            raise NotConverged(f"`kind export kubeconfig` failed: {out.stderr.strip()}")

    def _load_cached_images(self, cluster: Any, progress: Progress) -> None:
        try:
            client = doctor.docker_client(self.timeouts.docker_ping)
        except Exception:
            return
        for image in pins.ALL_IMAGES:
            if prefetch.image_present(client, image):
                progress(f"images: kind load docker-image {image}")
                cluster.load_docker_image(image)

    def up(self, plan: Plan, step: StepPlan, progress: Progress) -> LabState:
        """Preflight, kind cluster (reused if there), cached images, then the shared install steps."""
        progress("preflight: Docker daemon, kind, helm, kubectl")
        tools = self._tools()
        self.options.state.ensure()
        config, host_ports = self._kind_config(plan)
        exists = self._cluster_exists(tools["kind"])
        if not exists:
            busy = [c for c in doctor.check_ports(host_ports) if not c.ok]
            if busy:
                raise EnvironmentNotReady(
                    "host ports the kind cluster maps are busy: "
                    + ", ".join(f"{c.name} {c.detail}" for c in busy),
                    fix=busy[0].fix,
                )
        cluster = self._cluster(tools)
        if exists and not (self.kubeconfig.is_file() and self.kubeconfig.stat().st_size):
            # reusing a cluster with a fresh state folder: pytest-kind expects the kubeconfig there
            self._export_kubeconfig(tools["kind"])
        progress(
            f"cluster: {'reusing' if exists else 'creating'} kind cluster {pins.CLUSTER_NAME} "
            f"({pins.NODE_IMAGE.split('@')[0]}), kubeconfig {self.kubeconfig}"
        )
        try:
            cluster.create(config_file=config)
            self._load_cached_images(cluster, progress)
        except subprocess.CalledProcessError as exc:
            raise NotConverged(
                f"cluster: `{' '.join(map(str, exc.cmd))}` failed with exit {exc.returncode} (kind's output is above)",
                fix="run `lab doctor`; if a half-made cluster is left, `kind delete cluster --name "
                f"{pins.CLUSTER_NAME}` and try again",
            ) from exc
        target = Target(self.kubeconfig, None, "default", tools["helm"])
        return self._install_and_apply(plan, step, target, progress, context_for_state=KIND_CONTEXT)

    def status(self, state: LabState) -> list[StatusRow]:
        """Cluster, Consul release, Gateway and routes."""
        kind_path = shutil.which("kind")
        if kind_path is None:
            return [StatusRow("kind", "missing", "kind is not on PATH")]
        try:
            exists = self._cluster_exists(kind_path)
        except LabError as exc:
            return [StatusRow("cluster", "unknown", exc.message)]
        rows = [StatusRow("cluster", "running" if exists else "missing", f"kind cluster {pins.CLUSTER_NAME}")]
        if not exists:
            return rows
        return rows + self._lab_rows(state, self._target_from_state(state))

    def down(self, state: LabState | None, progress: Progress) -> None:
        """Delete the kind cluster (a missing one is fine) and the state; keeps the first error."""
        first: LabError | None = None
        kind_path, kubectl_path = shutil.which("kind"), shutil.which("kubectl")
        if kind_path is None or kubectl_path is None:
            raise EnvironmentNotReady(
                "kind and kubectl are needed to delete the cluster", fix=doctor.install_command("kind")
            )
        progress(f"cluster: deleting kind cluster {pins.CLUSTER_NAME}")
        try:
            self.options.state.ensure()
            self._cluster({"kind": kind_path, "kubectl": kubectl_path}).delete()
        except subprocess.CalledProcessError as exc:
            first = NotConverged(
                f"`kind delete cluster --name {pins.CLUSTER_NAME}` failed with exit {exc.returncode}"
            )
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
