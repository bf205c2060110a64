"""Teaching mode (`lab up --step`): stop before each step, say what it does, why, and the command.

Instructors project it; it walks the very sequence `lab plan` prints (lab.spec.commands.tutorial),
numbered the same, waits for Enter, and refuses to run without a terminal.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence

from rich.console import Console
from rich.text import Text

from lab.errors import UsageError
from lab.spec.commands import ROUTES, TRAFFIC, CommandStep


def command_step(number: int, step: CommandStep, note: str | None, console: Console) -> None:
    """One numbered step as `lab plan` and teaching mode both print it: title, why, note, commands."""
    title = Text(f"{number}. {step.title}", style="bold")
    title.append(f"  ({step.stage})", style="dim")
    console.print(title, soft_wrap=True)
    console.print(Text(f"   {step.why}", style="italic"), soft_wrap=True)
    if note:
        console.print(Text(f"   {note}", style="yellow"), soft_wrap=True)
    for line in step.shell():
        console.print(f"   $ {line}", highlight=False, markup=False, soft_wrap=True)


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
