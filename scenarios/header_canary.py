"""Header canary: requests with `x-canary: always` go only to echo-2; the rest stay on 99/1."""

from lab import Scenario, Traffic

SCENARIO = Scenario(
    name="header-canary",
    summary="Header canary: x-canary: always goes 100% to echo-2; other /echo traffic stays 99/1",
    manifests=("routes/header-canary.yaml",),
    traffic=(
        Traffic(name="with-header", path="/echo", headers={"x-canary": "always"}),
        Traffic(name="without-header", path="/echo"),
    ),
)
