"""lab.stats.verdict: outcomes, test chosen, intervals, reasons, JSON; calibration by simulation."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable

import numpy as np
import pytest
from scipy import stats

from lab.errors import ExitCode, InvalidInput
from lab.stats import multinomial
from lab.stats.power import acceptance_region
from lab.stats.verdict import Outcome, judge

CANARY = {"echo-1": 99, "echo-2": 1}


def test_the_blogs_numbers_pass_with_p_056() -> None:
    v = judge(CANARY, {"echo-1": 1179, "echo-2": 9})
    assert v.outcome is Outcome.PASS and v.passed
    assert v.p_value == pytest.approx(0.557, abs=0.001)
    assert v.test.startswith("exact two-sided binomial test on echo-2")
    assert v.n == 1188 and v.failed == 0
    canary = v.backend("echo-2")
    assert canary.hits == 9 and canary.expected_share == 0.01
    assert canary.interval[0] < 0.01 < canary.interval[1]
    assert "would detect a share for echo-2 below" in v.power
    assert "above 2.8% with 95% probability" in v.power


def test_a_7_percent_canary_fails_and_says_where() -> None:
    v = judge(CANARY, {"echo-1": 1100, "echo-2": 88})
    assert v.outcome is Outcome.FAIL
    assert v.outcome.exit_code == ExitCode.CHECK_FAILED
    assert v.p_value is not None and v.p_value < 1e-40
    assert any(
        r.startswith(
            "echo-2 received 7.4% of responses (88 of 1188); expected 1.0%, 6.4 points more (99.9% interval"
        )
        for r in v.reasons
    )


def test_an_even_split_passes() -> None:
    v = judge({"echo-1": 50, "echo-2": 50}, {"echo-1": 500, "echo-2": 500})
    assert v.outcome is Outcome.PASS
    assert v.p_value == pytest.approx(1.0)


def test_two_way_p_value_is_binomtest_and_symmetric() -> None:
    v = judge({"a": 70, "b": 30}, {"a": 650, "b": 350})
    assert v.p_value == pytest.approx(stats.binomtest(350, 1000, 0.3).pvalue)
    assert v.p_value == pytest.approx(stats.binomtest(650, 1000, 0.7).pvalue)


def test_a_weight_0_backend_with_one_hit_fails_whatever_the_p_value() -> None:
    v = judge({"a": 50, "b": 50, "c": 0}, {"a": 500, "b": 500, "c": 1})
    assert v.outcome is Outcome.FAIL
    assert v.p_value == pytest.approx(1.0)  # c is left out of the test itself
    assert any("c has weight 0 but received 1 response " in r for r in v.reasons)


def test_an_unexpected_backend_fails() -> None:
    v = judge(CANARY, {"echo-1": 1179, "echo-2": 9, "echo-9": 2})
    assert v.outcome is Outcome.FAIL
    assert v.backend("echo-9").weight is None
    assert any("echo-9 is not among the expected backends" in r for r in v.reasons)


def test_five_percent_failed_requests_is_inconclusive_never_a_pass() -> None:
    v = judge(CANARY, {"echo-1": 1131, "echo-2": 9}, failed=60)
    assert v.outcome is Outcome.INCONCLUSIVE
    assert v.outcome.exit_code == ExitCode.INCONCLUSIVE
    assert v.failed == 60 and v.n == 1140
    assert any("60 of 1200 requests failed (5.0%)" in r for r in v.reasons)


def test_failed_requests_by_cause_are_reported_apart() -> None:
    v = judge(CANARY, {"echo-1": 1179, "echo-2": 9}, failed={"timeout": 3, "http 503": 2})
    assert v.outcome is Outcome.PASS  # 5 of 1193 is below 1%
    assert v.failed == 5 and v.n == 1188
    assert dict(v.failed_by_cause) == {"timeout": 3, "http 503": 2}
    assert any("timeout 3, http 503 2" in r for r in v.reasons)


def test_zero_successful_responses_is_inconclusive() -> None:
    v = judge(CANARY, {}, failed=10)
    assert v.outcome is Outcome.INCONCLUSIVE
    assert v.p_value is None


@pytest.mark.parametrize(
    ("observed", "outcome"),
    [
        ({"a": 100}, Outcome.PASS),
        ({"a": 99, "b": 1}, Outcome.FAIL),
        ({"a": 99, "z": 1}, Outcome.FAIL),
    ],
)
def test_a_single_weighted_backend_passes_iff_it_has_every_hit(
    observed: dict[str, int], outcome: Outcome
) -> None:
    v = judge({"a": 100, "b": 0}, observed)
    assert v.outcome is outcome
    assert v.test.startswith("any-hit rule")


def test_intervals_are_clopper_pearson() -> None:
    v = judge(CANARY, {"echo-1": 1179, "echo-2": 9}, alpha=0.01)
    ci = stats.binomtest(9, 1188).proportion_ci(confidence_level=0.99, method="exact")
    assert v.backend("echo-2").interval == pytest.approx((ci.low, ci.high))
    assert judge(CANARY, {"echo-1": 10}).backend("echo-2").interval[0] == 0.0
    assert judge(CANARY, {"echo-1": 10}).backend("echo-1").interval[1] == 1.0


def test_three_way_small_n_is_exact_multinomial() -> None:
    v = judge({"a": 50, "b": 30, "c": 20}, {"a": 48, "b": 32, "c": 20})
    assert v.test.startswith("exact multinomial goodness-of-fit test (all 5151 outcomes")
    assert v.outcome is Outcome.PASS


def test_three_way_large_n_is_pearson_chi_square() -> None:
    observed = {"a": 4800, "b": 3200, "c": 2000}
    v = judge({"a": 50, "b": 30, "c": 20}, observed)
    assert v.test.startswith("Pearson chi-square")
    expected = np.array([5000, 3000, 2000])
    assert v.p_value == pytest.approx(stats.chisquare(np.array(list(observed.values())), expected).pvalue)
    v = judge({"a": 50, "b": 30, "c": 20}, {"a": 5300, "b": 2700, "c": 2000})
    assert v.outcome is Outcome.FAIL
    assert any(r.startswith("b received 27.0%") for r in v.reasons)


def test_monte_carlo_is_used_when_chi_square_is_not_valid_and_agrees_with_exact(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    expected = {"a": 90, "b": 5, "c": 5}
    observed = {"a": 50, "b": 7, "c": 3}
    exact = judge(expected, observed)
    assert exact.test.startswith("exact multinomial goodness-of-fit test (all")
    monkeypatch.setattr(multinomial, "EXACT_MULTINOMIAL_MAX_OUTCOMES", 0)
    sampled = judge(expected, observed)
    assert "Monte Carlo" in sampled.test and "seed" in sampled.test
    assert exact.p_value is not None and sampled.p_value is not None
    assert sampled.p_value == pytest.approx(exact.p_value, abs=0.005)
    # a fresh seed per check (stated in the test name), so that the size stays <= alpha
    seed = int(sampled.test.split("seed ")[1].split(";")[0])
    again = multinomial.multinomial_test([50, 7, 3], [0.9, 0.05, 0.05], seed=seed)
    assert again.p_value == sampled.p_value and again.kind == "monte-carlo"


def test_to_dict_is_json_ready_with_every_field() -> None:
    data = json.loads(json.dumps(judge(CANARY, {"echo-1": 1179, "echo-2": 9}).to_dict()))
    assert data["schema_version"] == 1
    assert data["outcome"] == "pass"
    for key in ("test", "alpha", "p_value", "n", "failed", "reasons", "power"):
        assert key in data
    echo2 = data["backends"][1]
    assert echo2["name"] == "echo-2" and echo2["weight"] == 1 and echo2["hits"] == 9
    assert echo2["expected_share"] == 0.01
    assert echo2["observed_share"] == pytest.approx(9 / 1188)
    assert len(echo2["interval"]) == 2


@pytest.mark.parametrize(
    ("expected", "observed", "kwargs", "message"),
    [
        ({"a": -1, "b": 2}, {"a": 1}, {}, "expected weights: a must be a non-negative integer, got -1"),
        (
            {"a": 0},
            {"a": 1},
            {},
            "expected weights: at least one backend needs a weight above 0, got {'a': 0}",
        ),
        ({}, {"a": 1}, {}, "expected weights: at least one backend needs a weight above 0, got {}"),
        ({"a": 1}, {"a": -3}, {}, "observed counts: a must be a non-negative integer, got -3"),
        ({"a": 1}, {"a": True}, {}, "observed counts: a must be a non-negative integer, got True"),
        ({"a": 1}, {"a": 1.5}, {}, "observed counts: a must be a non-negative integer, got 1.5"),
        ({"a": 1, "": 1}, {"a": 1}, {}, "expected weights: backend names must be non-empty strings, got ''"),
        ({"a": 1}, {7: 1}, {}, "observed counts: backend names must be non-empty strings, got 7"),
        (
            {"a": 1},
            {"a": 1},
            {"alpha": 0.0},
            "alpha must be strictly between 0 and 1, got 0.0\n  fix: e.g. 0.001",
        ),
        (
            {"a": 1},
            {"a": 1},
            {"alpha": 1.0},
            "alpha must be strictly between 0 and 1, got 1.0\n  fix: e.g. 0.001",
        ),
        ({"a": 1}, {"a": 1}, {"max_failed_share": 1.0}, "max_failed_share must be in [0, 1), got 1.0"),
        ({"a": 1}, {"a": 1}, {"max_failed_share": -0.1}, "max_failed_share must be in [0, 1), got -0.1"),
        ({"a": 1}, {"a": 1}, {"failed": -1}, "failed requests must be a non-negative integer, got -1"),
        ({"a": 1}, {"a": 1}, {"failed": True}, "failed requests must be a non-negative integer, got True"),
        ({"a": 1}, {"a": 1}, {"failed": 1.0}, "failed requests must be a non-negative integer, got 1.0"),
        (
            {"a": 1},
            {"a": 1},
            {"failed": {"timeout": -1}},
            "failed requests: timeout must be a non-negative integer, got -1",
        ),
    ],
)
def test_invalid_input_is_rejected(
    expected: dict[str, int], observed: dict[str, int], kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidInput, match=f"^{re.escape(message)}$") as info:
        judge(expected, observed, **kwargs)  # type: ignore[arg-type]
    assert info.value.exit_code == 3


def test_limits_are_inclusive_where_they_say_so() -> None:
    assert judge({"a": 1}, {"a": 1}, max_failed_share=0.0).outcome is Outcome.PASS
    assert judge({"a": 1}, {"a": 1}, failed=0).failed == 0
    assert judge({"a": 1}, {"a": 0}, failed={}).failed_by_cause == ()


# Calibration: when the true split equals the expected one, the false-fail rate is <= alpha.
Record = Callable[[str, float, float, int], None]
DRAWS = 20_000


def _upper(alpha: float, draws: int) -> float:
    return alpha + 3 * math.sqrt(alpha * (1 - alpha) / draws)


@pytest.mark.parametrize(
    ("weights", "n", "alpha"),
    [((99, 1), 1000, 0.05), ((50, 50), 1000, 0.05), ((99, 1), 1000, 0.01), ((50, 50), 300, 0.01)],
)
def test_false_fail_rate_two_way(weights: tuple[int, int], n: int, alpha: float, calibration: Record) -> None:
    share = weights[1] / sum(weights)
    lo, hi = acceptance_region(n, share, alpha)
    hits = np.random.default_rng(2024).binomial(n, share, size=DRAWS)
    rejected = (hits < lo) | (hits > hi)
    # The vectorised rule is judge() itself: check on the first draws.
    expected = {"a": weights[0], "b": weights[1]}
    for h, r in zip(hits[:300], rejected[:300], strict=True):
        v = judge(expected, {"a": n - int(h), "b": int(h)}, alpha=alpha)
        assert (v.outcome is Outcome.FAIL) == bool(r)
    measured = float(rejected.mean())
    calibration(f"false-fail {weights[0]}/{weights[1]} n={n} alpha={alpha}", measured, alpha, DRAWS)
    assert measured <= _upper(alpha, DRAWS)


@pytest.mark.parametrize(
    ("weights", "n", "alpha"),
    [((50, 30, 20), 1000, 0.05), ((34, 33, 33), 1000, 0.05), ((34, 33, 33), 1000, 0.01)],
)
def test_false_fail_rate_three_way_chi_square(
    weights: tuple[int, ...], n: int, alpha: float, calibration: Record
) -> None:
    p = np.array(weights) / sum(weights)
    counts = np.random.default_rng(99).multinomial(n, p, size=DRAWS)
    expected_counts = n * p
    statistic = ((counts - expected_counts) ** 2 / expected_counts).sum(axis=1)
    p_values = stats.chi2.sf(statistic, len(weights) - 1)
    names = ["a", "b", "c"]
    for row, pv in zip(counts[:100], p_values[:100], strict=True):
        v = judge(
            dict(zip(names, weights, strict=True)),
            dict(zip(names, map(int, row), strict=True)),
            alpha=alpha,
        )
        assert v.test.startswith("Pearson chi-square")
        assert v.p_value == pytest.approx(pv)
    measured = float((p_values <= alpha).mean())
    label = "/".join(map(str, weights))
    calibration(f"false-fail {label} n={n} alpha={alpha} (chi-square)", measured, alpha, DRAWS)
    assert measured <= _upper(alpha, DRAWS)


@pytest.mark.parametrize(("weights", "n"), [((50, 30, 20), 60), ((34, 33, 33), 40)])
def test_false_fail_rate_three_way_exact(weights: tuple[int, ...], n: int, calibration: Record) -> None:
    alpha, draws = 0.05, 2000
    names = ["a", "b", "c"]
    expected = dict(zip(names, weights, strict=True))
    counts = np.random.default_rng(5).multinomial(n, np.array(weights) / sum(weights), size=draws)
    fails = 0
    for row in counts:
        v = judge(expected, dict(zip(names, map(int, row), strict=True)), alpha=alpha)
        assert v.test.startswith("exact multinomial")
        fails += v.outcome is Outcome.FAIL
    measured = fails / draws
    label = "/".join(map(str, weights))
    calibration(f"false-fail {label} n={n} alpha={alpha} (exact, judge())", measured, alpha, draws)
    assert measured <= _upper(alpha, draws)


def test_a_fixed_check_interrupted_before_its_n_is_inconclusive_never_a_pass() -> None:
    verdict = judge({"echo-1": 99, "echo-2": 1}, {"echo-1": 300, "echo-2": 3}, complete=False)
    assert verdict.outcome is Outcome.INCONCLUSIVE
    assert (
        verdict.reasons[-1]
        == "interrupted after 303 answers, before the planned n: inconclusive, not a pass."
    )


def test_a_misrouted_answer_fails_even_an_interrupted_check() -> None:
    verdict = judge({"echo-1": 99, "echo-2": 0}, {"echo-1": 300, "echo-2": 3}, complete=False)
    assert verdict.outcome is Outcome.FAIL


def test_an_unexpected_backend_expects_no_share_and_any_hit_on_it_fails() -> None:
    v = judge({"a": 99, "b": 1}, {"x": 1, "a": 990, "b": 9})
    assert [b.name for b in v.backends] == ["a", "b", "x"]
    x = v.backend("x")
    assert (x.weight, x.expected_share, x.hits, x.observed_share) == (None, 0.0, 1, 0.001)
    assert v.backend("a").expected_share == 0.99 and v.backend("b").expected_share == 0.01
    assert v.outcome is Outcome.FAIL
    assert v.reasons[0] == (
        "x is not among the expected backends (a, b) but received 1 response; "
        "a response from an unexpected backend fails."
    )
    zero = judge({"a": 1, "z": 0}, {"a": 998, "z": 2})
    z = zero.backend("z")
    assert (z.weight, z.expected_share, z.observed_share) == (0, 0.0, 0.002)
    assert zero.reasons[0] == (
        "z has weight 0 but received 2 responses (0.20%); any hit on a weight-0 backend fails."
    )
    assert zero.outcome is Outcome.FAIL


def test_a_rare_backend_at_large_n_gets_the_monte_carlo_test_without_any_patch() -> None:
    """700 answers over 998/1/1: 246,051 outcomes (too many to enumerate) and an expected count
    of 0.7 (too small for chi-square), so judge() draws; ties with the observed counts count."""
    probs = [0.998, 0.001, 0.001]
    assert multinomial.multinomial_outcomes(700, 3) == 246_051 > multinomial.EXACT_MULTINOMIAL_MAX_OUTCOMES
    v = judge({"a": 998, "b": 1, "c": 1}, {"a": 697, "b": 2, "c": 1})
    seed = int(v.test.split("seed ")[1].split(";")[0])
    assert v.test == (
        "exact multinomial goodness-of-fit test, Monte Carlo p-value (b+1)/(m+1) (m=100000 draws, "
        f"seed {seed}; an expected count is below 5, so chi-square is not valid)"
    )
    sample = np.random.default_rng(seed).multinomial(700, probs, size=100_000)
    observed = stats.multinomial.pmf([697, 2, 1], 700, probs)
    # (697, 1, 2) is exactly as likely as the observed counts: it counts as "at most as likely"
    assert stats.multinomial.pmf([697, 1, 2], 700, probs) == pytest.approx(observed, rel=1e-12)
    extreme = int((stats.multinomial.pmf(sample, 700, probs) <= observed * (1 + 1e-7)).sum())
    ties = int(((sample == [697, 1, 2]).all(axis=1) | (sample == [697, 2, 1]).all(axis=1)).sum())
    assert ties > 0
    assert v.p_value == (extreme + 1) / 100_001
    assert v.outcome is Outcome.PASS
    assert v.detectable is not None and v.detectable.method == multinomial.MONTE_CARLO_POWER


# Every sentence of a verdict, word for word, for each way a check can end.
SENTENCES = {
    "the blog's 1179/9": (
        ({"echo-1": 99, "echo-2": 1}, {"echo-1": 1179, "echo-2": 9}, {}),
        Outcome.PASS,
        [
            "echo-2 received 0.76% of responses (9 of 1188); expected 1.0%, 0.2 points less "
            "(99.9% interval 0.19%..2.0%).",
            "p = 0.56 > alpha = 0.001: the split is consistent with the weights.",
        ],
        "At n=1188 and alpha=0.001 the test would detect a share for echo-2 below 0.030% or above "
        "2.8% with 95% probability (expected 1.0%; exact binomial acceptance region).",
    ),
    "a 7% canary": (
        ({"echo-1": 99, "echo-2": 1}, {"echo-1": 930, "echo-2": 70}, {}),
        Outcome.FAIL,
        [
            "echo-1 received 93.0% of responses (930 of 1000); expected 99.0%, 6.0 points less "
            "(99.9% interval 90.0%..95.4%).",
            "echo-2 received 7.0% of responses (70 of 1000); expected 1.0%, 6.0 points more "
            "(99.9% interval 4.6%..10.0%).",
            "p = 7.1e-36 <= alpha = 0.001: the split does not match the weights.",
        ],
        "At n=1000 and alpha=0.001 the test would detect a share for echo-2 below 0.0051% or above "
        "3.0% with 95% probability (expected 1.0%; exact binomial acceptance region).",
    ),
    "5% failed, by cause": (
        ({"a": 50, "b": 50}, {"a": 500, "b": 450}, {"failed": {"timeout": 30, "503": 20}}),
        Outcome.INCONCLUSIVE,
        [
            "50 of 1000 requests failed (5.0%; timeout 30, 503 20), counted apart from the split; "
            "the limit is 1.0%.",
            "a received 52.6% of responses (500 of 950); expected 50.0%, 2.6 points more "
            "(99.9% interval 47.2%..58.0%).",
            "Failed requests are above the 1.0% limit, so the split cannot be judged (the test alone: "
            "p = 0.11 > alpha = 0.001: the split is consistent with the weights): inconclusive, not a pass.",
        ],
        "At n=950 and alpha=0.001 the test would detect a share for a below 41.9% or above 58.1% "
        "with 95% probability (expected 50.0%; exact binomial acceptance region).",
    ),
    "one failed request, below the limit": (
        ({"a": 50, "b": 50}, {"a": 480, "b": 520}, {"failed": 1}),
        Outcome.PASS,
        [
            "1 of 1001 requests failed (0.100%), counted apart from the split; the limit is 1.0%.",
            "a received 48.0% of responses (480 of 1000); expected 50.0%, 2.0 points less "
            "(99.9% interval 42.8%..53.2%).",
            "p = 0.22 > alpha = 0.001: the split is consistent with the weights.",
        ],
        "At n=1000 and alpha=0.001 the test would detect a share for a below 42.2% or above 57.8% "
        "with 95% probability (expected 50.0%; exact binomial acceptance region).",
    ),
    "no answer": (
        ({"a": 50, "b": 50}, {}, {"failed": 3}),
        Outcome.INCONCLUSIVE,
        [
            "3 of 3 requests failed (100.0%), counted apart from the split; the limit is 1.0%.",
            "No successful responses: there is no split to judge.",
        ],
        "No successful responses: the test could detect nothing.",
    ),
    "one weighted backend": (
        ({"a": 1, "z": 0}, {"a": 100}, {}),
        Outcome.PASS,
        ["All 100 responses came from a, the only backend with weight above 0."],
        "At n=100 and alpha=0.001 a misrouted share of 3.0% or more would show up at least once with "
        "95% probability (any-hit rule on backends with weight 0).",
    ),
    "misrouted and off": (
        ({"a": 50, "b": 50}, {"a": 600, "b": 390, "x": 10}, {}),
        Outcome.FAIL,
        [
            "x is not among the expected backends (a, b) but received 10 responses; a response from an "
            "unexpected backend fails.",
            "a received 60.0% of responses (600 of 1000); expected 50.0%, 10.0 points more "
            "(99.9% interval 54.8%..65.1%).",
            "b received 39.0% of responses (390 of 1000); expected 50.0%, 11.0 points less "
            "(99.9% interval 34.0%..44.2%).",
            "p = 2.6e-11 <= alpha = 0.001: the split among weighted backends does not match the weights.",
        ],
        "At n=990 and alpha=0.001 the test would detect a share for a below 42.1% or above 57.9% "
        "with 95% probability (expected 50.0%; exact binomial acceptance region).",
    ),
    "misrouted, nothing else answered": (
        ({"a": 50, "b": 50}, {"x": 2}, {}),
        Outcome.FAIL,
        [
            "x is not among the expected backends (a, b) but received 2 responses; a response from an "
            "unexpected backend fails.",
            "A misrouted response fails the check whatever the split.",
        ],
        "No successful responses: the test could detect nothing.",
    ),
    "three backends, off": (
        ({"a": 50, "b": 30, "c": 20}, {"a": 5300, "b": 2700, "c": 2000}, {}),
        Outcome.FAIL,
        [
            "a received 53.0% of responses (5300 of 10000); expected 50.0%, 3.0 points more "
            "(99.9% interval 51.4%..54.6%).",
            "b received 27.0% of responses (2700 of 10000); expected 30.0%, 3.0 points less "
            "(99.9% interval 25.6%..28.5%).",
            "p = 3.8e-11 <= alpha = 0.001: the split does not match the weights.",
        ],
        "At n=10000 and alpha=0.001 the test would detect a share for c below 17.9% or above 22.1% "
        "with 95% probability (expected 20.0%; noncentral chi-square approximation, moment-matched, "
        "other backends shifted in proportion).",
    ),
    "interrupted": (
        ({"a": 50, "b": 50}, {"a": 5, "b": 5}, {"complete": False}),
        Outcome.INCONCLUSIVE,
        [
            "a received 50.0% of responses (5 of 10); expected 50.0%, 0.0 points more "
            "(99.9% interval 7.7%..92.3%).",
            "interrupted after 10 answers, before the planned n: inconclusive, not a pass.",
        ],
        "At n=10 and alpha=0.001 the test could not detect any share for a with 95% probability "
        "(expected 50.0%; exact binomial acceptance region): too few responses.",
    ),
}


@pytest.mark.parametrize("case", list(SENTENCES))
def test_every_sentence_of_the_verdict(case: str) -> None:
    (expected, hits, kwargs), outcome, reasons, power = SENTENCES[case]
    v = judge(expected, hits, notes=("checked by lab",), **kwargs)  # type: ignore[arg-type]
    assert v.outcome is outcome
    assert list(v.reasons) == [*reasons, "checked by lab"]
    assert v.power == power


def test_to_dict_has_exactly_these_fields_and_values() -> None:
    v = judge(
        {"a": 50, "b": 50, "z": 0},
        {"a": 500, "b": 450},
        failed={"timeout": 30, "503": 20},
        max_failed_share=0.1,
        alpha=0.01,
    )
    assert v.passed and v.backend("z").hits == 0
    with pytest.raises(KeyError, match=r"^'nobody'$"):
        v.backend("nobody")
    data = v.to_dict()
    intervals = [b.pop("interval") for b in data["backends"]]
    assert intervals == [
        pytest.approx([0.48401440801869633, 0.5683497190303146], rel=1e-9),
        pytest.approx([0.43165028096968533, 0.5159855919813037], rel=1e-9),
        pytest.approx([0.0, 0.005561652600912678], rel=1e-9),
    ]
    detectable = data.pop("detectable")
    assert detectable == {
        "backend": "a",
        "probability": 0.95,
        "below": pytest.approx(0.43090410582065636, rel=1e-9),
        "above": pytest.approx(0.5690958941793436, rel=1e-9),
        "method": "exact binomial acceptance region",
    }
    assert data == {
        "schema_version": 1,
        "outcome": "pass",
        "test": "exact two-sided binomial test on a",
        "alpha": 0.01,
        "p_value": pytest.approx(0.11183864514157879, rel=1e-9),
        "n": 950,
        "failed": 50,
        "failed_by_cause": {"timeout": 30, "503": 20},
        "max_failed_share": 0.1,
        "backends": [
            {"name": "a", "weight": 50, "expected_share": 0.5, "observed_share": 500 / 950, "hits": 500},
            {"name": "b", "weight": 50, "expected_share": 0.5, "observed_share": 450 / 950, "hits": 450},
            {"name": "z", "weight": 0, "expected_share": 0.0, "observed_share": 0.0, "hits": 0},
        ],
        "reasons": [
            "50 of 1000 requests failed (5.0%; timeout 30, 503 20), counted apart from the split; the "
            "limit is 10.0%.",
            "a received 52.6% of responses (500 of 950); expected 50.0%, 2.6 points more (99% interval "
            "48.4%..56.8%).",
            "p = 0.11 > alpha = 0.01: the split is consistent with the weights.",
        ],
        "power": "At n=950 and alpha=0.01 the test would detect a share for a below 43.1% or above 56.9% "
        "with 95% probability (expected 50.0%; exact binomial acceptance region).",
        "sequential": None,
    }
    assert list(data["failed_by_cause"]) == ["timeout", "503"]  # in the order given
    assert judge({"a": 1}, {}).to_dict()["detectable"] is None


def test_outcomes_map_to_exit_codes() -> None:
    assert [o.exit_code for o in Outcome] == [ExitCode.OK, ExitCode.CHECK_FAILED, ExitCode.INCONCLUSIVE]
    assert [int(o.exit_code) for o in Outcome] == [0, 1, 6]
    assert [o.value for o in Outcome] == ["pass", "fail", "inconclusive"]


@pytest.mark.parametrize(
    ("hits", "culprit"),
    [
        ({"a": 4840, "b": 3030, "c": 2130}, "c"),  # c is 3.25 sd off, a (farther in points) 3.2 sd
        ({"a": 4980, "b": 3150, "c": 1870}, "b"),
        ({"a": 4970, "b": 3150, "c": 1880}, "b"),
    ],
)
def test_a_rejected_split_with_every_share_inside_its_interval_names_the_farthest_in_standard_deviations(
    hits: dict[str, int], culprit: str
) -> None:
    v = judge({"a": 50, "b": 30, "c": 20}, hits)
    assert v.outcome is Outcome.FAIL
    assert all(b.interval[0] <= b.expected_share <= b.interval[1] for b in v.backends)
    assert len(v.reasons) == 2 and v.reasons[0].startswith(f"{culprit} received ")


def test_a_p_value_equal_to_alpha_rejects_and_an_expected_share_on_an_interval_end_is_inside() -> None:
    """n=2 at alpha=0.5: p = 0.25 + 0.25 exactly, and the 50% intervals end exactly at 0.5."""
    v = judge({"a": 1, "b": 1}, {"a": 2, "b": 0}, alpha=0.5)
    assert v.p_value == 0.5 and v.outcome is Outcome.FAIL
    assert [b.interval for b in v.backends] == [(0.5, 1.0), (0.0, 0.5)]
    # neither interval excludes 0.5, so the first of the equally far backends is named
    assert [r.split(" received")[0] for r in v.reasons[:-1]] == ["a"]
    v = judge({"b": 1, "a": 1}, {"a": 2, "b": 0}, alpha=0.5)
    assert [r.split(" received")[0] for r in v.reasons[:-1]] == ["b"]


def test_too_many_failed_requests_with_one_weighted_backend() -> None:
    v = judge({"a": 1, "z": 0}, {"a": 100}, failed=5)
    assert v.outcome is Outcome.INCONCLUSIVE
    assert v.reasons == (
        "5 of 105 requests failed (4.8%), counted apart from the split; the limit is 1.0%.",
        "Failed requests are above the 1.0% limit, so the split cannot be judged: inconclusive, not a pass.",
    )


def test_no_answer_and_no_failure_is_inconclusive_with_no_test() -> None:
    v = judge({"a": 1, "b": 1}, {})
    assert v.outcome is Outcome.INCONCLUSIVE
    assert v.test == "none (no successful responses from a backend with weight above 0)"
    assert v.reasons == ("No successful responses: there is no split to judge.",)
    assert (v.p_value, v.detectable, v.n, v.failed) == (None, None, 0, 0)
    assert [b.observed_share for b in v.backends] == [0.0, 0.0]
    assert [b.interval for b in v.backends] == [(0.0, 1.0), (0.0, 1.0)]


def test_decide_in_order_misrouted_then_unjudgeable_then_the_test() -> None:
    from lab.stats.verdict import decide

    facts = {"misrouted": False, "answered": 10, "too_many_failed": False, "rejected": False}
    assert decide(**facts) is Outcome.PASS  # decided defaults to True
    assert decide(**{**facts, "rejected": True}) is Outcome.FAIL
    assert decide(**{**facts, "decided": False}) is Outcome.INCONCLUSIVE
    assert decide(**{**facts, "answered": 0}) is Outcome.INCONCLUSIVE
    assert decide(**{**facts, "too_many_failed": True, "rejected": True}) is Outcome.INCONCLUSIVE
    assert decide(**{**facts, "misrouted": True, "answered": 0, "decided": False}) is Outcome.FAIL
    unanswerable = {**facts, "too_many_failed": True, "decided": False, "unanswerable": True}
    assert decide(**unanswerable) is Outcome.FAIL


def test_the_one_backend_rule_carries_its_detectable_share() -> None:
    from lab.stats.power import detectable_zero_hit

    v = judge({"a": 1, "z": 0}, {"a": 100})
    assert v.detectable == detectable_zero_hit(100, 0.001, 0.95)
    assert v.p_value is None and v.test.startswith("any-hit rule")


def test_the_monte_carlo_verdict_restates_the_chi_square_detectable_shares() -> None:
    from lab.stats.power import detectable_chi_square

    v = judge({"a": 998, "b": 1, "c": 1}, {"a": 697, "b": 2, "c": 1})
    d = detectable_chi_square("b", 700, (0.998, 0.001, 0.001), 1, 0.001, 0.95)
    assert v.detectable is not None
    assert (v.detectable.backend, v.detectable.expected_share, v.detectable.n) == ("b", 0.001, 700)
    assert (v.detectable.alpha, v.detectable.probability) == (0.001, 0.95)
    assert (v.detectable.below, v.detectable.above) == (d.below, d.above) and d.above is not None
    assert v.detectable.method == multinomial.MONTE_CARLO_POWER
    # at alpha=0.5 a share below the expected one can be detected too
    v = judge({"a": 40, "b": 30, "c": 29, "d": 1}, {"a": 160, "b": 120, "c": 116, "d": 4}, alpha=0.5)
    d = detectable_chi_square("d", 400, (0.4, 0.3, 0.29, 0.01), 3, 0.5, 0.95)
    assert "Monte Carlo" in v.test and v.detectable is not None and d.below is not None
    assert (v.detectable.below, v.detectable.above) == (d.below, d.above)


def test_the_exact_three_way_verdict_states_its_own_power() -> None:
    v = judge({"a": 50, "b": 30, "c": 20}, {"a": 48, "b": 32, "c": 20})
    assert v.power == (
        "At n=100 and alpha=0.001 the test would detect a share for c below 3.5% or above 43.3% with 95% "
        "probability (expected 20.0%; exact multinomial rejection region, every outcome enumerated, other "
        "backends shifted in proportion)."
    )


def test_verdicts_are_exact_up_to_10_to_the_10_answers() -> None:
    from lab.stats import binomial

    assert binomial.MAX_EXACT_N == 10**10
    assert judge({"a": 1, "b": 1}, {"a": 5 * 10**9, "b": 5 * 10**9}).n == 10**10
    message = (
        "observed counts: 10000000001 responses in all; lab computes verdicts exactly up to 1e+10 responses\n"
        "  fix: judge the first 10^10 responses (or a random sample of them)"
    )
    with pytest.raises(InvalidInput, match=f"^{re.escape(message)}$"):
        judge({"a": 1, "b": 1}, {"a": 5 * 10**9, "b": 5 * 10**9 + 1})


def test_a_sequential_summary_is_kept_in_the_verdict_and_its_json() -> None:
    from lab.stats.verdict import backend_results, fixed_test, validate, verdict_of

    counts = validate({"a": 1, "b": 1}, {"a": 5, "b": 5}, 0, 0.001, 0.01)
    backends = backend_results(counts)
    v = verdict_of(counts, backends, fixed_test(counts, backends), sequential={"stop": "maximum n"})
    assert v.sequential == {"stop": "maximum n"}
    assert v.to_dict()["sequential"] == {"stop": "maximum n"}
    assert verdict_of(counts, backends, None).to_dict()["sequential"] is None


# -- a backend the plan knows cannot answer (issue 13: a dangling backendRef, v0.4.0 serves 503) --

BROKEN = {"echo-3": "ResolvedRefs=False (ServiceNotFound)"}


@pytest.mark.parametrize(
    ("hits", "failed"),
    [
        ({"echo-1": 990}, {"HTTP 503": 10}),  # at the failed-request limit
        ({"echo-1": 980}, {"HTTP 503": 20}),  # above it: still a fail, never inconclusive
        ({"echo-1": 3}, {}),  # too few answers for the test to reject
    ],
)
def test_a_backend_known_to_be_unable_to_answer_fails_naming_the_finding(
    hits: dict[str, int], failed: dict[str, int]
) -> None:
    v = judge({"echo-1": 99, "echo-3": 1}, hits, failed=failed, unanswerable=BROKEN)
    assert v.outcome is Outcome.FAIL and v.outcome.exit_code == ExitCode.CHECK_FAILED
    assert (
        "echo-3: ResolvedRefs=False (ServiceNotFound), known before the first request; its 1.0% of "
        "the requests is answered 503 apart from the split, so the split cannot match the weights."
    ) in v.reasons
    assert v.reasons[-2].startswith("Without the finding below: ")


def test_without_the_declaration_the_same_counts_are_inconclusive() -> None:
    v = judge({"echo-1": 99, "echo-3": 1}, {"echo-1": 980}, failed={"HTTP 503": 20})
    assert v.outcome is Outcome.INCONCLUSIVE


def test_a_declared_backend_that_answers_is_judged_as_usual() -> None:
    v = judge({"echo-1": 99, "echo-3": 1}, {"echo-1": 1179, "echo-3": 9}, unanswerable=BROKEN)
    assert v.outcome is Outcome.PASS
    assert not any("cannot match" in r for r in v.reasons)


def test_an_unanswerable_backend_must_be_a_weighted_expected_one() -> None:
    with pytest.raises(InvalidInput, match="echo-9"):
        judge({"echo-1": 99, "echo-3": 1}, {"echo-1": 10}, unanswerable={"echo-9": "x"})
