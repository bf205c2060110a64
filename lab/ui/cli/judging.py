"""Judging counts from anywhere: `lab judge` and `lab sample-size`."""

from __future__ import annotations

import json

import click

from lab.errors import InvalidInput
from lab.ui.cli.app import cli, console


def _parse_pairs(text: str, option: str, *, allow_bare: bool = False) -> dict[str, int]:
    """Parse `name=int,name=int` (or, with allow_bare, `int,int`) for `option`."""
    result: dict[str, int] = {}
    items = [item.strip() for item in text.split(",")]
    bare = allow_bare and _is_bare(text)
    for position, item in enumerate(items, start=1):
        name, sep, value = item.partition("=")
        if bare:
            name, value = f"backend-{position}", item
        elif not sep or not name.strip():
            raise InvalidInput(
                f"{option}: expected name=count, got {item!r}",
                fix=f"write {option} like echo-1=99,echo-2=1",
            )
        name = name.strip()
        try:
            number = int(value.strip())
        except ValueError:
            raise InvalidInput(
                f"{option}: {name} must be a whole number, got {value.strip()!r}",
                fix=f"write {option} like echo-1=99,echo-2=1",
            ) from None
        if number < 0:
            raise InvalidInput(f"{option}: {name} must not be negative, got {number}")
        if name in result:
            raise InvalidInput(f"{option}: {name} is given twice")
        result[name] = number
    return result


def _is_bare(text: str) -> bool:
    return all(item.strip().lstrip("+-").isdigit() for item in text.split(","))


def _parse_failed(text: str) -> int | dict[str, int]:
    try:
        number = int(text)
    except ValueError:
        return _parse_pairs(text, "--failed")
    if number < 0:
        raise InvalidInput(f"--failed must not be negative, got {number}")
    return number


@cli.command()
@click.option("--expect", required=True, help="Weights per backend: echo-1=99,echo-2=1 (or 99,1).")
@click.option("--observed", required=True, help="Successful responses: echo-1=1179,echo-2=9 (or 1179,9).")
@click.option(
    "--failed",
    default="0",
    show_default=True,
    help="Failed requests, counted apart: a number, or per cause (timeout=3,http-503=2).",
)
@click.option("--alpha", type=float, default=0.001, show_default=True, help="False-fail rate.")
@click.option(
    "--max-failed-share",
    type=float,
    default=0.01,
    show_default=True,
    help="Above this share of failed requests the verdict is inconclusive.",
)
@click.option("--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
def judge(
    expect: str, observed: str, failed: str, alpha: float, max_failed_share: float, output: str
) -> None:
    """Judge observed counts against weights: exit 0 pass, 1 fail, 6 inconclusive."""
    from lab.stats.verdict import judge as judge_split
    from lab.ui.report import render_verdict

    weights = _parse_pairs(expect, "--expect", allow_bare=True)
    counts = _parse_pairs(observed, "--observed", allow_bare=True)
    if _is_bare(expect) != _is_bare(observed):
        raise InvalidInput(
            "--expect and --observed must both name the backends or both be bare lists",
            fix="write --expect 99,1 --observed 990,10, or --expect a=99,b=1 --observed a=990,b=10",
        )
    verdict = judge_split(
        weights,
        counts,
        failed=_parse_failed(failed),
        alpha=alpha,
        max_failed_share=max_failed_share,
    )
    if output == "json":
        click.echo(json.dumps(verdict.to_dict(), indent=2))
    else:
        render_verdict(verdict, console())
    raise click.exceptions.Exit(int(verdict.outcome.exit_code))


@cli.command("sample-size")
@click.option("--expect", required=True, help="Weights: 99,1 or echo-1=99,echo-2=1.")
@click.option("--detect", type=float, default=0.03, show_default=True, help="Absolute shift.")
@click.option("--power", type=float, default=0.95, show_default=True, help="Detection rate.")
@click.option("--alpha", type=float, default=0.001, show_default=True, help="False-fail rate.")
@click.option(
    "--sequential",
    is_flag=True,
    help="The sequential check instead: its maximum n (first line), expected answers, exact figures.",
)
def sample_size(expect: str, detect: float, power: float, alpha: float, sequential: bool) -> None:
    """Print the successful responses needed to detect a shift of the smallest share."""
    from lab.stats.power import required_sample_size, sample_size_sentence

    weights = _parse_pairs(expect, "--expect", allow_bare=True)
    n = required_sample_size(weights, detect=detect, power=power, alpha=alpha)
    if sequential:
        from lab.stats.sequential_check import THREE_OR_MORE, SequentialCheck, covers, plan_sentences

        if covers(weights):
            check = SequentialCheck(weights, detect=detect, power=power, alpha=alpha)
            click.echo(str(check.n_max))
            click.echo("\n".join(plan_sentences(check)))
            return
        click.echo(str(n))
        click.echo(THREE_OR_MORE)
    else:
        click.echo(str(n))
    click.echo(sample_size_sentence(weights, n, detect=detect, power=power, alpha=alpha))


