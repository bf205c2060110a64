"""`lab judge` and `lab sample-size` through click's CliRunner: exit codes and output."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from lab.ui.cli import cli
from tests.memory import CLI, peak_kb

EXPECT = "echo-1=99,echo-2=1"


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


def test_the_blogs_numbers_pass() -> None:
    code, out = run("judge", "--expect", EXPECT, "--observed", "echo-1=1179,echo-2=9")
    assert code == 0, out
    assert "verdict: PASS" in out
    assert "exact two-sided binomial test on echo-2" in out
    assert "p-value: 0.557" in out
    assert "99.9% interval" in out and "0.19%..2.0%" in out
    assert "would detect a share for echo-2 below" in out


def test_a_7_percent_canary_fails() -> None:
    code, out = run("judge", "--expect", EXPECT, "--observed", "echo-1=1100,echo-2=88")
    assert code == 1, out
    assert "verdict: FAIL" in out
    assert "echo-2 received 7.4% of responses" in out


def test_an_even_split_passes() -> None:
    code, out = run("judge", "--expect", "echo-1=50,echo-2=50", "--observed", "echo-1=500,echo-2=500")
    assert code == 0, out


def test_a_hit_on_a_weight_0_backend_fails() -> None:
    code, out = run(
        "judge",
        "--expect",
        "echo-1=50,echo-2=50,echo-3=0",
        "--observed",
        "echo-1=500,echo-2=500,echo-3=1",
    )
    assert code == 1, out
    assert "echo-3 has weight 0 but received 1 response" in out


def test_five_percent_failed_requests_is_inconclusive() -> None:
    code, out = run("judge", "--expect", EXPECT, "--observed", "echo-1=1131,echo-2=9", "--failed", "60")
    assert code == 6, out
    assert "verdict: INCONCLUSIVE" in out


def test_failed_requests_by_cause() -> None:
    code, out = run(
        "judge",
        "--expect",
        EXPECT,
        "--observed",
        "echo-1=1131,echo-2=9",
        "--failed",
        "timeout=40,http-503=20",
    )
    assert code == 6, out
    assert "timeout 40, http-503 20" in out


def test_json_output_carries_the_verdict() -> None:
    code, out = run("judge", "--expect", EXPECT, "--observed", "echo-1=1179,echo-2=9", "--output", "json")
    assert code == 0, out
    data = json.loads(out)
    assert data["outcome"] == "pass"
    assert data["test"].startswith("exact two-sided binomial test")
    assert data["p_value"] == pytest.approx(0.557, abs=0.001)
    echo2 = data["backends"][1]
    assert (echo2["expected_share"], echo2["hits"]) == (0.01, 9)
    assert echo2["observed_share"] == pytest.approx(9 / 1188)
    assert echo2["interval"][0] < 0.01 < echo2["interval"][1]
    assert data["power"].startswith("At n=1188")


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--expect", "echo-1=-1,echo-2=1", "--expect: echo-1 must not be negative"),
        ("--expect", "echo-1", "--expect: expected name=count, got 'echo-1'"),
        ("--expect", "echo-1=1.5,echo-2=1", "--expect: echo-1 must be a whole number"),
        ("--expect", "echo-1=0,echo-2=0", "at least one backend needs a weight above 0"),
        ("--observed", "echo-1=many", "--observed: echo-1 must be a whole number"),
        ("--observed", "echo-1=3,echo-1=4", "--observed: echo-1 is given twice"),
    ],
)
def test_malformed_counts_exit_3_naming_the_option(option: str, value: str, message: str) -> None:
    args = {"--expect": EXPECT, "--observed": "echo-1=1179,echo-2=9", option: value}
    code, out = run("judge", *[part for pair in args.items() for part in pair])
    assert code == 3, out
    assert message in out


def test_bad_alpha_exits_3() -> None:
    code, out = run("judge", "--expect", EXPECT, "--observed", "echo-1=1179,echo-2=9", "--alpha", "1.5")
    assert code == 3, out
    assert "alpha must be strictly between 0 and 1" in out


def test_sample_size_for_99_1() -> None:
    code, out = run(
        "sample-size", "--expect", "99,1", "--detect", "0.03", "--power", "0.95", "--alpha", "0.001"
    )
    assert code == 0, out
    first, sentence = out.strip().splitlines()
    assert first == "757"
    assert sentence.startswith("757 successful responses")


def test_sample_size_accepts_names_and_rejects_junk() -> None:
    assert run("sample-size", "--expect", "echo-1=99,echo-2=1")[1].splitlines()[0] == "757"
    code, out = run("sample-size", "--expect", "99,x")
    assert code == 3, out


@pytest.mark.parametrize(
    "args",
    [
        ("judge", "--expect", "50,50", "--observed", "500000000,500000000"),
        ("judge", "--expect", "99,1", "--observed", "990000000,10000000"),
        ("sample-size", "--expect", "50,50", "--detect", "0.002"),
        # three backends: Pearson's test and its power (scipy.special, not scipy.stats: ~50 MB less)
        ("judge", "--expect", "50,30,20", "--observed", "500000000,300000000,200000000"),
        ("sample-size", "--expect", "50,30,20", "--detect", "0.002"),
        # small n: the planner enumerates the exact test's outcomes at each n it tries (~5 MB each)
        ("sample-size", "--expect", "50,30,20", "--detect", "0.1"),
    ],
)
def test_a_billion_responses_fit_in_100_mb(args: tuple[str, ...]) -> None:
    peak, out = peak_kb(CLI, *args)
    assert "exit 0" in out, out
    assert peak < 100 * 1024, (peak, out)


def test_a_billion_responses_get_a_sharp_power_sentence() -> None:
    code, out = run("judge", "--expect", "50,50", "--observed", "500000000,500000000")
    assert code == 0, out
    assert "below 49.99" in out and "above 50.00" in out  # digits enough to see the shift


def test_counts_beyond_exact_computation_exit_3_saying_so() -> None:
    code, out = run("judge", "--expect", "50,50", "--observed", "10000000000000000000000,1")
    assert code == 3, out
    assert "exactly up to 1e+10 responses" in out


def test_bare_and_named_lists_do_not_mix() -> None:
    code, out = run("judge", "--expect", "echo-1=50,echo-2=50", "--observed", "500,500")
    assert code == 3, out
    assert "both name the backends or both be bare" in out


def test_sample_size_sequential_prints_max_n_and_expected_answers() -> None:
    code, out = run("sample-size", "--expect", "99,1", "--sequential")
    assert code == 0, out
    first = out.splitlines()[0]
    from lab.stats.sequential_check import SequentialCheck

    check = SequentialCheck({"a": 99, "b": 1}, detect=0.03)
    assert check.design is not None and int(first) == check.n_max
    assert "the fixed-n test needs 757" in out
    assert f"{check.design.expected_at(0.01):.0f} at the weights" in out
    assert "at 0.0%" in out and "at 4.0%" in out and "if backend-2 gets nothing" in out
    assert "false-fail rate" in out


def test_sample_size_sequential_with_three_backends_says_fixed_n() -> None:
    code, out = run("sample-size", "--expect", "50,30,20", "--sequential")
    assert code == 0, out
    assert out.splitlines()[0] == "5063"
    assert "the sequential design covers two" in out


@pytest.mark.parametrize("command", [("judge", "--observed", "990,10"), ("sample-size",), ("sample-size", "--sequential")])
def test_bad_alpha_exits_3_everywhere(command: tuple[str, ...]) -> None:
    code, out = run(*command[:1], "--expect", "99,1", *command[1:], "--alpha", "0")
    assert code == 3, out
    assert "alpha must be strictly between 0 and 1" in out


def test_a_sequential_design_too_large_to_compute_points_to_the_fixed_n_figure() -> None:
    code, out = run("sample-size", "--expect", "99,1", "--detect", "0.001", "--sequential")
    assert code == 3, out
    assert "more than 100000 answers (the fixed-n test needs 251386)" in out
    assert "lab sample-size without --sequential" in out  # sample-size has no --fixed
