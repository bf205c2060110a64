"""Cross-namespace: the Gateway admits routes from all namespaces; team-a attaches its own route.

team-a's route also sends half of /team to echo-2 in default, which a ReferencePolicy allows.
"""

from lab import Scenario, Traffic

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


def test_without_the_reference_policy_the_cross_namespace_backend_is_dropped(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """team-a's route may use default/echo-2 only because of the ReferencePolicy in default.

    Kubernetes accepts the route without it; the controller drops the reference (ResolvedRefs
    False, RefNotPermitted) and echo-2's half of /team answers 503.
    """
    from pathlib import Path

    from lab.spec.findings import findings
    from lab.spec.manifests import load
    from lab.spec.validation import validate

    root = Path(__file__).resolve().parent.parent / "manifests"
    team = (root / "cross-namespace" / "team-a.yaml").read_text()
    without = tmp_path / "team-a.yaml"
    without.write_text(
        team[: team.index("---\napiVersion: gateway.networking.k8s.io/v1alpha2\nkind: ReferencePolicy")]
    )
    resources = load(
        [
            root / "base",
            root / "cross-namespace" / "gateway.yaml",
            root / "routes" / "split-50-50.yaml",
            without,
        ]
    )
    assert validate(resources) == []
    (warning,) = [str(f) for f in findings(resources)]
    assert "Service default/echo-2 is in another namespace and no ReferencePolicy" in warning
    assert "ResolvedRefs=False (RefNotPermitted)" in warning
    assert "/team on team-route will answer 503 for 50% of requests" in warning


def test_team_route_serves_through_the_shared_gateway(lab) -> None:  # type: ignore[no-untyped-def]
    assert set(lab.traffic("/team", requests=60).hits) == {"team-a/team-echo", "echo-2"}
