"""The host commands: `lab doctor` (kind or cluster), `lab prefetch`, `lab kubeconfig`."""

from __future__ import annotations

from pathlib import Path

import click

from lab.ui.cli.app import CACHE_DIR, KIND_PIN, STATE_DIR, App, cli, pass_app
from lab.ui.cli.cluster import CONSUL_NAMESPACE, CONTEXT


@cli.command("doctor")
@click.option("--engine", type=click.Choice(["kind", "cluster"]), default="kind", show_default=True)
@KIND_PIN
@CONTEXT
@click.option("--namespace", default=None, help="--engine cluster: the attendee's namespace (default lab-<user name>).")
@CONSUL_NAMESPACE
@pass_app
def doctor_cmd(
    app: App, engine: str, kind_pin: str, context: str | None, namespace: str | None, consul_namespace: str | None
) -> None:
    """Check what an engine needs (kind: Docker, tools, host ports; cluster: the cluster and your RBAC)."""
    from lab.engines import port_holder, takes_cluster_options
    from lab.engines.kube import doctor
    from lab.errors import EnvironmentNotReady, UsageError
    from lab.ui import views

    if not takes_cluster_options(engine) and (context or namespace or consul_namespace):
        raise UsageError("--context, --namespace and --consul-namespace are for --engine cluster")
    where = doctor.ClusterTarget(app.lab_dir.root, context, namespace, consul_namespace)
    checks = doctor.run(engine, holder=port_holder, pin=kind_pin, cluster=where)
    views.doctor_table(checks, app.console)
    blocking = [c for c in checks if c.blocks]
    if blocking:
        lines = "".join(f"\n  - {c.name}: {c.detail}\n    fix: {c.fix}" for c in blocking)
        raise EnvironmentNotReady(
            f"{len(blocking)} check(s) block the {engine} engine:{lines}",
            fix="run the fix shown for each, then `lab doctor` again",
        )


@cli.command("prefetch")
@CACHE_DIR
@STATE_DIR
@pass_app
def prefetch_cmd(app: App, cache_dir: Path | None, state_dir: Path | None) -> None:
    """Pull every pinned image into Docker and cache the chart and CRDs, for an offline `lab up`."""
    import shutil

    from lab.engines.kube import prefetch
    from lab.timeouts import DEFAULT
    from lab.ui import views

    folder = cache_dir or prefetch.cache_dir()
    status = prefetch.prefetch(
        folder,
        lambda msg: app.console.print(f"  {msg}", markup=False),
        helm_path=shutil.which("helm"),
        timeouts=DEFAULT,
    )
    prefetch.remember((state_dir or app.lab_dir.root / ".lab").resolve(), folder)
    views.cache_table(status, app.console)


@cli.command("kubeconfig")
@click.option(
    "--state-dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="LAB_STATE_DIR",
    default=None,
    help="The lab's state folder (default <lab-dir>/.lab). Env: LAB_STATE_DIR.",
)
@click.option("--export", "export", is_flag=True, help="Print `export KUBECONFIG=...` for eval in a shell.")
@click.option(
    "--merge",
    is_flag=True,
    help="Merge the lab's cluster, user and context into ~/.kube/config (or the first $KUBECONFIG file).",
)
@pass_app
def kubeconfig_cmd(app: App, state_dir: Path | None, export: bool, merge: bool) -> None:
    """Print the kind lab's kubeconfig (kept in the state folder; ~/.kube/config is untouched)."""
    from lab.engines.kube import kubeconfig

    path = (state_dir or app.lab_dir.root / ".lab") / "kubeconfig"
    if export:
        click.echo(kubeconfig.export_line(path))
    elif merge:
        target = kubeconfig.merge(path)
        click.echo(f"merged {path} into {target}", err=True)
    else:
        click.echo(kubeconfig.read(path), nl=False)


