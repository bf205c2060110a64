"""Blue-green: all traffic on blue (echo-1), then flipped to green (echo-2); the idle side gets nothing."""

from lab import Scenario, Step, Traffic

SCENARIO = Scenario(
    name="blue-green",
    summary="Blue-green: /echo 100/0 on echo-1, then flipped to 0/100; the idle side must get nothing",
    steps=(
        Step(
            name="blue",
            manifests=("routes/blue-green-blue.yaml",),
            traffic=(Traffic(path="/echo"),),
            why="blue (echo-1) takes every request; green (echo-2) is deployed but idle at weight 0",
        ),
        Step(
            name="green",
            manifests=("routes/blue-green-green.yaml",),
            traffic=(Traffic(path="/echo"),),
            why="flip: green takes every request; a single hit on blue would fail the check",
        ),
    ),
)
