"""`lab up`, `lab status`, `lab apply` and `lab down` as library calls, engine-agnostic.

Each holds the state folder's lock while it reads or changes the lab, so two commands cannot
corrupt the state; engines do the work through the Engine protocol.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from lab import engines
from lab.engines.base import Engine, EngineOptions, Progress, StatusRow
from lab.errors import EnvironmentNotReady, InvalidInput, NoLabRunning, UsageError
from lab.spec.manifests import load
from lab.spec.plan import Plan, StepPlan, make_plan, resolve_traffic
from lab.spec.registry import LabDir
from lab.spec.topology import Topology
from lab.spec.validation import ensure_valid
from lab.state import LabState

# Timeout of the state lock while another lab command holds it.
LOCK_TIMEOUT = 30.0
# Engines whose lab is one process on this machine: a dead pid means it crashed.
PROCESS_ENGINES = frozenset({"local"})


@dataclass(frozen=True)
class EngineChoice:
    """The engine to use and why (what `auto` saw)."""

    name: str
    reason: str


def choose_engine(requested: str) -> EngineChoice:
    """Resolve `auto` with lab.engines.auto_engine(); other names are taken as asked."""
    if requested == "auto":
        name, reason = engines.auto_engine()
        return EngineChoice(name, f"auto: {reason}")
    return EngineChoice(requested, "asked for")


def _crashed(state: LabState) -> bool:
    from lab.engines.local.engine import pid_alive

    return state.engine in PROCESS_ENGINES and not pid_alive(state.pid)


def up(
    plan: Plan,
    choice: EngineChoice,
    options: EngineOptions,
    progress: Progress,
    *,
    no_check: bool = False,
    step_name: str | None = None,
) -> LabState:
    """Start the lab for a plan (or switch the running one to its step `step_name`) and converge."""
    scenario = plan.scenario.name
    step = plan_step(plan, step_name)
    with options.state.lock(LOCK_TIMEOUT):
        existing = options.state.read()
        if existing is not None and _crashed(existing):
            progress(
                f"recovering: the previous {existing.engine} lab process (pid {existing.pid}) is gone; "
                "cleaning its state and starting anew"
            )
            engines.create(existing.engine, options).down(existing, progress)
            existing = None
        if existing is not None and existing.engine != choice.name:
            raise EnvironmentNotReady(
                f"a {existing.engine} lab ({existing.scenario}) is running in {options.state.path}",
                fix="run `lab down` first, or use --engine " + existing.engine,
            )
        engine = engines.create(choice.name, options)
        if existing is not None:
            progress(_switching(existing, scenario, step))
            state = engine.switch(existing, plan, step, progress)
        else:
            state = engine.up(plan, step, progress)
        state = _with_extra(state, no_check=no_check)
        options.state.write(state)
        return state


def _switching(existing: LabState, scenario: str, step: StepPlan) -> str:
    """What a switch does, in words: to another scenario, or to another step of the same one."""
    if existing.scenario != scenario:
        return f"switching the running lab from {existing.scenario} to {scenario}"
    if existing.step != step.step.name:
        return f"switching the running lab of {scenario} from step {existing.step} to step {step.step.name}"
    return f"the running lab already is {scenario}: applying what differs"


def plan_step(plan: Plan, name: str | None) -> StepPlan:
    """The step called `name` (the first when None); an unknown name lists the steps."""
    if name is None:
        return plan.first
    for step in plan.steps:
        if step.step.name == name:
            return step
    names = ", ".join(s.step.name for s in plan.steps)
    raise UsageError(f"scenario {plan.scenario.name} has no step {name!r}; its steps: {names}")


def _with_extra(state: LabState, **extra: object) -> LabState:
    from dataclasses import replace

    return replace(state, extra={**state.extra, **extra})


def running(options: EngineOptions) -> LabState:
    """The running lab's state; NoLabRunning (exit 4) when there is none."""
    return _running(options)[0]


def _running(options: EngineOptions) -> tuple[LabState, Engine]:
    state = options.state.read()
    if state is None:
        raise NoLabRunning(
            f"no lab running (no state in {options.state.path})",
            fix="start one with `lab up SCENARIO`",
        )
    return state, engines.create(state.engine, options)


def status(options: EngineOptions) -> tuple[LabState, list[StatusRow]]:
    """The running lab's state and its status rows; NoLabRunning (exit 4) when there is none."""
    with options.state.lock(LOCK_TIMEOUT):
        state, engine = _running(options)
        return state, engine.status(state)


def down(options: EngineOptions, progress: Progress) -> LabState | None:
    """Stop the lab and remove its state; None (and nothing done) when no lab is running."""
    with options.state.lock(LOCK_TIMEOUT):
        state = options.state.read()
        if state is None:
            return None
        engines.create(state.engine, options).down(state, progress)
        options.state.clear()
        return state


def _merged_step(plan: Plan, state: LabState, files: Sequence[Path]) -> StepPlan:
    current = [Path(f) for f in state.extra.get("files") or ()]
    base = set(plan.base_files)
    # like `kubectl apply`, what is applied last wins: re-applied files move to the end
    step_files = tuple(f for f in current if f not in base and f not in files) + tuple(files)
    resources = load([*plan.base_files, *step_files])
    ensure_valid(resources)
    topo = Topology(resources)
    step = next((s for s in plan.steps if s.step.name == state.step), plan.first)
    traffic = []
    for t in step.traffic:
        try:
            traffic.append(resolve_traffic(topo, t.traffic, f"lab apply on {state.scenario}"))
        except InvalidInput:
            continue  # the new routes no longer serve this traffic: nothing to converge on
    return StepPlan(step.step, step_files, topo.resources, tuple(traffic))


def apply(options: EngineOptions, files: Sequence[Path], progress: Progress) -> LabState:
    """Validate FILES merged with the running lab's resources, then apply (exit 3, nothing applied)."""
    with options.state.lock(LOCK_TIMEOUT):
        state, engine = _running(options)
        if _crashed(state):
            raise NoLabRunning(
                f"the lab process (pid {state.pid}) has crashed", fix="`lab down`, then `lab up`"
            )
        plan = make_plan(LabDir(Path(state.lab_dir)), state.scenario)
        step = _merged_step(plan, state, [f.resolve() for f in files])
        new = engine.switch(state, plan, step, progress)
        options.state.write(new)
        return new
