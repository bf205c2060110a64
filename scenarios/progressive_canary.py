"""Progressive canary: echo-2's share goes 1% -> 10% -> 50% -> 100%, judged at each step."""

from lab import Scenario, Step, Traffic

SCENARIO = Scenario(
    name="progressive-canary",
    summary="Progressive canary: echo-2 at 1%, 10%, 50%, then 100%, judged at each step",
    steps=(
        Step(
            "canary-1",
            ("routes/canary-99-1.yaml",),
            (Traffic(path="/echo"),),
            why="start with 1% on the canary",
        ),
        Step(
            "canary-10",
            ("routes/canary-90-10.yaml",),
            (Traffic(path="/echo"),),
            why="the canary looks healthy: 10%",
        ),
        Step(
            "canary-50",
            ("routes/split-50-50.yaml",),
            (Traffic(path="/echo", detect=0.05),),
            why="half of the traffic",
        ),
        Step(
            "canary-100",
            ("routes/blue-green-green.yaml",),
            (Traffic(path="/echo"),),
            why="promote: every request to echo-2, none left on echo-1",
        ),
    ),
)
