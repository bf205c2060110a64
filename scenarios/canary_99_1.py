"""The blog's canary: 99% of /echo to echo-1 (stable), 1% to echo-2 (canary)."""

from lab import Scenario, Traffic

SCENARIO = Scenario(
    name="canary-99-1",
    summary="The blog's canary: /echo split 99/1 between echo-1 (stable) and echo-2 (canary)",
    manifests=("routes/canary-99-1.yaml",),
    traffic=(Traffic(path="/echo"),),
)
