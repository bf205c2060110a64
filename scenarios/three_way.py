"""A three-way split the Consul API Gateway 0.1.0 accepts: 50/30/20 over echo-1, echo-2, echo-3."""

from lab import Scenario, Traffic

SCENARIO = Scenario(
    name="three-way",
    summary="Three-way split of /echo: 50/30/20 over echo-1, echo-2 and echo-3",
    manifests=("extra/echo-3.yaml", "routes/three-way.yaml"),
    traffic=(Traffic(path="/echo"),),
)
