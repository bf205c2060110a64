"""The Consul chart through pyhelm3: install or upgrade the pinned release, read its status.

pyhelm3 is async only; each call here runs its own event loop with asyncio.run. A helm call that
does not answer within its Timeouts entry is stopped (helm itself, not only pyhelm3's shell).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from lab.engines import processes
from lab.errors import ChartNotFound, EnvironmentNotReady, NotConverged
from lab.spec import pins
from lab.timeouts import Timeouts

T = TypeVar("T")


@dataclass(frozen=True)
class HelmTarget:
    """Which helm binary and cluster: kubeconfig (None: helm's default) and context."""

    executable: str
    kubeconfig: Path | None
    context: str | None = None
    namespace: str | None = None


def cached_chart(cache: Path | None) -> Path | None:
    """The chart archive `lab prefetch` keeps, when it is there."""
    if cache is None:
        return None
    path = cache / "charts" / f"{pins.CHART_NAME}-{pins.CHART_VERSION}.tgz"
    return path if path.is_file() else None


def _client(target: HelmTarget) -> Any:
    from pyhelm3 import Client

    try:
        return Client(kubeconfig=target.kubeconfig, kubecontext=target.context, executable=target.executable)
    except Exception as exc:  # Client asserts the binary exists and runs `helm version`
        raise EnvironmentNotReady(
            f"helm at {target.executable} does not run: {type(exc).__name__}: {exc}",
            fix=pins.TOOL_INSTALL["helm"],
        ) from exc


def _stderr(exc: Any) -> str:
    raw = getattr(exc, "stderr", b"")
    return (raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)).strip()


async def _install(
    target: HelmTarget, values: Mapping[str, Any], timeout: str, chart_archive: Path | None
) -> tuple[str, int]:
    from pyhelm3 import errors

    client = _client(target)
    source = str(chart_archive) if chart_archive else f"{pins.CHART_REPO_URL} (chart {pins.CHART_NAME})"
    try:
        if chart_archive is not None:
            chart = await client.get_chart(chart_archive)
        else:
            chart = await client.get_chart(
                pins.CHART_NAME, repo=pins.CHART_REPO_URL, version=pins.CHART_VERSION
            )
    except errors.ChartNotFoundError as exc:
        raise ChartNotFound(
            f"helm cannot find chart {pins.CHART_NAME} version {pins.CHART_VERSION} in {source}: {_stderr(exc)}",
            fix=f"check the chart version ({pins.CHART_VERSION}) and repo URL ({pins.CHART_REPO_URL}) in "
            "lab/spec/pins.py and the network (`helm show chart consul --repo URL --version V`); offline, run "
            "`lab prefetch` while online first",
        ) from exc
    except errors.Error as exc:
        raise NotConverged(f"helm could not read chart {source}: {_stderr(exc)}") from exc
    if str(chart.metadata.version) != pins.CHART_VERSION:
        raise ChartNotFound(
            f"{source} holds chart version {chart.metadata.version}, lab pins {pins.CHART_VERSION}",
            fix="delete the cached archive and run `lab prefetch` again",
        )
    wanted = dict(values)
    try:
        current = await client.get_current_revision(pins.RELEASE_NAME, namespace=target.namespace)
    except errors.ReleaseNotFoundError:
        current = None
    except errors.Error as exc:
        raise NotConverged(f"helm status {pins.RELEASE_NAME} failed: {_stderr(exc)}") from exc
    if current is not None and current.status.value == "deployed":
        same_chart = str((await current.chart_metadata()).version) == pins.CHART_VERSION
        if same_chart and await current.values() == wanted:
            return "unchanged", int(current.revision)
    try:
        revision = await client.install_or_upgrade_release(
            pins.RELEASE_NAME,
            chart,
            wanted,
            namespace=target.namespace,
            wait=True,
            timeout=timeout,
        )
    except errors.ChartNotFoundError as exc:
        raise ChartNotFound(f"helm cannot find chart {source}: {_stderr(exc)}") from exc
    except errors.Error as exc:
        raise NotConverged(
            f"helm install/upgrade of {pins.RELEASE_NAME} (chart {pins.CHART_NAME} {pins.CHART_VERSION}) "
            f"failed: {_stderr(exc)}",
            fix="see helm's message above; `no matches for kind` means the CRDs are missing",
        ) from exc
    return ("installed" if current is None else "upgraded"), int(revision.revision)


def stop_children(executable: str, grace: float, interval: float) -> str:
    """Stop this process's children running `executable` (SIGTERM, then SIGKILL); what was done."""
    import psutil

    done = []
    for child in psutil.Process().children(recursive=True):
        try:
            if executable not in child.cmdline()[:2]:  # the binary, or a script after its interpreter
                continue
            running = processes.Running(child.pid, child.create_time())
        except psutil.Error:
            continue
        done.append(f"pid {child.pid} {processes.stop(running, grace, interval, 'helm')}")
    return ", ".join(done) or "it had exited"


async def _bounded(awaitable: Awaitable[T], what: str, target: HelmTarget, seconds: float, timeouts: Timeouts) -> T:
    """`awaitable` (one helm call) within `seconds`, else NotConverged once helm is stopped.

    pyhelm3 runs helm through `sh -c` and, when cancelled, signals only the shell and then waits for
    helm's output to end (pyhelm3 0.5.8 command.py `run`): helm itself is stopped first.
    """
    task = asyncio.ensure_future(awaitable)
    done, _ = await asyncio.wait({task}, timeout=seconds)
    if task in done:
        return task.result()
    stopped = await asyncio.to_thread(stop_children, target.executable, timeouts.tool_stop, timeouts.poll_interval)
    task.cancel()
    with contextlib.suppress(BaseException):  # cancelled, or helm's error for being stopped
        await task
    raise NotConverged(
        f"{what} did not answer within {seconds:g} s; helm was stopped ({stopped})",
        fix="check the cluster (`kubectl get --raw /readyz`); the timeout is Timeouts.helm_command",
    )


def duration_seconds(text: str) -> float:
    """Helm's duration string ("10m", "90s", "1h") in seconds."""
    units = {"s": 1.0, "m": 60.0, "h": 3600.0}
    return float(text[:-1]) * units[text[-1]] if text[-1:] in units else float(text)


async def _recover(target: HelmTarget, timeouts: Timeouts) -> str | None:
    from pyhelm3 import errors

    client = _client(target)
    name, timeout, seconds = pins.RELEASE_NAME, timeouts.helm_install, timeouts.helm_command
    try:
        current = await _bounded(
            client.get_current_revision(name, namespace=target.namespace), f"helm status {name}", target, seconds, timeouts
        )
    except errors.ReleaseNotFoundError:
        return None
    status = current.status.value
    if status == "deployed" or status == "superseded":
        return None
    history = await _bounded(current.release.history(), f"helm history {name}", target, seconds, timeouts)
    deployed = [r.revision for r in history if r.status.value in ("deployed", "superseded")]
    where = f"release {name} (revision {current.revision}) was left {status}"
    why = " (an interrupted `helm --wait`)" if status.startswith("pending") else ""
    try:
        if deployed and status != "pending-install":
            # helm rollback: to the previous revision (helm v3.9.4 pkg/action/rollback.go L108-118)
            rollback = current.release.rollback(timeout=timeout, wait=False)
            await _bounded(rollback, f"helm rollback {name}", target, seconds, timeouts)
            return f"{where}{why}; rolled it back to revision {max(deployed)} before installing"
        # nothing deployed to go back to: helm refuses upgrades of a pending release
        # ("another operation (install/upgrade/rollback) is in progress"), so start over
        uninstall = current.release.uninstall(timeout=timeout, wait=True)
        await _bounded(uninstall, f"helm uninstall {name}", target, duration_seconds(timeout) + seconds, timeouts)
    except errors.Error as exc:
        raise NotConverged(
            f"{where}{why} and could not be recovered: {_stderr(exc)}",
            fix=f"`helm uninstall {name} -n {target.namespace or 'default'}`, then `lab up` again",
        ) from exc
    return f"{where}{why}; uninstalled it to install anew"


def recover(target: HelmTarget, timeouts: Timeouts) -> str | None:
    """Roll back or uninstall a release left pending or failed; what was done (None: nothing to do).

    Each helm call is stopped after `helm_command` (an uninstall, which waits, after helm's own
    `helm_install` timeout and then `helm_command`).
    """
    return asyncio.run(_recover(target, timeouts))


def install(
    target: HelmTarget, values: Mapping[str, Any], *, timeout: str, chart_archive: Path | None = None
) -> tuple[str, int]:
    """Install or upgrade the Consul release (skipped when chart and values are unchanged).

    Returns what happened ("installed", "upgraded", "unchanged") and the release revision.
    """
    return asyncio.run(_install(target, values, timeout, chart_archive))


async def _status(target: HelmTarget) -> str:
    from pyhelm3 import errors

    client = _client(target)
    try:
        rev = await client.get_current_revision(pins.RELEASE_NAME, namespace=target.namespace)
    except errors.ReleaseNotFoundError:
        return f"release {pins.RELEASE_NAME}: not installed"
    except errors.Error as exc:
        return f"release {pins.RELEASE_NAME}: helm status failed: {_stderr(exc)}"
    return f"release {pins.RELEASE_NAME}: revision {rev.revision} {rev.status.value}" + (
        f" ({rev.description})" if rev.description else ""
    )


def status(target: HelmTarget, timeouts: Timeouts) -> str:
    """One line on the release, best-effort (never raises for helm's own failures), within `helm_command`."""
    try:
        what = f"helm status {pins.RELEASE_NAME}"
        return asyncio.run(_bounded(_status(target), what, target, timeouts.helm_command, timeouts))
    except Exception as exc:
        return f"release {pins.RELEASE_NAME}: unknown ({type(exc).__name__}: {exc})"


async def _uninstall(target: HelmTarget, timeout: str) -> None:
    client = _client(target)
    await client.uninstall_release(pins.RELEASE_NAME, namespace=target.namespace, wait=True, timeout=timeout)


def uninstall(target: HelmTarget, *, timeout: str) -> None:
    """Uninstall the release; a missing release is fine."""
    from pyhelm3 import errors

    try:
        asyncio.run(_uninstall(target, timeout))
    except errors.Error as exc:
        raise NotConverged(f"helm uninstall {pins.RELEASE_NAME} failed: {_stderr(exc)}") from exc
