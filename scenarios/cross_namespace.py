"""Cross-namespace: the Gateway admits routes from all namespaces; team-a attaches its own route.

team-a's route also sends half of /team to echo-2 in default, which a ReferencePolicy allows.
"""

from lab.scenario import Scenario, Traffic

SCENARIO = Scenario(
    name="cross-namespace",
    summary="Cross-namespace: team-a attaches its own route; a ReferencePolicy lets it use echo-2",
    base=("base", "cross-namespace/gateway.yaml"),
    manifests=("routes/split-50-50.yaml", "cross-namespace/team-a.yaml"),
    traffic=(
        Traffic(name="echo", path="/echo", detect=0.05),
        Traffic(name="team", path="/team", detect=0.05),
    ),
)
