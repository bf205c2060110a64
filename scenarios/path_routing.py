"""Path routing: /echo to the echo split, everything else to frontend; /echoes is not /echo."""

from lab import Scenario, Traffic

SCENARIO = Scenario(
    name="path-routing",
    summary="Path routing: /echo split 50/50, everything else (even /echoes) to frontend",
    manifests=("routes/path-routing.yaml",),
    traffic=(
        Traffic(name="echo", path="/echo", detect=0.05),
        Traffic(name="echoes", path="/echoes"),
        Traffic(name="root", path="/"),
    ),
)


def test_echoes_is_a_different_path_element(lab) -> None:  # type: ignore[no-untyped-def]
    """PathPrefix /echo matches whole path elements: /echo/x is echo, /echoes is frontend."""
    assert set(lab.traffic("/echo/x", requests=40).hits) <= {"echo-1", "echo-2"}
    assert set(lab.traffic("/echoes", requests=40).hits) == {"frontend"}
