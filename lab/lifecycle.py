"""`lab up`, `lab status`, `lab apply` and `lab down` as library calls, engine-agnostic.

The only writer of state.json: before an engine creates anything the state is journalled as
"starting", the engine journals its record before each thing it creates, and the state becomes
"running" once the step converged. Each call holds the state folder's lock; whatever record is
intact (or none: the engines find their leftovers) is enough for `down` to remove the lab.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

from lab import engines
from lab.engines.base import Engine, EngineOptions, Journal, PortMap, Progress, StatusRow
from lab.errors import EnvironmentNotReady, NoLabRunning, NotConverged, UsageError
from lab.spec.manifests import load
from lab.spec.plan import Plan, StepPlan, make_plan, plan_traffic
from lab.spec.registry import LabDir
from lab.spec.topology import Topology
from lab.spec.validation import ensure_valid
from lab.state import CorruptState, LabState, StateDir


@dataclass(frozen=True)
class EngineChoice:
    """The engine to use and why (what `auto` saw)."""

    name: str
    reason: str


class LabCrashed(NotConverged):
    """The running lab's parts are gone (its process died): exit 5, with what is known."""


def choose_engine(requested: str) -> EngineChoice:
    """Resolve `auto` with lab.engines.auto_engine(); other names are taken as asked."""
    if requested == "auto":
        name, reason = engines.auto_engine()
        return EngineChoice(name, f"auto: {reason}")
    return EngineChoice(requested, "asked for")


def check_options(choice: EngineChoice, options: EngineOptions) -> None:
    """UsageError (exit 2) for options the chosen engine does not take."""
    cluster = {
        "--context": options.kube_context,
        "--namespace": options.namespace,
        "--install-consul": options.install_consul,
        "--consul-namespace": options.consul_namespace,
        "--force-crds": options.force_crds,
        "--gateway-url": options.gateway_url,
        "--ca": options.ca_file,
    }
    given = [name for name, value in cluster.items() if value]
    if given and not engines.takes_cluster_options(choice.name):
        raise UsageError(f"{' and '.join(given)} {'is' if len(given) == 1 else 'are'} for --engine cluster")


def _journal(state_dir: StateDir) -> Journal:
    return state_dir.write


def _read(options: EngineOptions) -> LabState | None:
    return options.state.read(engines.decode_record)


def recorded(options: EngineOptions) -> LabState | None:
    """The recorded lab of the state folder, if its record is intact (no lock, no checks)."""
    try:
        return _read(options)
    except CorruptState:
        return None


def private_port_map(choice: EngineChoice, options: EngineOptions, plan: Plan) -> PortMap:
    """The chosen engine's ports for a lab that must not collide with the user's own."""
    return engines.create(choice.name, options).private_port_map(plan)


def _remove(options: EngineOptions, state: LabState | None, progress: Progress) -> list[str]:
    """Tear down `state` (or, with None, every engine's leftovers); clear state.json; what was removed."""
    removed: list[str] = []
    if state is not None:
        engines.create(state.engine, options).down(state, progress)
        removed.append(f"lab {state.scenario} on the {state.engine} engine")
    for name in engines.ENGINE_NAMES:
        if name == "auto" or (state is not None and name == state.engine):
            continue
        engine = _engine_if_available(name, options)
        found = engine.leftovers() if engine is not None else []
        if found:
            progress(f"found without a state record: {', '.join(found)}")
            engine.down(None, progress)  # type: ignore[union-attr]
            removed += found
    options.state.clear()
    return removed


def _leftovers(options: EngineOptions) -> list[str]:
    """What any engine finds running of this state folder, whatever state.json says."""
    return [item for name in engines.ENGINE_NAMES if name != "auto"
            for engine in [_engine_if_available(name, options)] if engine is not None
            for item in engine.leftovers()]  # fmt: skip


def _engine_if_available(name: str, options: EngineOptions) -> Engine | None:
    try:
        return engines.create(name, options)
    except EnvironmentNotReady:
        return None


def _recover(options: EngineOptions, progress: Progress) -> LabState | None:
    """The running lab to build on, after removing what an interrupted or crashed lab left."""
    try:
        existing = _read(options)
    except CorruptState as exc:
        progress(f"recovering: {exc.message}; removing what the lab of this state folder left")
        _remove(options, None, progress)
        return None
    if existing is None:
        leftovers = _remove(options, None, progress)
        if leftovers:
            progress(f"recovered: stopped {', '.join(leftovers)} (no state record)")
        return None
    if existing.phase == "starting":
        progress(f"recovering: a `lab up` of {existing.scenario} was interrupted while starting; removing it")
        _remove(options, existing, progress)
        return None
    liveness = engines.create(existing.engine, options).alive(existing)
    if not liveness.alive:
        progress(f"recovering: {liveness.detail.splitlines()[0]}; cleaning its state and starting anew")
        _remove(options, existing, progress)
        return None
    return existing


def up(
    plan: Plan, choice: EngineChoice, options: EngineOptions, progress: Progress, *, step_name: str | None = None
) -> LabState:
    """Start the lab for a plan (or switch the running one to its step `step_name`) and converge."""
    step = plan_step(plan, step_name)
    check_options(choice, options)
    with options.state.lock(options.timeouts.state_lock):
        existing = _recover(options, progress)
        if existing is not None and existing.engine != choice.name:
            raise EnvironmentNotReady(
                f"a {existing.engine} lab ({existing.scenario}) is running in {options.state.path}",
                fix="run `lab down` first, or use --engine " + existing.engine,
            )
        engine = engines.create(choice.name, options)
        journal = _journal(options.state)
        if existing is None:
            state = _start(engine, plan, step, options, progress)
        else:
            progress(_switching(existing, plan, step))
            state = engine.switch(existing, plan, step, progress, journal)
        state = state.running()
        journal(state)
        return state


def _start(engine: Engine, plan: Plan, step: StepPlan, options: EngineOptions, progress: Progress) -> LabState:
    """engine.up with the state journalled first; a failure before the engine created anything leaves no state."""
    last = [LabState.starting(engine.name, plan.scenario.name, step.step.name, str(plan.lab_dir.root))]

    def journal(state: LabState) -> None:
        last[0] = state  # first: a Ctrl-C right after the write must not clear what it recorded
        options.state.write(state)

    journal(last[0])
    try:
        return engine.up(last[0], plan, step, progress, journal)
    except BaseException:
        if last[0].record is None:
            options.state.clear()
        raise


def _switching(state: LabState, plan: Plan, step: StepPlan) -> str:
    if state.scenario != plan.scenario.name:
        return f"switching the running lab from {state.scenario} to {plan.scenario.name}"
    if state.step != step.step.name:
        return f"{plan.scenario.name}: from step {state.step} to step {step.step.name}"
    return f"{plan.scenario.name} is running: applying what differs"


class StepRunner(Protocol):
    """What a multi-step run does around each step (teaching pauses, the check)."""

    def before(self, plan: Plan, step: StepPlan, index: int) -> None:
        """Before the step is applied."""
        ...

    def after(self, state: LabState, plan: Plan, step: StepPlan, index: int) -> int:
        """Once the step serves: judge it; a non-zero exit code stops the run."""
        ...


def run(
    plan: Plan, choice: EngineChoice, options: EngineOptions, progress: Progress, runner: StepRunner
) -> int:
    """Every step of the plan in order (up, then the runner's check); the first non-zero code stops it."""
    for index, step in enumerate(plan.steps):
        runner.before(plan, step, index)
        state = up(plan, choice, options, progress, step_name=step.step.name)
        code = runner.after(state, plan, step, index)
        if code:
            return code
    return 0


def plan_step(plan: Plan, name: str | None) -> StepPlan:
    """The step called `name` (the first when None); an unknown name lists the steps."""
    if name is None:
        return plan.first
    for step in plan.steps:
        if step.step.name == name:
            return step
    names = ", ".join(s.step.name for s in plan.steps)
    raise UsageError(f"scenario {plan.scenario.name} has no step {name!r}; its steps: {names}")


def running(options: EngineOptions, progress: Progress | None = None) -> LabState:
    """The running lab's state: NoLabRunning (exit 4) without one, LabCrashed (exit 5) when it died.

    `progress` hears what the engine mended on the way (a port-forward it restarted).
    """
    state, engine = _running(options)
    liveness = engine.alive(state)
    if not liveness.alive:
        raise LabCrashed(f"the {state.engine} lab of {state.scenario} has crashed: {liveness.detail}", fix="`lab down`, then `lab up`")
    if liveness.detail and progress is not None:
        progress(liveness.detail)
    return state


def _running(options: EngineOptions) -> tuple[LabState, Engine]:
    state = _read(options)
    if state is None:
        raise NoLabRunning(f"no lab running (no state in {options.state.path})", fix="start one with `lab up SCENARIO`")
    if state.phase == "starting":
        raise LabCrashed(
            f"the {state.engine} lab of {state.scenario} did not finish starting (interrupted or failed)",
            fix="`lab down` removes what it created; then `lab up` again",
        )
    return state, engines.create(state.engine, options)


def status(options: EngineOptions) -> tuple[LabState, list[StatusRow]]:
    """The lab's state and its status rows; exit 4 with no lab, exit 5 for leftovers without a record."""
    with options.state.lock(options.timeouts.state_lock):
        try:
            state = _read(options)
        except CorruptState as exc:
            found = _leftovers(options)
            if not found:
                raise
            raise CorruptState(
                f"{exc.message}; {', '.join(found)} of this state folder is running",
                fix="`lab down` stops it (it needs no intact state.json)",
            ) from exc
        if state is None and (found := _leftovers(options)):
            raise LabCrashed(
                f"no state record in {options.state.path}, but {', '.join(found)} of this state folder is running",
                fix="`lab down` stops it",
            )
        state, engine = _running(options)
        return state, engine.status(state)


def down(options: EngineOptions, progress: Progress) -> list[str]:
    """Stop the lab (from whatever record is intact) and remove its state; what was removed."""
    with options.state.lock(options.timeouts.state_lock):
        try:
            state = _read(options)
        except CorruptState as exc:
            progress(f"state: {exc.message}; looking for what the lab of this state folder left")
            state = None
        return _remove(options, state, progress)


def _merged_step(plan: Plan, state: LabState, files: Sequence[Path]) -> StepPlan:
    current = [Path(f) for f in state.files]
    base = set(plan.base_files)
    # like `kubectl apply`, what is applied last wins: re-applied files move to the end
    step_files = tuple(f for f in current if f not in base and f not in files) + tuple(files)
    resources = load([*plan.base_files, *step_files])
    ensure_valid(resources)
    topo = Topology(resources)
    step = next((s for s in plan.steps if s.step.name == state.step), plan.first)
    # traffic the new routes no longer serve (or cannot be judged on) has nothing to converge on
    traffic = plan_traffic(topo, step.step.traffic, f"lab apply on {state.scenario}", judged=False)
    return StepPlan(step.step, step_files, topo.resources, traffic)


def apply(options: EngineOptions, files: Sequence[Path], progress: Progress) -> LabState:
    """Validate FILES merged with the running lab's resources, then apply (exit 3, nothing applied)."""
    with options.state.lock(options.timeouts.state_lock):
        state = running(options)
        engine = engines.create(state.engine, options)
        plan = make_plan(LabDir(Path(state.lab_dir)), state.scenario, judged=False)
        step = _merged_step(plan, state, [f.resolve() for f in files])
        new = engine.switch(state, plan, step, progress, _journal(options.state))
        new = replace(new, phase="running")
        options.state.write(new)
        return new
