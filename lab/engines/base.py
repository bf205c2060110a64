"""The engine protocol: what every engine (local, kind, cluster) does for the pipeline.

Code above this protocol never asks which engine it has: aliveness, port maps and each engine's
own record (a typed dataclass, stored in LabState.record) live behind it. Engines never write
state.json: they report what `lab down` needs through `Journal` before creating it, and
lab.lifecycle persists it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Protocol

from lab.spec.plan import Plan, StepPlan
from lab.state import LabState, StateDir
from lab.timeouts import Timeouts

# Progress messages: the engine names each step as it starts it ("cluster: creating kind ...").
Progress = Callable[[str], None]
# Persist this state now (lab.lifecycle writes it atomically): called before each thing created.
Journal = Callable[[LabState], None]
PortMap = tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class StatusRow:
    """One line of `lab status`: a component, its state and a detail."""

    component: str
    state: str
    detail: str = ""


@dataclass(frozen=True)
class Liveness:
    """Whether a lab's parts are still there; `detail` says what died (log lines included)."""

    alive: bool
    detail: str = ""


@dataclass(frozen=True)
class EngineOptions:
    """Options every engine accepts; engines ignore what does not apply to them."""

    state: StateDir
    timeouts: Timeouts
    bind: str = "127.0.0.1"
    # listener port -> local port to use instead (`--port 8443=9443`)
    port_map: PortMap = ()
    kube_context: str | None = None
    namespace: str | None = None
    # seed of the embedded engine's random choices (weighted picks, pod names); None = fresh
    seed: int | None = None
    # the kind engine's prefetch cache (`lab up --cache-dir`); None: env, remembered, default
    cache_dir: Path | None = None
    # the kind engine's pin: "tutorial" (kind v0.11.1 + node v1.21.1) or "compat" (see lab.spec.pins)
    kind_pin: str = "tutorial"
    # a gateway the cluster exposes itself (LoadBalancer, ingress) and its CA bundle: used as they are
    # instead of a port-forward (`--gateway-url URL --ca FILE`)
    gateway_url: str | None = None
    ca_file: Path | None = None
    # a shared cluster's platform: install Consul (and missing CRDs) when the cluster has none, where
    # it lives, and whether CRDs lab did not install may be replaced
    install_consul: bool = False
    consul_namespace: str | None = None
    force_crds: bool = False


class Engine(Protocol):
    """One way to run the lab. Methods raise LabError subclasses with the exit code to use."""

    name: ClassVar[str]
    # whether --context/--namespace mean anything to this engine
    takes_cluster_options: ClassVar[bool]

    def private_port_map(self, plan: Plan) -> PortMap:
        """Port map for a lab that must not collide with the user's own (a pytest session)."""
        ...

    def up(self, start: LabState, plan: Plan, step: StepPlan, progress: Progress, journal: Journal) -> LabState:
        """Provision, install and apply `step`, then converge; reuse what already exists.

        `start` is the state lifecycle recorded before anything was created; the engine calls
        `journal` with its record before it creates each thing `lab down` must remove.
        """
        ...

    def switch(
        self, state: LabState, plan: Plan, step: StepPlan, progress: Progress, journal: Journal
    ) -> LabState:
        """On a running lab, apply only what differs for `step` and wait until it is live."""
        ...

    def alive(self, state: LabState) -> Liveness:
        """Whether the lab's parts are still there (a crashed process is not)."""
        ...

    def leftovers(self) -> list[str]:
        """What of this engine's labs is running from this state folder without a usable record."""
        ...

    def status(self, state: LabState) -> list[StatusRow]:
        """Rows for `lab status` (health of each part, what is not emulated, ...)."""
        ...

    def down(self, state: LabState | None, progress: Progress) -> None:
        """Tear the lab down and free what it held; with None, remove what `leftovers` finds.

        Never removes what lab did not create; safe to call twice.
        """
        ...
