"""The kind commands the kind engine runs, each bounded by its Timeouts entry.

pytest-kind's KindCluster creates the cluster and loads images; its subprocess calls have no timeout
of their own, so each runs in a worker thread and the `kind` child it started is killed past the
budget (or on Ctrl-C). `get clusters`, `export kubeconfig` and `delete` run here with a timeout.
"""

from __future__ import annotations

import contextlib
import subprocess
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from lab.engines.kube.doctor import DOCKER_FIX
from lab.errors import NotConverged
from lab.waiting import poll


@dataclass(frozen=True)
class KindCli:
    """One kind executable and the cluster it manages, with the lab's own kubeconfig."""

    executable: str
    name: str
    kubeconfig: Path
    # seconds for `kind create cluster` (Timeouts.cluster_create) and for any other kind command
    # (Timeouts.kind_command)
    create_timeout: float
    command_timeout: float
    # seconds a killed kind takes to exit (Timeouts.tool_stop) and between looks (Timeouts.poll_interval)
    stop_timeout: float
    stop_interval: float

    def _captured(self, *args: str) -> subprocess.CompletedProcess[str]:
        argv = [self.executable, *args]
        try:
            return subprocess.run(argv, capture_output=True, text=True, check=False, timeout=self.command_timeout)
        except subprocess.TimeoutExpired as exc:
            raise NotConverged(
                f"`kind {' '.join(args)}` did not finish within {self.command_timeout:g} s "
                "(Timeouts.kind_command)",
                fix=DOCKER_FIX,
            ) from exc

    def exists(self) -> bool:
        """`kind get clusters` lists the cluster."""
        out = self._captured("get", "clusters")
        if out.returncode != 0:
            raise NotConverged(f"`kind get clusters` failed: {out.stderr.strip()}", fix=DOCKER_FIX)
        return self.name in out.stdout.split()

    def export_kubeconfig(self) -> None:
        """Write the existing cluster's kubeconfig to the lab's own file."""
        out = self._captured("export", "kubeconfig", "--name", self.name, "--kubeconfig", str(self.kubeconfig))
        if out.returncode != 0:
            raise NotConverged(f"`kind export kubeconfig` failed: {out.stderr.strip()}")

    def create(self, cluster: Any, config: Path) -> None:
        """KindCluster.create (kind's progress on the terminal); NotConverged when stopped at its budget.

        A failing kind raises CalledProcessError.
        """
        # pytest-kind 22.11.1 pytest_kind/cluster.py L88-130: ensure_kind (no download: kind_path is
        # the kind on PATH, L48-49), touch the kubeconfig, `kind get clusters`, `kind create cluster`
        # when missing, then a pykube client from the kubeconfig kind wrote (L129-130)
        if not self._bounded(lambda: cluster.create(config_file=config), ("create", "cluster"), self.create_timeout):
            raise NotConverged(
                f"cluster: `kind create cluster --name {self.name}` did not finish within "
                f"{self.create_timeout:g} s (Timeouts.cluster_create); it was stopped",
                fix="`lab down` removes the half-made cluster; run `lab doctor`, and if the node image does "
                "not boot on this host, `lab up --kind-pin compat`",
            )

    def load(self, cluster: Any, image: str) -> str | None:
        """KindCluster.load_docker_image (cluster.py L132-144); why it did not load (None: loaded)."""
        try:
            done = self._bounded(lambda: cluster.load_docker_image(image), ("load", "docker-image"), self.command_timeout)
        except subprocess.CalledProcessError as exc:
            return f"failed (exit {exc.returncode})"
        return None if done else f"did not finish within {self.command_timeout:g} s (Timeouts.kind_command)"

    def delete(self) -> None:
        """`kind delete cluster` (a missing cluster is fine for kind); NotConverged when it fails."""
        out = self._captured("delete", "cluster", f"--name={self.name}", f"--kubeconfig={self.kubeconfig}")
        if out.returncode != 0:
            raise NotConverged(
                f"`kind delete cluster --name {self.name}` failed with exit {out.returncode}: {out.stderr.strip()}"
            )

    def _bounded(self, call: Callable[[], object], command: Sequence[str], budget: float) -> bool:
        """Run `call` (it runs `kind COMMAND`) for at most `budget` s: True if it returned, False if stopped.

        Its exception is raised here; Ctrl-C stops it and is raised.
        """
        failure: list[BaseException] = []

        def work() -> None:
            try:
                call()
            except BaseException as exc:  # handed to the waiting thread
                failure.append(exc)

        worker = threading.Thread(target=work, name=f"kind {' '.join(command)}", daemon=True)
        worker.start()
        try:
            worker.join(budget)
        except KeyboardInterrupt:
            self._stop(worker, command)
            raise
        if worker.is_alive():
            self._stop(worker, command)
            return False
        if failure:
            raise failure[0]
        return True

    def _stop(self, worker: threading.Thread, command: Sequence[str]) -> None:
        """Kill the `kind COMMAND` processes this process started until `worker` returns.

        Its subprocess.run then raises CalledProcessError, which is dropped.
        """

        def stopped() -> bool | None:
            kill_children(self.executable, command)
            worker.join(self.stop_interval)
            return None if worker.is_alive() else True

        poll(stopped, what=f"`kind {' '.join(command)}` to stop", budget=self.stop_timeout, interval=0)


def kill_children(executable: str, command: Sequence[str]) -> None:
    """SIGKILL this process's children running `EXECUTABLE COMMAND...` and everything they started.

    A script's interpreter may come before EXECUTABLE in the command line (the tests' fake kind).
    """
    for child in psutil.Process().children():
        with contextlib.suppress(psutil.Error):
            argv = child.cmdline()
            at = argv.index(executable) if executable in argv[:2] else -1
            if at < 0 or argv[at + 1 : at + 1 + len(command)] != list(command):
                continue
            for proc in [*child.children(recursive=True), child]:
                with contextlib.suppress(psutil.Error):
                    proc.kill()
