"""The tutorial's routes: /echo split 50/50 between echo-1 and echo-2, the rest to frontend."""

from lab import Scenario, Traffic

SCENARIO = Scenario(
    name="split-50-50",
    summary="The tutorial's routes: /echo split 50/50 between echo-1 and echo-2",
    manifests=("routes/split-50-50.yaml",),
    traffic=(Traffic(path="/echo"),),
)
