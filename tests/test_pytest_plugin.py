"""The pytest plugin through pytester: generated checks, failures with the verdict table, the fixture."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytest_plugins = ["pytester"]


@pytest.fixture
def lab_project(pytester: pytest.Pytester) -> pytest.Pytester:
    for name in ("manifests", "charts-values"):
        shutil.copytree(ROOT / name, pytester.path / name)
    (pytester.path / "scenarios").mkdir()
    shutil.copy(ROOT / "scenarios" / "canary_99_1.py", pytester.path / "scenarios")
    return pytester


def run(p: pytest.Pytester, *args: str) -> pytest.RunResult:
    return p.runpytest_subprocess(
        "-p", "no:cacheprovider", "--lab-engine=local", "--lab-dir", str(p.path), *args
    )


def test_a_scenario_file_is_its_split_check(lab_project: pytest.Pytester) -> None:
    result = run(lab_project, "scenarios/canary_99_1.py", "-v")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*scenarios/canary_99_1.py::split_check?canary-99-1? PASSED*"])


def test_a_wrong_expectation_fails_with_the_verdict_table(lab_project: pytest.Pytester) -> None:
    (lab_project.path / "scenarios" / "wrong_expectation.py").write_text(
        "from lab import Scenario, Traffic\n"
        "SCENARIO = Scenario(name='wrong-expectation', summary='expects 50/50 from the 99/1 routes',\n"
        "    manifests=('routes/canary-99-1.yaml',),\n"
        "    traffic=(Traffic(path='/echo', expect={'echo-1': 50, 'echo-2': 50}, requests=400),))\n"
    )
    result = run(lab_project, "scenarios/")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*split check wrong-expectation / wrong-expectation / default:*",
            "*backend*weight*expected*observed*interval*hits*",
            "*echo-2*50*50.0%*",
            "*verdict: FAIL*",
        ]
    )


def test_a_lab_that_cannot_start_is_not_a_split_mismatch(lab_project: pytest.Pytester) -> None:
    result = lab_project.runpytest_subprocess(
        "-p", "no:cacheprovider", "--lab-engine=kind", "--lab-dir", str(lab_project.path), "scenarios/"
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*lab not ready for canary-99-1*the split was not judged*"])
    assert "verdict:" not in result.stdout.str()


def test_module_test_functions_get_the_running_lab(lab_project: pytest.Pytester) -> None:
    with (lab_project.path / "scenarios" / "canary_99_1.py").open("a") as fh:
        fh.write(
            "\n\ndef test_through_the_gateway(lab):\n"
            "    import requests\n"
            "    answer = requests.get(lab.url('/echo'), verify=lab.ca_file, timeout=5)\n"
            "    assert 'Hostname: echo-' in answer.text\n"
            "    assert sum(lab.traffic('/echo', requests=30).hits.values()) == 30\n"
        )
    result = run(lab_project, "scenarios/canary_99_1.py", "-v")
    result.assert_outcomes(passed=2)


def test_junitxml_has_one_case_per_check(lab_project: pytest.Pytester) -> None:
    shutil.copy(ROOT / "scenarios" / "header_canary.py", lab_project.path / "scenarios")
    report = lab_project.path / "out.xml"
    # the fixed-n test computes p-values (the sequential check, the default, has none to record)
    result = run(lab_project, "scenarios/", f"--junitxml={report}", "--lab-fixed")
    result.assert_outcomes(passed=3)
    xml = report.read_text()
    assert xml.count("<testcase") == 3
    # every check records its verdict; the p-value only where a test computed one (the 100/0
    # class of header-canary is judged by the any-hit rule, which has none)
    assert xml.count('<property name="verdict" value="pass"') == 3
    assert xml.count('<property name="p_value"') == 2
    assert 'value="None"' not in xml


def test_a_crash_in_lab_is_reported_as_a_bug_not_a_split_mismatch(lab_project: pytest.Pytester) -> None:
    lab_project.makeconftest(
        "import lab.session\n"
        "def _boom(*args, **kwargs):\n"
        "    raise RuntimeError('forced internal error')\n"
        "lab.session.check_traffic = _boom\n"
    )
    result = run(lab_project, "scenarios/canary_99_1.py")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*lab crashed while checking canary-99-1*this is a bug in lab, not a split mismatch*",
         "*RuntimeError: forced internal error*"]
    )  # fmt: skip
    assert "verdict:" not in result.stdout.str()
