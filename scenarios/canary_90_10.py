"""A canary at 10%: 90% of /echo to echo-1 (stable), 10% to echo-2."""

from lab import Scenario, Traffic

SCENARIO = Scenario(
    name="canary-90-10",
    summary="Canary at 10%: /echo split 90/10 between echo-1 and echo-2",
    manifests=("routes/canary-90-10.yaml",),
    traffic=(Traffic(path="/echo"),),
)
