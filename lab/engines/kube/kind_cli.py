"""The kind commands the kind engine runs, each an argument list bounded by its Timeouts entry.

`kind create cluster` and `kind load docker-image` print their own progress to the terminal (their
output is not captured, so nothing waits in silence); a command past its timeout is killed and said.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from lab.engines.kube.doctor import DOCKER_FIX
from lab.errors import NotConverged


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

    def create(self, config: Path, image: str) -> None:
        """`kind create cluster` (its progress on the terminal); CalledProcessError / NotConverged."""
        argv = [
            self.executable,
            "create",
            "cluster",
            f"--name={self.name}",
            f"--kubeconfig={self.kubeconfig}",
            f"--image={image}",
            "--config",
            str(config),
        ]
        self.kubeconfig.touch(0o600, exist_ok=True)
        try:
            subprocess.run(argv, check=True, timeout=self.create_timeout)
        except subprocess.TimeoutExpired as exc:
            raise NotConverged(
                f"cluster: `kind create cluster --name {self.name}` did not finish within "
                f"{self.create_timeout:g} s (Timeouts.cluster_create); it was stopped",
                fix="`lab down` removes the half-made cluster; run `lab doctor`, and if the node image does "
                "not boot on this host, `lab up --kind-pin compat`",
            ) from exc

    def load(self, image: str) -> str | None:
        """`kind load docker-image`; why it did not load (None: loaded)."""
        argv = [self.executable, "load", "docker-image", "--name", self.name, image]
        try:
            done = subprocess.run(argv, check=False, timeout=self.command_timeout)
        except subprocess.TimeoutExpired:
            return f"did not finish within {self.command_timeout:g} s (Timeouts.kind_command)"
        return None if done.returncode == 0 else f"failed (exit {done.returncode})"

    def delete(self) -> None:
        """`kind delete cluster` (a missing cluster is fine for kind); NotConverged when it fails."""
        out = self._captured("delete", "cluster", f"--name={self.name}", f"--kubeconfig={self.kubeconfig}")
        if out.returncode != 0:
            raise NotConverged(
                f"`kind delete cluster --name {self.name}` failed with exit {out.returncode}: {out.stderr.strip()}"
            )
