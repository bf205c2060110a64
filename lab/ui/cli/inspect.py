"""`lab get`: the running lab's objects with the status their controller writes, like `kubectl get`."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import click
import yaml

from lab import engines, lifecycle
from lab.errors import UsageError
from lab.spec.manifests import CLUSTER_SCOPED_KINDS, DEFAULT_NAMESPACE
from lab.state import LabState
from lab.ui.cli.app import STATE_DIR, App, cli, engine_options, pass_app


@runtime_checkable
class Inspectable(Protocol):
    """An engine that can list the objects it applied, with their status."""

    def objects(self, state: LabState) -> list[dict[str, Any]]:
        """Every applied resource as a Kubernetes object with `status`."""
        ...


def matches_kind(kind: str, wanted: str) -> bool:
    """kubectl-style: the kind, its plural or `all`, in any case."""
    wanted = wanted.lower()
    return wanted == "all" or wanted in (kind.lower(), kind.lower() + "s")


def select(
    items: list[dict[str, Any]], kind: str, name: str | None, namespace: str | None
) -> list[dict[str, Any]]:
    """The objects of a kind (and name), in a namespace (None: every namespace)."""
    out = []
    for item in items:
        meta = item.get("metadata") or {}
        if not matches_kind(str(item.get("kind")), kind) or (name is not None and meta.get("name") != name):
            continue
        scoped = item.get("kind") not in CLUSTER_SCOPED_KINDS
        if scoped and namespace is not None and meta.get("namespace", DEFAULT_NAMESPACE) != namespace:
            continue
        out.append(item)
    return out


def status_line(item: dict[str, Any]) -> str:
    """The conditions of an object in one line: `Accepted=True ResolvedRefs=False(ServiceNotFound)`."""
    status = item.get("status") or {}
    conditions = [c for p in status.get("parents") or () for c in p.get("conditions") or ()]
    conditions += status.get("conditions") or []
    return " ".join(
        f"{c['type']}={c['status']}" + ("" if c["status"] == "True" else f"({c['reason']})")
        for c in conditions
    )


@cli.command("get")
@click.argument("kind")
@click.argument("name", required=False)
@click.option("--namespace", "-n", default="default", show_default=True, help="Namespace of the objects.")
@click.option("--all-namespaces", "-A", is_flag=True, help="Objects of every namespace.")
@click.option(
    "--output", "-o", type=click.Choice(["text", "yaml", "json"]), default="text", show_default=True
)
@STATE_DIR
@pass_app
def get_cmd(
    app: App,
    kind: str,
    name: str | None,
    namespace: str,
    all_namespaces: bool,
    output: str,
    state_dir: Path | None,
) -> None:
    """Show the running lab's objects of KIND (httproute, gateway, service, all ...) with their status.

    `lab get httproute example-route-1 -o yaml` prints the object as applied with the status the
    controller writes (Accepted, ResolvedRefs per parent), the way `kubectl get -o yaml` does.
    """
    options = engine_options(app, state_dir)
    state = lifecycle.running(options)
    engine = engines.create(state.engine, options)
    if not isinstance(engine, Inspectable):
        target = " ".join(x for x in (kind, name) if x)
        raise UsageError(
            f"lab get reads the embedded engine's objects; this lab runs on the {state.engine} engine",
            fix=f"eval $(lab kubeconfig --export) && kubectl get {target} -A -o yaml",
        )
    items = select(engine.objects(state), kind, name, None if all_namespaces else namespace)
    if name is not None and not items:
        raise UsageError(f'{kind} "{name}" not found in namespace {namespace} of the running lab')
    if output == "text":
        _table(items, app)
        return
    doc: dict[str, Any] = (
        items[0] if name is not None else {"apiVersion": "v1", "kind": "List", "items": items}
    )
    if output == "json":
        app.print_json(doc)
    else:
        click.echo(yaml.safe_dump(doc, sort_keys=False), nl=False)


def _table(items: list[dict[str, Any]], app: App) -> None:
    from rich.table import Table

    table = Table(box=None, header_style="bold")
    for column in ("NAMESPACE", "KIND", "NAME", "STATUS"):
        table.add_column(column, overflow="fold")
    for item in items:
        meta = item.get("metadata") or {}
        table.add_row(
            meta.get("namespace", ""), str(item.get("kind")), str(meta.get("name")), status_line(item)
        )
    app.console.print(table)
