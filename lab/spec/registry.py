"""Finds the scenarios of a lab folder: imports each `scenarios/*.py` and checks its SCENARIO."""

from __future__ import annotations

import difflib
import importlib.util
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from lab.errors import ScenarioError, UnknownScenario
from lab.spec.scenario import Scenario


@dataclass(frozen=True)
class LabDir:
    """A folder laid out like the project root: scenarios/, manifests/, charts-values/."""

    root: Path

    @property
    def scenarios(self) -> Path:
        """The scenario modules folder."""
        return self.root / "scenarios"

    @property
    def manifests(self) -> Path:
        """The manifests folder."""
        return self.root / "manifests"

    @property
    def charts_values(self) -> Path:
        """The helm values folder."""
        return self.root / "charts-values"


@dataclass(frozen=True)
class ScenarioEntry:
    """A loaded scenario and the module it came from."""

    scenario: Scenario
    path: Path
    module: ModuleType


def file_name_for(name: str) -> str:
    """The module file name a scenario name must live in: canary-99-1 -> canary_99_1.py."""
    return name.replace("-", "_") + ".py"


def load_module(path: Path) -> ModuleType:
    """Import a scenario file under a private name; import errors surface with their traceback."""
    mod_name = f"lab_scenarios.{path.stem}"
    spec = importlib.util.spec_from_file_location(mod_name, path)
    if spec is None or spec.loader is None:
        raise ScenarioError(f"{path}: cannot be imported as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[mod_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[mod_name]
        tb = traceback.format_exception_only(type(exc), exc)[-1].strip()
        raise ScenarioError(
            f"{path}: importing the scenario failed: {tb}",
            fix="run `python " + str(path) + "` to see the full traceback",
        ) from exc
    return module


@dataclass(frozen=True)
class Catalogue:
    """The scenarios of a lab folder: those that load, and the files that are broken (with why)."""

    entries: dict[str, ScenarioEntry]
    # scenario name (from the file name) -> why its file cannot be used
    broken: dict[str, ScenarioError]


def _entry(path: Path, found: dict[str, ScenarioEntry]) -> ScenarioEntry:
    module = load_module(path)
    scenario = getattr(module, "SCENARIO", None)
    if not isinstance(scenario, Scenario):
        raise ScenarioError(
            f"{path}: SCENARIO is missing or is not a lab Scenario",
            fix="define SCENARIO = Scenario(name=..., summary=..., ...) in the file (from lab import Scenario)",
        )
    if file_name_for(scenario.name) != path.name:
        raise ScenarioError(
            f"{path}: SCENARIO.name is {scenario.name!r} but the file name says "
            f"{path.stem.replace('_', '-')!r}",
            fix=f"rename the file to {file_name_for(scenario.name)} or the scenario to "
            f"{path.stem.replace('_', '-')!r}",
        )
    if scenario.name in found:
        raise ScenarioError(
            f"{path}: scenario name {scenario.name!r} is also defined in {found[scenario.name].path}",
            fix="give each scenario a unique name",
        )
    return ScenarioEntry(scenario, path, module)


def scan(lab_dir: LabDir) -> Catalogue:
    """Every scenario file of the lab folder; a broken file affects only its own scenario."""
    folder = lab_dir.scenarios
    if not folder.is_dir():
        raise ScenarioError(
            f"{folder}: no scenarios folder",
            fix="point --lab-dir (or LAB_DIR) at a folder with scenarios/ and manifests/",
        )
    found: dict[str, ScenarioEntry] = {}
    broken: dict[str, ScenarioError] = {}
    for path in sorted(folder.glob("*.py")):
        if path.name.startswith(("_", "test_", "conftest")):
            continue
        try:
            entry = _entry(path, found)
        except ScenarioError as error:
            broken[path.stem.replace("_", "-")] = error
            continue
        found[entry.scenario.name] = entry
    return Catalogue(found, broken)


def discover(lab_dir: LabDir) -> dict[str, ScenarioEntry]:
    """The scenarios that load (see `scan` for the broken ones)."""
    return scan(lab_dir).entries


def get(lab_dir: LabDir, name: str) -> ScenarioEntry:
    """The scenario called `name`, or UnknownScenario with did-you-mean suggestions."""
    catalogue = scan(lab_dir)
    if name in catalogue.entries:
        return catalogue.entries[name]
    if name in catalogue.broken:
        raise catalogue.broken[name]
    close = difflib.get_close_matches(name, list(catalogue.entries), n=3, cutoff=0.5)
    hint = f"did you mean {', '.join(close)}?" if close else "no scenario has a similar name"
    raise UnknownScenario(
        f"unknown scenario {name!r} in {lab_dir.scenarios}: {hint}",
        fix="`lab scenarios` lists the scenarios",
    )
