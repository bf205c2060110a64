"""lab: the Kubernetes Gateway API lab (kind + Consul API Gateway) as reproducible, tested code.

Scenario authors import from here and nowhere else: `from lab import Scenario, Step, Traffic`.
That import stays stable however the package's folders move.

Where things are (the pipeline of DESIGN.md, bottom layer first; a layer imports only below it):
errors, timeouts, waiting, state (core) < stats (judging) < spec (scenario -> plan) <
traffic (drive, converge, check) < engines (local, kube) < lifecycle, session < ui, pytest_plugin.
"""

from lab.spec.scenario import Scenario, Step, Traffic

__all__ = ["Scenario", "Step", "Traffic", "__version__"]

__version__ = "0.1.0"
