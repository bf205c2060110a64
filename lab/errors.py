"""Every error a user can cause, as a small specific class carrying its exit code.

The CLI maps `LabError.exit_code` to the process exit status; messages say what was found, what
was expected, where (file and field) and what to do.
"""

from __future__ import annotations

import enum
from pathlib import Path


class ExitCode(enum.IntEnum):
    """Process exit codes, documented in the README and used by every command."""

    OK = 0
    CHECK_FAILED = 1
    USAGE = 2
    INVALID_INPUT = 3
    ENVIRONMENT = 4
    NOT_CONVERGED = 5
    INCONCLUSIVE = 6
    # An unexpected exception: a bug in lab, never a verdict (BSD sysexits EX_SOFTWARE).
    CRASH = 70
    # Ctrl-C outside the traffic run (128 + SIGINT, the shell convention).
    INTERRUPTED = 130
    # Whatever read the output went away (`lab judge ... | head -1`): 128 + SIGPIPE, never 1.
    BROKEN_PIPE = 141


class LabError(Exception):
    """Base class: a failure with a plain-sentence message and an exit code."""

    exit_code: ExitCode = ExitCode.NOT_CONVERGED

    def __init__(self, message: str, *, fix: str | None = None) -> None:
        self.message = message
        self.fix = fix
        super().__init__(message if fix is None else f"{message}\n  fix: {fix}")


class UsageError(LabError):
    """The command line itself is wrong (unknown option value, missing argument)."""

    exit_code = ExitCode.USAGE


class InvalidInput(LabError):
    """A scenario, manifest or values file is wrong; nothing was applied."""

    exit_code = ExitCode.INVALID_INPUT


class ManifestError(InvalidInput):
    """A manifest is malformed or violates a rule; names the file, line and field."""

    def __init__(
        self,
        message: str,
        *,
        file: Path | str | None = None,
        line: int | None = None,
        field: str | None = None,
        fix: str | None = None,
    ) -> None:
        self.file = Path(file) if file is not None else None
        self.line = line
        self.field = field
        where = ""
        if file is not None:
            where = f"{file}" + (f":{line}" if line else "")
            if field:
                where += f": {field}"
            where += ": "
        elif field:
            where = f"{field}: "
        super().__init__(where + message, fix=fix)


class UnknownScenario(InvalidInput):
    """No scenario has that name; the message suggests the closest names."""


class ScenarioError(InvalidInput):
    """A scenario module fails to import, is malformed, or duplicates another's name."""


class EnvironmentNotReady(LabError):
    """A tool is missing, the Docker daemon is down, a port is busy, state is locked."""

    exit_code = ExitCode.ENVIRONMENT


class NotConverged(LabError):
    """The lab did not become ready in time, or broke at run time."""

    exit_code = ExitCode.NOT_CONVERGED


class NoLabRunning(LabError):
    """A command needs a running lab and there is none in the state folder."""

    exit_code = ExitCode.ENVIRONMENT


class ChecksumMismatch(EnvironmentNotReady):
    """A downloaded or cached artefact does not have the pinned sha256: it is not what lab pins."""


class ChartNotFound(NotConverged):
    """helm cannot find the pinned chart version in the repository (or the cache is incomplete)."""
