"""The scenario model: what one lab variation states (manifests, traffic, steps) and nothing else.

A scenario file `scenarios/<name_with_underscores>.py` holds `SCENARIO = Scenario(...)`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

# Base manifests every scenario gets, relative to manifests/ (applied in this order).
BASE_MANIFESTS = ("base", "gateway")


def _frozen(mapping: Mapping[str, str] | None) -> Mapping[str, str]:
    return MappingProxyType(dict(mapping or {}))


@dataclass(frozen=True)
class Traffic:
    """One class of requests sent through the gateway, and what split it should see.

    `expect` overrides the expected weights (by Service name) instead of deriving them from the
    routes; a scenario uses it to assert a split independently of its own manifests.
    `requests` None means: the sample-size planner's n, so that a shift of `detect` (absolute
    share of the smallest backend) is caught with 95% power at alpha 0.001.
    """

    path: str = "/echo"
    headers: Mapping[str, str] = field(default_factory=dict)
    requests: int | None = None
    method: str = "GET"
    host: str | None = None
    name: str = "default"
    expect: Mapping[str, int] | None = None
    detect: float = 0.03

    def __post_init__(self) -> None:
        object.__setattr__(self, "headers", _frozen(self.headers))
        if self.expect is not None:
            object.__setattr__(self, "expect", MappingProxyType(dict(self.expect)))


@dataclass(frozen=True)
class Step:
    """One stage of a multi-step scenario: the route manifests to apply, then the traffic to judge."""

    name: str
    manifests: tuple[str, ...]
    traffic: tuple[Traffic, ...] = (Traffic(),)
    why: str = ""


@dataclass(frozen=True)
class Scenario:
    """One lab variation: a name, a one-line summary, its manifests and traffic, or its steps."""

    name: str
    summary: str
    manifests: tuple[str, ...] = ()
    traffic: tuple[Traffic, ...] = (Traffic(),)
    steps: tuple[Step, ...] = ()
    base: tuple[str, ...] = BASE_MANIFESTS

    @property
    def all_steps(self) -> tuple[Step, ...]:
        """The steps to run: the explicit ones, or one step made of manifests + traffic."""
        if self.steps:
            return self.steps
        return (Step(name=self.name, manifests=self.manifests, traffic=self.traffic),)
