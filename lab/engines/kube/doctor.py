"""`lab doctor`: is this machine ready for the kind (or cluster) engine? Each problem with its fix.

Checks the Docker daemon and its resources, kind/helm/kubectl and their versions, the host ports the
kind cluster maps, and amd64-only images on arm64 hosts. Read-only: it changes nothing.
"""

from __future__ import annotations

import errno
import platform
import shutil
import socket
import subprocess
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from lab.spec import pins
from lab.timeouts import DEFAULT

GIB = 1024**3
MIN_MEMORY = 4 * GIB
MIN_CPUS = 2

# The version command of each tool, as `lab doctor` shows it.
VERSION_COMMANDS: dict[str, tuple[str, ...]] = {
    "kind": ("kind", "version"),
    "helm": ("helm", "version", "--short"),
    "kubectl": ("kubectl", "version", "--client"),
}
# What the cluster engine needs each tool for (neither is needed to run an attendee's lab).
CLUSTER_TOOL_USE = {
    "helm": "only `lab cluster prepare` and `lab up --install-consul` run helm",
    "kubectl": "the tutorial's commands use it; lab does not",
}
ENGINE_TOOLS: dict[str, tuple[str, ...]] = {
    "kind": ("kind", "helm", "kubectl"),
    "cluster": ("helm", "kubectl"),
}


@dataclass(frozen=True)
class Check:
    """One line of `lab doctor`: what was checked, whether it passed, what was seen, the fix."""

    name: str
    ok: bool
    detail: str
    fix: str = ""
    blocking: bool = True

    @property
    def blocks(self) -> bool:
        """True when this check stops the lab from coming up."""
        return self.blocking and not self.ok


def _os_arch(machine: str) -> tuple[str, str]:
    arch = {"x86_64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(machine.lower(), machine.lower())
    return platform.system().lower() or "linux", arch


def install_command(tool: str, machine: str | None = None) -> str:
    """The command that installs a missing tool on this machine."""
    os_name, arch = _os_arch(machine or platform.machine())
    return pins.TOOL_INSTALL[tool].format(os=os_name, arch=arch)


def docker_client(timeout: float) -> Any:
    """A docker SDK client from the environment (DOCKER_HOST...); raises when no daemon answers."""
    import docker

    client = docker.from_env(timeout=timeout)
    client.ping()
    return client


DOCKER_FIX = (
    "start Docker (Docker Desktop, or `sudo systemctl start docker` on Linux) and check `docker info`; "
    "without Docker use `--engine local`"
)


def check_docker(timeout: float = DEFAULT.docker_ping) -> tuple[list[Check], Any]:
    """The daemon answers; it has >= 4 GiB memory and >= 2 CPUs. Returns the checks and the client."""
    try:
        client = docker_client(timeout)
    except Exception as exc:  # the SDK raises several types for "no daemon"
        return [
            Check("Docker daemon", False, f"no Docker daemon answers ({type(exc).__name__})", DOCKER_FIX)
        ], None
    checks = [Check("Docker daemon", True, "answers")]
    try:
        info = client.info()
    except Exception as exc:
        checks.append(Check("Docker resources", False, f"docker info failed: {exc}", "check `docker info`"))
        return checks, client
    memory = int(info.get("MemTotal") or 0)
    cpus = int(info.get("NCPU") or 0)
    resources_fix = (
        "give Docker more: Docker Desktop > Settings > Resources (4 GB memory, 2 CPUs), or a bigger machine"
    )
    checks.append(
        Check(
            "Docker memory",
            memory >= MIN_MEMORY,
            f"{memory / GIB:.1f} GiB (needs >= {MIN_MEMORY // GIB} GiB)",
            "" if memory >= MIN_MEMORY else resources_fix,
        )
    )
    checks.append(
        Check(
            "Docker CPUs",
            cpus >= MIN_CPUS,
            f"{cpus} (needs >= {MIN_CPUS})",
            "" if cpus >= MIN_CPUS else resources_fix,
        )
    )
    return checks, client


def tool_version(path: str, tool: str, timeout: float = DEFAULT.tool_version) -> str:
    """The first line of the tool's version command (an argument list, no shell)."""
    argv = [path, *VERSION_COMMANDS[tool][1:]]
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"(version unknown: {exc})"
    text = (out.stdout or out.stderr).strip()
    return text.splitlines()[0] if text else f"(version unknown: exit {out.returncode})"


def _version_token(text: str) -> str:
    for token in text.replace(",", " ").split():
        token = token.strip('"')
        if token.startswith("v") and token[1:2].isdigit():
            return token.split("+")[0]
        if token.startswith("GitVersion:"):
            return token.split(":", 1)[1].strip('"')
    return ""


def check_tools(
    tools: Iterable[str],
    which: Callable[[str], str | None] = shutil.which,
    machine: str | None = None,
    pin: str = "tutorial",
) -> list[Check]:
    """Each tool is on PATH; its version is shown; known-bad versions are flagged."""
    checks = []
    for tool in tools:
        path = which(tool)
        if path is None:
            checks.append(Check(tool, False, "not found on PATH", install_command(tool, machine)))
            continue
        shown = tool_version(path, tool)
        version = _version_token(shown)
        bad = [
            why
            for (name, prefix), why in pins.KNOWN_BAD_TOOLS.items()
            if name == tool and version.startswith(prefix)
        ]
        if bad:
            checks.append(Check(tool, False, f"{shown} at {path}: {bad[0]}", install_command(tool, machine)))
            continue
        checks.append(Check(tool, True, shown))
        checks += version_checks(tool, version, pin, machine)
    return checks


def _numbers(version: str) -> tuple[int, ...]:
    parts = version.lstrip("v").split("-")[0].split(".")
    return tuple(int(p) for p in parts if p.isdigit())


def version_checks(tool: str, version: str, pin: str = "tutorial", machine: str | None = None) -> list[Check]:
    """Versions known to work with the pinned node image: kind as pinned, helm >= 3.7, kubectl skew."""
    kind_pin = pins.KIND_PINS[pin]
    numbers = _numbers(version)
    if not numbers:
        return []
    if tool == "kind" and version != kind_pin.kind_version:
        install = install_command("kind", machine).replace(pins.KIND_VERSION, kind_pin.kind_version)
        if pin == "compat":
            return [
                Check(
                    "kind version",
                    False,
                    f"{version}; --kind-pin compat needs kind {kind_pin.kind_version}",
                    install,
                )
            ]
        return [
            Check(
                "kind version",
                False,
                f"{version}; the node image {kind_pin.node_image.split('@')[0]} was released for kind "
                f"{kind_pin.kind_version} (other kind releases: best effort, kind's node-image docs)",
                f"{install}, or `lab up --kind-pin compat` with kind {pins.KIND_PINS['compat'].kind_version}",
                blocking=False,
            )
        ]
    # helm 3.7.0 marks a release interrupted during --wait as failed (helm/helm pull 9180)
    if tool == "helm" and numbers[:2] < pins.MIN_HELM:
        return [
            Check(
                "helm version",
                False,
                f"{version} is older than helm 3.7: a Ctrl-C during `helm --wait` leaves the release "
                "pending-install instead of failed",
                install_command("helm", machine),
            )
        ]
    if tool == "kubectl" and len(numbers) >= 2 and abs(numbers[1] - pins.KUBERNETES_MINOR[1]) > 1:
        minor = ".".join(map(str, pins.KUBERNETES_MINOR))
        return [
            Check(
                "kubectl version",
                False,
                f"{version} is more than one minor version from the node's Kubernetes v{minor} "
                "(Kubernetes version skew policy; kind known issues: kubectl version skew)",
                install_command("kubectl", machine),
                blocking=False,
            )
        ]
    return []


def check_host(info: Mapping[str, Any], pin: str = "tutorial") -> list[Check]:
    """Host conditions known to stop the pinned node image from booting, from `docker info`."""
    cgroup = str(info.get("CgroupVersion") or "")
    kernel = str(info.get("KernelVersion") or "")
    docker_version = str(info.get("ServerVersion") or "")
    checks = []
    if pin == "tutorial" and cgroup == "2":
        checks.append(
            Check(
                "host cgroups",
                False,
                f"cgroup v2, kernel {kernel}: 2021 node images can fail at 'Starting control-plane' on "
                "cgroup v2 hosts with new kernels (kind issue #2731)",
                "if `lab up --engine kind` fails while creating the cluster, use `lab up --kind-pin compat` "
                f"(kind {pins.KIND_PINS['compat'].kind_version}, {pins.KIND_PINS['compat'].node_image.split('@')[0]})",
                blocking=False,
            )
        )
    if pin == "compat" and docker_version and _numbers(docker_version)[:2] < (20, 10):
        checks.append(
            Check(
                "Docker version",
                False,
                f"{docker_version}; kind v0.20.0 needs Docker 20.10.0+ (release notes)",
                "upgrade Docker to 20.10 or newer",
            )
        )
    if pin == "compat" and kernel and _numbers(kernel)[:2] < (4, 6):
        checks.append(
            Check(
                "host kernel",
                False,
                f"{kernel} has no cgroup namespaces, which kind v0.20.0 uses "
                "(kind known issues: older Linux distributions)",
                "use a newer kernel or a VM",
            )
        )
    return checks


def port_problem(port: int) -> str | None:
    """Why `port` cannot be bound on 127.0.0.1 or 0.0.0.0 (None: free, or not ours to judge)."""
    for host in ("127.0.0.1", "0.0.0.0"):  # noqa: S104 - checking, like docker will bind
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EACCES:
                return None  # a privileged port for this user; Docker binds it as root
            return f"in use on {host}"
        finally:
            sock.close()
    return None


def port_fix(port: int, holder: str | None, embedded_pid: int | None) -> str:
    """How to free `port`, given who holds it (as the OS tells) and whether it is the embedded lab."""
    if embedded_pid is not None:
        return f"the embedded lab serves it: `lab down` (with its --state-dir) stops it, or use --port {port}=OTHER"
    old_kind = f"an old kind lab: `kind delete cluster --name {pins.CLUSTER_NAME}`"
    if holder is None:
        return f"find what holds it with `sudo lsof -nP -iTCP:{port} -sTCP:LISTEN` and stop it (if it is {old_kind})"
    if "docker" in holder.lower():
        return f"Docker publishes it, probably for {old_kind}"
    return f"stop {holder}, or run the lab on another port with --port {port}=OTHER"


# Who listens on a host port: ("nginx (pid 12)", None), or ("the embedded lab (pid 34)", 34) when
# it is the embedded lab's process; None when the OS does not say. Given by the caller
# (lab.engines.port_holder), so this engine never imports the embedded one.
PortHolder = Callable[[int], "tuple[str, int | None] | None"]


def check_ports(ports: Sequence[int], holder: PortHolder | None = None) -> list[Check]:
    """The host ports the kind cluster maps are free; a busy one names its holder (when known) and the fix."""
    checks = []
    for port in ports:
        problem = port_problem(port)
        if problem is None:
            checks.append(Check(f"port {port}", True, "free"))
            continue
        found = holder(port) if holder is not None else None
        holder_name, embedded = found if found is not None else (None, None)
        detail = f"{problem} by {holder_name}" if holder_name else problem
        checks.append(Check(f"port {port}", False, detail, port_fix(port, holder_name, embedded)))
    return checks


def check_architecture(machine: str | None = None) -> list[Check]:
    """amd64-only images on an arm64 host run under emulation at best: flagged, not blocking."""
    _, arch = _os_arch(machine or platform.machine())
    if arch != "arm64":
        return [Check("image architectures", True, f"{arch} host: every pinned image runs natively")]
    images = ", ".join(sorted(pins.AMD64_ONLY_IMAGES))
    return [
        Check(
            "image architectures",
            False,
            f"arm64 host: amd64-only images {images}",
            "enable Rosetta/QEMU emulation in Docker Desktop (Settings > General); the echo services "
            "(the split the lab judges) are multi-arch and unaffected",
            blocking=False,
        )
    ]


@dataclass(frozen=True)
class ClusterTarget:
    """The cluster `lab doctor --engine cluster` looks at.

    The lab folder (for the shipped RBAC), the context (None: the current one), the attendee's
    namespace and Consul's (None: the defaults).
    """

    lab_root: Path
    context: str | None = None
    namespace: str | None = None
    consul_namespace: str | None = None


def run(
    engine: str = "kind",
    *,
    ports: Sequence[int] = pins.HOST_PORTS,
    machine: str | None = None,
    which: Callable[[str], str | None] = shutil.which,
    docker_timeout: float = DEFAULT.docker_ping,
    holder: PortHolder | None = None,
    pin: str = "tutorial",
    cluster: ClusterTarget | None = None,
) -> list[Check]:
    """Every check for an engine ("kind" or "cluster"), Docker first; `holder` names who holds a busy port.

    For the cluster engine with a `cluster` to look at: the cluster, its platform and the user's RBAC.
    """
    checks: list[Check] = []
    if engine == "kind":
        docker_checks, client = check_docker(docker_timeout)
        checks += docker_checks
        if client is not None:
            try:
                checks += check_host(client.info(), pin)
            except Exception as exc:  # docker info already reported above
                checks.append(Check("host cgroups", False, f"unknown ({type(exc).__name__})", blocking=False))
    tools = check_tools(ENGINE_TOOLS[engine], which, machine, pin)
    if engine == "cluster":  # lab talks to the cluster itself; helm installs Consul, kubectl is the tutorial's
        tools = [replace(c, blocking=False, fix=c.fix and f"{c.fix} ({CLUSTER_TOOL_USE.get(c.name, '')})") for c in tools]
    checks += tools
    if engine == "kind":
        checks += check_ports(ports, holder)
        checks += check_architecture(machine)
    if engine == "cluster" and cluster is not None:
        from lab.engines.kube import access  # it builds on this module's Check

        checks += access.run(cluster.lab_root, cluster.context, cluster.namespace, cluster.consul_namespace)
    return checks
