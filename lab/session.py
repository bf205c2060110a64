"""One lab for a whole test session: scenarios switch by applying only what differs.

The pytest plugin is a thin adapter over this class; it is usable without pytest.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from lab import lifecycle
from lab.engines.base import EngineOptions, Progress
from lab.spec.plan import Plan, StepPlan, make_plan
from lab.spec.registry import LabDir
from lab.state import LabState, StateDir
from lab.timeouts import DEFAULT, Timeouts
from lab.traffic.attribution import Attributor
from lab.traffic.check import CheckOptions, CheckResult, check_traffic
from lab.traffic.driver import DriveSpec, Tally, drive


@dataclass
class LabSession:
    """A lab shared by many checks; `ensure` brings it to a scenario step, `close` tears it down."""

    lab_dir: LabDir
    engine: str = "auto"
    state_dir: Path | None = None
    keep: bool = False
    seed: int | None = None
    check_options: CheckOptions = field(default_factory=CheckOptions)
    timeouts: Timeouts = DEFAULT
    progress: Progress = lambda message: None
    state: LabState | None = None
    _options: EngineOptions | None = None
    _choice: lifecycle.EngineChoice | None = None
    _plans: dict[str, Plan] = field(default_factory=dict)

    @property
    def choice(self) -> lifecycle.EngineChoice:
        """The engine, resolved once per session (`auto` asks Docker only once)."""
        if self._choice is None:
            self._choice = lifecycle.choose_engine(self.engine)
        return self._choice

    def _engine_options(self, plan: Plan) -> EngineOptions:
        """Engine options; listeners on private ports (where the engine can) so a user's lab can run too."""
        if self._options is None:
            state = StateDir((self.state_dir or self.lab_dir.root / ".lab" / "pytest").resolve())
            options = EngineOptions(state=state, timeouts=self.timeouts, seed=self.seed)
            existing = lifecycle.recorded(options)
            port_map = (
                tuple(existing.ports.items())
                if existing is not None
                else lifecycle.private_port_map(self.choice, options, plan)
            )
            self._options = replace(options, port_map=port_map)
        return self._options

    def plan(self, scenario: str) -> Plan:
        """The plan of a scenario (cached for the session)."""
        if scenario not in self._plans:
            self._plans[scenario] = make_plan(self.lab_dir, scenario)
        return self._plans[scenario]

    def ensure(self, scenario: str, step_name: str | None = None) -> tuple[LabState, StepPlan]:
        """Bring the lab to `scenario`'s step (start it, or switch it applying only what differs)."""
        plan = self.plan(scenario)
        step = lifecycle.plan_step(plan, step_name)
        current = self.state
        if current is None or current.scenario != scenario or current.step != step.step.name:
            self.state = lifecycle.up(
                plan,
                self.choice,
                self._engine_options(plan),
                self.progress,
                step_name=step.step.name,
            )
        assert self.state is not None  # noqa: S101 - set just above
        return self.state, step

    def check(self, scenario: str, step_name: str | None, traffic_name: str) -> CheckResult:
        """Judge one traffic class of one step; the result carries the verdict and the traffic."""
        state, step = self.ensure(scenario, step_name)
        attributor = Attributor.from_resources(step.resources)
        (traffic,) = [t for t in step.traffic if t.traffic.name == traffic_name]
        result = check_traffic(state, traffic, attributor, self.check_options)
        return CheckResult(scenario=scenario, step=step.step.name, engine=state.engine, checks=(result,))

    def traffic(
        self,
        path: str = "/echo",
        requests: int = 100,
        headers: Mapping[str, str] | None = None,
        listener_port: int = 8443,
    ) -> Tally:
        """Ad-hoc requests through the running lab, attributed to Services."""
        if self.state is None:
            raise RuntimeError("the lab is not running; call ensure() first")
        plan = self.plan(self.state.scenario)
        step = lifecycle.plan_step(plan, self.state.step)
        spec = DriveSpec(
            url=self.state.gateway_url(listener_port, path),
            ca_file=self.state.ca_file,
            requests=requests,
            headers=dict(headers or {}),
        )
        return drive(spec, Attributor.from_resources(step.resources))

    def close(self) -> None:
        """Tear the lab down unless `keep`."""
        if not self.keep and self._options is not None:
            lifecycle.down(self._options, self.progress)
            self.state = None

