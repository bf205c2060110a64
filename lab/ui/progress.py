"""Live progress of the traffic driver: a bar with per-backend counts, or plain lines off a terminal."""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING

from rich.console import Console

from lab.spec.plan import TrafficPlan
from lab.traffic.driver import Tally

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID


class DriveProgress:
    """A context manager whose instance is the check's progress hook."""

    def __init__(self, console: Console, requests: int | None = None, sequential: bool = False) -> None:
        self.console = console
        self.requests = requests
        self.sequential = sequential
        self.live = console.is_terminal
        self._progress: Progress | None = None
        self._tasks: dict[str, TaskID] = {}
        self._quarters: dict[str, int] = {}

    def __enter__(self) -> DriveProgress:
        if self.live:
            # imported here: off a terminal (CI, pipes, `lab check` in a script) no bar is drawn
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self._progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[counts]}"),
                TimeElapsedColumn(),
                console=self.console,
                transient=False,
            )
            self._progress.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._progress is not None:
            self._progress.stop()

    def __call__(self, traffic: TrafficPlan, tally: Tally) -> None:
        """Called after every response."""
        total = self.requests or traffic.requests
        done = tally.answered + tally.failed
        key = traffic.traffic.name + traffic.traffic.path
        counts = " ".join(f"{k} {v}" for k, v in sorted(tally.hits.items()))
        if tally.failed:
            counts += f" failed {tally.failed}"
        if self._progress is not None:
            task = self._tasks.get(key)
            if task is None:
                task = self._progress.add_task(
                    f"{traffic.traffic.name} {traffic.traffic.path}", total=total, counts=""
                )
                self._tasks[key] = task
            if done % 25 == 0 or done >= total:
                self._progress.update(task, completed=done, counts=counts)
            return
        if key not in self._quarters:
            self._quarters[key] = 0
            what = f"up to {total} answers, stopping once the verdict is clear" if self.sequential else f"{total} requests"
            self.console.print(f"  {traffic.traffic.path}: sending {what}", highlight=False)
        quarter = (4 * done) // max(total, 1)
        if quarter > self._quarters.get(key, 0):
            self._quarters[key] = quarter
            self.console.print(f"  {traffic.traffic.path}: {done}/{total} {counts}", highlight=False)
