"""Teaching mode (`lab up --step`): stop before each step, say what it does, why, and the command.

Instructors project it; it walks the very sequence `lab plan` prints (lab.spec.commands.tutorial),
numbered the same, waits for Enter, and refuses to run without a terminal.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence

from rich.console import Console

from lab.errors import UsageError
from lab.spec.commands import ROUTES, TRAFFIC, CommandStep
from lab.ui.views import command_step


class Teacher:
    """Pauses before each part of the sequence when enabled; a no-op otherwise."""

    def __init__(
        self,
        console: Console,
        *,
        enabled: bool,
        steps: Sequence[CommandStep] = (),
        notes: Mapping[str, str] | None = None,
        wait: Callable[[str], str] = input,
        is_terminal: Callable[[], bool] = lambda: sys.stdin.isatty(),
    ) -> None:
        if enabled and not is_terminal():
            raise UsageError(
                "--step waits for Enter before each step, but standard input is not a terminal",
                fix="run it in a terminal, or leave out --step (`lab plan SCENARIO` prints the steps)",
            )
        self.console = console
        self.enabled = enabled
        self.steps = tuple(steps)
        self.notes = notes or {}
        self._wait = wait

    def _show(self, chosen: Callable[[CommandStep], bool]) -> None:
        if not self.enabled:
            return
        shown = False
        for number, step in enumerate(self.steps, 1):
            if chosen(step):
                self.console.print()
                command_step(number, step, self.notes.get(step.key), self.console)
                shown = True
        if shown:
            self._wait("press Enter to run it ")

    def before_start(self) -> None:
        """Setting the lab up: cluster, CRDs, Consul, CA, services and Gateway."""
        self._show(lambda s: s.scenario_step is None)

    def before_step(self, name: str) -> None:
        """Applying scenario step `name`'s routes (the route switch)."""
        self._show(lambda s: s.scenario_step == name and s.key == ROUTES)

    def before_check(self, name: str) -> None:
        """Driving and judging step `name`'s traffic."""
        self._show(lambda s: s.scenario_step == name and s.key == TRAFFIC)
