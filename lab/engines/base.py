"""The engine protocol: what every engine (local, kind, cluster) does for the pipeline.

Code above this protocol never asks which engine it has.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar, Protocol

from lab.spec.plan import Plan, StepPlan
from lab.state import LabState, StateDir
from lab.timeouts import Timeouts

# Progress messages: the engine names each step as it starts it ("cluster: creating kind ...").
Progress = Callable[[str], None]


@dataclass(frozen=True)
class StatusRow:
    """One line of `lab status`: a component, its state and a detail."""

    component: str
    state: str
    detail: str = ""


@dataclass(frozen=True)
class EngineOptions:
    """Options every engine accepts; engines ignore what does not apply to them."""

    state: StateDir
    timeouts: Timeouts
    bind: str = "127.0.0.1"
    # listener port -> local port to use instead (`--port 8443=9443`)
    port_map: tuple[tuple[int, int], ...] = ()
    kube_context: str | None = None
    namespace: str | None = None
    # seed of the embedded engine's random choices (weighted picks, pod names); None = fresh
    seed: int | None = None


class Engine(Protocol):
    """One way to run the lab. Methods raise LabError subclasses with the exit code to use."""

    name: ClassVar[str]

    def up(self, plan: Plan, step: StepPlan, progress: Progress) -> LabState:
        """Provision, install and apply `step`, then converge; reuse what already exists."""
        ...

    def switch(self, state: LabState, plan: Plan, step: StepPlan, progress: Progress) -> LabState:
        """On a running lab, apply only what differs for `step` and wait until it is live."""
        ...

    def status(self, state: LabState) -> list[StatusRow]:
        """Rows for `lab status` (health of each part, what is not emulated, ...)."""
        ...

    def down(self, state: LabState | None, progress: Progress) -> None:
        """Tear the lab down and free everything it held; safe to call twice."""
        ...
