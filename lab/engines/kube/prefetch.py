"""Offline workshops: pull every pinned image, cache the chart archive and the CRDs ahead of time.

`lab prefetch` fills the cache (default ~/.cache/lab, env LAB_CACHE_DIR) and the local Docker; a
later kind `up` loads the images into the node and installs chart and CRDs from the cache.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from lab.engines.kube import crds, doctor, helm
from lab.errors import ChartNotFound, EnvironmentNotReady
from lab.spec import pins
from lab.state import StateDir, atomic_write
from lab.timeouts import DEFAULT, Timeouts

Progress = Callable[[str], None]


# In the state folder: the cache folder the last `lab prefetch` filled, for `lab up` to find.
REMEMBERED = "prefetch-cache-dir"


def cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    """The cache folder: $LAB_CACHE_DIR, else ~/.cache/lab."""
    env = os.environ if environ is None else environ
    return Path(env.get("LAB_CACHE_DIR") or Path.home() / ".cache" / "lab")


def remember(state_dir: Path, folder: Path) -> None:
    """Note which folder `lab prefetch` filled, so a later `lab up` uses it."""
    StateDir(state_dir).write_private(REMEMBERED, (str(folder.resolve()) + "\n").encode())


def resolve_cache(asked: Path | None, state_dir: Path, environ: Mapping[str, str] | None = None) -> tuple[Path, str]:
    """The cache `lab up` uses and why: --cache-dir, $LAB_CACHE_DIR, remembered from prefetch, default."""
    env = os.environ if environ is None else environ
    if asked is not None:
        return asked, "--cache-dir"
    if env.get("LAB_CACHE_DIR"):
        return Path(env["LAB_CACHE_DIR"]), "LAB_CACHE_DIR"
    try:
        remembered = (state_dir / REMEMBERED).read_text(encoding="utf-8").strip()
    except OSError:
        remembered = ""
    if remembered:
        return Path(remembered), "remembered from `lab prefetch`"
    return cache_dir(env), "default"


def images() -> tuple[str, ...]:
    """Every image the kind lab needs: the node image first, then the pinned ones."""
    return (pins.NODE_IMAGE, *pins.ALL_IMAGES)


def pull_reference(image: str) -> str:
    """What to pull: `repo@digest` when a digest is pinned (the tag then only documents it)."""
    if "@" in image:
        name, _, digest = image.partition("@")
        repo = name.rsplit(":", 1)[0] if ":" in name.rsplit("/", 1)[-1] else name
        return f"{repo}@{digest}"
    return image


def image_present(client: Any, image: str) -> bool:
    """True when the local Docker has the image."""
    import docker

    try:
        client.images.get(pull_reference(image))
    except docker.errors.ImageNotFound:
        return False
    return True


@dataclass(frozen=True)
class CacheStatus:
    """What is cached: per image True/False (None: Docker not answering), the chart, each CRD."""

    folder: Path
    images: tuple[tuple[str, bool | None], ...]
    chart: Path | None
    crds: tuple[tuple[str, bool], ...]
    docker: str | None = None

    @property
    def complete(self) -> bool:
        """True when an `up` needs no network."""
        return all(self.images_cached()) and self.chart is not None and all(ok for _, ok in self.crds)

    def images_cached(self) -> list[bool]:
        """Cached flags (unknown counts as not cached)."""
        return [bool(present) for _, present in self.images]


def status(cache: Path, *, timeouts: Timeouts) -> CacheStatus:
    """What the cache and the local Docker hold, without changing anything."""
    try:
        client = doctor.docker_client(timeouts.docker_ping)
        problem = None
    except Exception as exc:
        client, problem = None, f"no Docker daemon answers ({type(exc).__name__})"
    image_rows = tuple((img, image_present(client, img) if client else None) for img in images())
    crd_rows = []
    for crd in crds.all_files():
        path = crds.cached_path(cache, crd)
        crd_rows.append((crd.name, path.is_file() and crds.sha256(path.read_bytes()) == crd.sha256))
    return CacheStatus(cache, image_rows, helm.cached_chart(cache), tuple(crd_rows), problem)


def pull_chart(cache: Path, helm_path: str, timeout: float = DEFAULT.chart_pull) -> Path:
    """`helm pull` the pinned chart into <cache>/charts (argument list, stderr kept for the error)."""
    dest = cache / "charts"
    dest.mkdir(parents=True, exist_ok=True)
    argv = [
        helm_path,
        "pull",
        pins.CHART_NAME,
        "--repo",
        pins.CHART_REPO_URL,
        "--version",
        pins.CHART_VERSION,
        "--destination",
        str(dest),
    ]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    path = helm.cached_chart(cache)
    if out.returncode != 0 or path is None:
        raise ChartNotFound(
            f"`helm pull {pins.CHART_NAME} --version {pins.CHART_VERSION}` failed: {out.stderr.strip()}",
            fix=f"check the network and the repo URL {pins.CHART_REPO_URL}",
        )
    return path


def prefetch(
    cache: Path,
    progress: Progress,
    *,
    helm_path: str | None,
    timeouts: Timeouts,
    session: requests.Session | None = None,
) -> CacheStatus:
    """Pull every image, cache the chart archive and the CRDs (sha256-checked)."""
    try:
        client = doctor.docker_client(timeouts.docker_ping)
    except Exception as exc:
        raise EnvironmentNotReady(
            f"no Docker daemon answers ({type(exc).__name__}); prefetch pulls the images into it",
            fix=doctor.DOCKER_FIX,
        ) from exc
    if helm_path is None:
        raise EnvironmentNotReady(
            "helm is not on PATH; prefetch caches the chart with it", fix=doctor.install_command("helm")
        )
    for image in images():
        if image_present(client, image):
            progress(f"image {image}: already in Docker")
            continue
        progress(f"image {image}: pulling")
        try:
            client.images.pull(pull_reference(image))
        except Exception as exc:
            raise EnvironmentNotReady(
                f"docker pull {image} failed: {exc}", fix="check the network and the image name"
            ) from exc
    if helm.cached_chart(cache) is None:
        progress(f"chart {pins.CHART_NAME} {pins.CHART_VERSION}: helm pull into {cache / 'charts'}")
        pull_chart(cache, helm_path)
    else:
        progress(f"chart {pins.CHART_NAME} {pins.CHART_VERSION}: cached")
    for crd in crds.all_files():
        path = crds.cached_path(cache, crd)
        if path.is_file() and crds.sha256(path.read_bytes()) == crd.sha256:
            progress(f"CRD {crd.name}: cached")
            continue
        progress(f"CRD {crd.name}: downloading")
        data = crds.download(crd, timeout=timeouts.download, session=session)
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, data, 0o644)
    return status(cache, timeouts=timeouts)
