"""The Consul chart through pyhelm3: install or upgrade the pinned release, read its status.

pyhelm3 is async only; each call here runs its own event loop with asyncio.run.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lab.errors import ChartNotFound, EnvironmentNotReady, NotConverged
from lab.spec import pins


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


async def _recover(target: HelmTarget, timeout: str) -> str | None:
    from pyhelm3 import errors

    client = _client(target)
    try:
        current = await client.get_current_revision(pins.RELEASE_NAME, namespace=target.namespace)
    except errors.ReleaseNotFoundError:
        return None
    status = current.status.value
    if status == "deployed" or status == "superseded":
        return None
    history = [r async for r in _revisions(current)]
    deployed = [r.revision for r in history if r.status.value in ("deployed", "superseded")]
    where = f"release {pins.RELEASE_NAME} (revision {current.revision}) was left {status}"
    why = " (an interrupted `helm --wait`)" if status.startswith("pending") else ""
    try:
        if deployed and status != "pending-install":
            # helm rollback: to the previous revision (helm v3.9.4 pkg/action/rollback.go L108-118)
            await current.release.rollback(timeout=timeout, wait=False)
            return f"{where}{why}; rolled it back to revision {max(deployed)} before installing"
        # nothing deployed to go back to: helm refuses upgrades of a pending release
        # ("another operation (install/upgrade/rollback) is in progress"), so start over
        await current.release.uninstall(timeout=timeout, wait=True)
    except errors.Error as exc:
        raise NotConverged(
            f"{where}{why} and could not be recovered: {_stderr(exc)}",
            fix=f"`helm uninstall {pins.RELEASE_NAME} -n {target.namespace or 'default'}`, then `lab up` again",
        ) from exc
    return f"{where}{why}; uninstalled it to install anew"


async def _revisions(current: Any) -> Any:
    for revision in await current.release.history():
        yield revision


def recover(target: HelmTarget, *, timeout: str) -> str | None:
    """Roll back or uninstall a release left pending or failed; what was done (None: nothing to do)."""
    return asyncio.run(_recover(target, timeout))


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


def status(target: HelmTarget) -> str:
    """One line on the release, best-effort (never raises for helm's own failures)."""
    try:
        return asyncio.run(_status(target))
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
