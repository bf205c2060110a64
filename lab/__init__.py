"""lab: the Kubernetes Gateway API lab (kind + Consul API Gateway) as reproducible, tested code.

Scenario authors import from here and nowhere else: `from lab import Scenario, Step, Traffic`.
That import stays stable however the package's folders move.

Where things are (the pipeline of DESIGN.md, bottom layer first; a layer imports only below it):
errors, timeouts, waiting, state (core) < stats (judging) < spec (scenario -> plan) <
traffic (drive, converge, check) < engines (local, kube) < lifecycle, session < ui, pytest_plugin.
"""

TYPE_CHECKING = False  # typing itself takes ~20 ms to import; mypy reads this name as True
if TYPE_CHECKING:
    from typing import Any

    from lab.spec.scenario import Scenario, Step, Traffic

__all__ = ["Scenario", "Step", "Traffic", "__version__"]

__version__ = "0.1.0"


def __getattr__(name: str) -> "Any":
    """Scenario, Step and Traffic, loaded on first use.

    So the `lab` command's start-up imports nothing before lab.__main__ can turn a Ctrl-C into
    exit 130 (no import traceback).
    """
    if name in ("Scenario", "Step", "Traffic"):
        from lab.spec import scenario

        return getattr(scenario, name)
    raise AttributeError(f"module 'lab' has no attribute {name!r}")
