"""The shared-cluster commands: `lab cluster prepare` (the host, once) and `lab up`'s cluster options."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from lab.engines.base import EngineOptions
from lab.ui.cli.app import STATE_DIR, App, cli, engine_options, pass_app, say

CONSUL_NAMESPACE = click.option(
    "--consul-namespace",
    default=None,
    help="Namespace of the cluster's one Consul (--engine cluster; default consul).",
)
FORCE_CRDS = click.option(
    "--force-crds",
    is_flag=True,
    help="Replace Gateway API CRDs lab did not install (breaks other Gateway API users of the cluster).",
)
CONTEXT = click.option(
    "--context",
    envvar="LAB_CONTEXT",
    default=None,
    help="kubeconfig context of the cluster (default: the current one). Env: LAB_CONTEXT.",
)

_UP_OPTIONS = (
    click.option(
        "--install-consul",
        is_flag=True,
        help="--engine cluster: install the cluster's one Consul (and missing CRDs) when it has none; "
        "the host usually runs `lab cluster prepare` instead.",
    ),
    CONSUL_NAMESPACE,
    FORCE_CRDS,
    click.option(
        "--gateway-url",
        default=None,
        metavar="URL",
        help="--engine cluster: a gateway the cluster exposes itself (LoadBalancer, ingress), "
        "https://HOST[:PORT], used instead of a port-forward; needs --ca.",
    ),
    click.option(
        "--ca",
        "ca_file",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        default=None,
        help="The CA bundle the --gateway-url certificate verifies against.",
    ),
)
CLUSTER_KEYS = ("install_consul", "consul_namespace", "force_crds", "gateway_url", "ca_file")


def CLUSTER_OPTIONS(f: Callable[..., Any]) -> Callable[..., Any]:
    """`lab up`'s options for a shared cluster (their values arrive among the command's keywords)."""
    for option in reversed(_UP_OPTIONS):
        f = option(f)
    return f


def with_cluster_options(options: EngineOptions, given: dict[str, Any]) -> EngineOptions:
    """`options` with the cluster options taken out of a command's keywords."""
    return replace(options, **{key: given.pop(key) for key in CLUSTER_KEYS})


@cli.group("cluster")
def cluster_group() -> None:
    """A cluster many attendees share (--engine cluster): what the host runs once."""


@cluster_group.command("prepare")
@CONTEXT
@CONSUL_NAMESPACE
@FORCE_CRDS
@STATE_DIR
@pass_app
def prepare_cmd(app: App, context: str | None, consul_namespace: str | None, force_crds: bool, state_dir: Path | None) -> None:
    """Install a shared cluster's platform once: CRDs where none are, one Consul, its RBAC.

    Gateway API v0.4.0 CRDs, Consul chart 0.40.0 with the API gateway. Idempotent; exit 4 (nothing
    changed) for a cluster the lab cannot use.
    """
    from lab.engines.kube.cluster import prepare
    from lab.spec.plan import make_plan
    from lab.spec.registry import discover

    options = replace(
        engine_options(app, state_dir, context=context),
        consul_namespace=consul_namespace,
        force_crds=force_crds,
    )
    names = sorted(discover(app.lab_dir))
    plan = make_plan(app.lab_dir, "canary-99-1" if "canary-99-1" in names else names[0])
    done = prepare(options, plan, say)
    click.echo("installed: " + ("; ".join(done) if done else "nothing (the cluster had everything)"))
    click.echo("attendees now run: lab up SCENARIO --engine cluster --context CONTEXT [--namespace NS]")
