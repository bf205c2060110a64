"""pytest plugin (entry point `pytest11`): every scenario module becomes tests.

Each scenario's split checks are generated (one test per step and traffic class, no code in the
module); `test_*` functions in the module run too, with a `lab` fixture. One lab per session,
switched between scenarios by applying only what differs. A thin adapter over lab.session.
"""

from __future__ import annotations

import io
import os
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lab.engines import ENGINE_NAMES, docker_problem
from lab.errors import LabError
from lab.session import LabSession
from lab.spec.registry import LabDir
from lab.spec.scenario import Scenario
from lab.state import LabState
from lab.stats.verdict import DEFAULT_ALPHA, Outcome
from lab.traffic.check import CheckOptions, CheckResult

_SESSION = pytest.StashKey[LabSession]()


def pytest_addoption(parser: pytest.Parser) -> None:
    """The lab's options."""
    group = parser.getgroup("lab", "lab: Gateway API lab scenarios")
    group.addoption(
        "--lab-engine",
        choices=ENGINE_NAMES,
        default=os.environ.get("LAB_ENGINE", "auto"),
        help="engine for scenario tests (env LAB_ENGINE; default auto)",
    )
    group.addoption("--lab-keep", action="store_true", help="keep the lab running after the session")
    group.addoption(
        "--lab-seed",
        type=int,
        default=int(os.environ["LAB_SEED"]) if os.environ.get("LAB_SEED") else None,
        help="seed of the embedded engine's random choices, for reproducible checks (env LAB_SEED)",
    )
    group.addoption(
        "--lab-requests",
        type=int,
        default=None,
        help="answers per check: the sequential check's cap, or n with --lab-fixed (default: planned)",
    )
    group.addoption("--lab-alpha", type=float, default=DEFAULT_ALPHA, help="false-fail rate of each check")
    group.addoption(
        "--lab-fixed",
        action="store_true",
        help="the fixed-n test instead of the sequential check (which stops once the verdict is clear)",
    )
    group.addoption(
        "--lab-dir", default=os.environ.get("LAB_DIR"), help="lab folder (env LAB_DIR; default: rootdir)"
    )


def pytest_configure(config: pytest.Config) -> None:
    """Register the markers and the session's lab (started lazily)."""
    config.addinivalue_line(
        "markers", "kind: needs a Docker daemon and kind (skipped elsewhere with the reason)"
    )
    config.addinivalue_line("markers", "lab_scenario: a generated split check of a lab scenario")
    alpha = config.getoption("--lab-alpha")
    if not 0 < alpha < 1:
        raise pytest.UsageError(f"--lab-alpha must be strictly between 0 and 1, got {alpha}")
    lab_dir = Path(config.getoption("--lab-dir") or config.rootpath).resolve()
    config.stash[_SESSION] = LabSession(
        lab_dir=LabDir(lab_dir),
        engine=config.getoption("--lab-engine"),
        keep=config.getoption("--lab-keep"),
        seed=config.getoption("--lab-seed"),
        check_options=CheckOptions(
            requests=config.getoption("--lab-requests"),
            alpha=alpha,
            sequential=not config.getoption("--lab-fixed"),
        ),
    )


def pytest_unconfigure(config: pytest.Config) -> None:
    """Tear the session's lab down (unless --lab-keep)."""
    session = config.stash.get(_SESSION, None)
    if session is not None:
        session.close()


def _is_scenario_file(path: Path) -> bool:
    return (
        path.suffix == ".py"
        and path.parent.name == "scenarios"
        and (path.parent.parent / "manifests").is_dir()
        and not path.name.startswith(("_", "test_", "conftest"))
    )


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    """Scenario modules (scenarios/<name>.py beside manifests/) are collected as ScenarioModule.

    Files pytest's python plugin collects anyway (given on the command line, or matching
    python_files) come through `pytest_pycollect_makemodule` instead, so none is collected twice.
    """
    if not _is_scenario_file(file_path):
        return None
    if parent.session.isinitpath(file_path) or any(
        file_path.match(pattern) for pattern in parent.config.getini("python_files")
    ):
        return None
    module: ScenarioModule = ScenarioModule.from_parent(parent, path=file_path)
    return module


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makemodule(module_path: Path, parent: pytest.Collector) -> pytest.Module | None:
    """A scenario file pytest collects on its own still becomes a ScenarioModule."""
    if _is_scenario_file(module_path):
        module: ScenarioModule = ScenarioModule.from_parent(parent, path=module_path)
        return module
    return None


class ScenarioModule(pytest.Module):
    """A scenario file: its generated split checks, then its own test_* functions."""

    def collect(self) -> Any:
        """Generated checks first (in step order), then what pytest finds in the module."""
        items = list(super().collect())
        scenario = getattr(self.obj, "SCENARIO", None)
        if not isinstance(scenario, Scenario):
            return items
        checks = []
        multi = len(scenario.all_steps) > 1
        for step in scenario.all_steps:
            for traffic in step.traffic:
                parts = [
                    p
                    for p in (step.name if multi else None, traffic.name if len(step.traffic) > 1 else None)
                    if p
                ]
                name = f"split_check[{'/'.join(parts) or scenario.name}]"
                checks.append(
                    ScenarioCheck.from_parent(
                        self, name=name, scenario=scenario.name, step=step.name, traffic=traffic.name
                    )
                )
        return checks + items


class SplitMismatch(Exception):
    """The observed split does not match the route weights (or the check was inconclusive)."""


class LabNotReady(Exception):
    """The lab did not start or converge; the split was never judged."""


class LabCrashed(Exception):
    """lab itself raised an unexpected exception: a bug in lab, neither a verdict nor a lab problem."""


class ScenarioCheck(pytest.Item):
    """One generated split check: bring the lab to the step, drive, judge."""

    def __init__(self, *, scenario: str, step: str, traffic: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scenario = scenario
        self.step = step
        self.traffic = traffic
        self.add_marker(pytest.mark.lab_scenario)

    def runtest(self) -> None:
        """Fail with the verdict table on a mismatch; a lab that never converged fails differently."""
        session = self.config.stash[_SESSION]
        try:
            session.ensure(self.scenario, self.step)
            result = session.check(self.scenario, self.step, self.traffic)
        except LabError as error:
            raise LabNotReady(str(error)) from error
        except Exception as error:  # a bug in lab must not read as a verdict
            raise LabCrashed("".join(traceback.format_exception(error))) from error
        (check,) = result.checks
        self.user_properties.append(("verdict", check.verdict.outcome.value))
        if check.verdict.p_value is not None:  # the any-hit rule computes none: no p_value="None"
            self.user_properties.append(("p_value", check.verdict.p_value))
        if check.verdict.outcome is not Outcome.PASS:
            raise SplitMismatch(render_text(result))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        """The verdict table for a mismatch; the engine's message when the lab is not ready."""
        if isinstance(excinfo.value, SplitMismatch):
            return f"split check {self.scenario} / {self.step} / {self.traffic}:\n{excinfo.value}"
        if isinstance(excinfo.value, LabNotReady):
            return f"lab not ready for {self.scenario} / {self.step} (the split was not judged):\n{excinfo.value}"
        if isinstance(excinfo.value, LabCrashed):
            return (
                f"lab crashed while checking {self.scenario} / {self.step} / {self.traffic}: "
                f"this is a bug in lab, not a split mismatch (the split was not judged):\n{excinfo.value}"
            )
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int, str]:
        """Where the check comes from."""
        return self.path, 0, f"{self.scenario}: split check {self.name}"


class RunningLab:
    """What the `lab` fixture gives a scenario's test functions."""

    def __init__(self, session: LabSession, state: LabState, scenario: str) -> None:
        self.session = session
        self.state = state
        self.scenario = scenario
        self.plan = session.plan(scenario)

    @property
    def ca_file(self) -> str:
        """The CA bundle that verifies the gateway."""
        return self.state.ca_file

    def url(self, path: str = "/", listener_port: int = 8443) -> str:
        """A URL through the gateway."""
        return self.state.gateway_url(listener_port, path)

    def traffic(self, path: str = "/echo", requests: int = 100, headers: dict[str, str] | None = None) -> Any:
        """Send requests; returns the tally (hits per Service, pods, failures)."""
        return self.session.traffic(path, requests, headers)


@pytest.fixture
def lab(request: pytest.FixtureRequest) -> Iterator[RunningLab]:
    """The running lab, at the first step of the requesting module's SCENARIO."""
    scenario = getattr(request.module, "SCENARIO", None)
    if not isinstance(scenario, Scenario):
        raise pytest.UsageError("the `lab` fixture needs a module-level SCENARIO = Scenario(...)")
    session = request.config.stash[_SESSION]
    try:
        state, _ = session.ensure(scenario.name)
    except LabError as error:
        raise LabNotReady(str(error)) from error
    yield RunningLab(session, state, scenario.name)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip tests marked `kind` where Docker is missing, saying why."""
    marked = [item for item in items if item.get_closest_marker("kind")]
    if not marked:
        return
    problem = docker_problem()
    if problem:
        for item in marked:
            item.add_marker(pytest.mark.skip(reason=f"{problem}; tests marked kind need one"))


def render_text(result: CheckResult, width: int = 110) -> str:
    """The check report as plain text (for assertion messages)."""
    from rich.console import Console

    from lab.ui.report import render_check

    console = Console(file=io.StringIO(), width=width, record=True, color_system=None, highlight=False)
    render_check(result, console)
    return console.export_text()
