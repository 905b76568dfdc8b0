"""``onshore pii``: detect Korean personal data in text from a file or stdin.

Heavy imports happen inside the command so ``onshore --help`` stays fast.
"""

from __future__ import annotations

import json
import sys
from typing import IO, TYPE_CHECKING, NoReturn

import click

from onshore.cli.common import Group

if TYPE_CHECKING:
    from onshore.pii import Detector, Finding


@click.group(name="pii", cls=Group)
def pii() -> None:
    """Detect Korean personal data in text."""


@pii.command(name="scan")
@click.argument("file", required=False, type=click.Path(dir_okay=False, allow_dash=True))
@click.option(
    "--json", "as_json", is_flag=True, help='Print a JSON list of {"type","start","end","confidence"}.'
)
@click.option(
    "--jsonl", "as_jsonl", is_flag=True, help='Read lines {"id","text"}; write {"id","findings"} per line.'
)
@click.option(
    "--type", "types", multiple=True, metavar="TYPE", help="Only report this entity type (repeatable)."
)
@click.option("--min-confidence", type=click.FloatRange(0.0, 1.0), default=0.5, show_default=True)
def scan(
    file: str | None, as_json: bool, as_jsonl: bool, types: tuple[str, ...], min_confidence: float
) -> None:
    """Scan FILE (stdin when omitted or '-') and print the findings.

    The default output is one line per finding with the matched text, for a human reader; --json
    and --jsonl print spans only.
    """
    from onshore.pii import Detector, EntityType  # noqa: PLC0415 - keep `onshore --help` light

    if as_json and as_jsonl:
        raise click.UsageError("--json and --jsonl are exclusive")
    try:
        chosen = [EntityType(t.upper()) for t in types] or None
    except ValueError as exc:
        valid = ", ".join(e.value for e in EntityType)
        raise click.UsageError(f"unknown entity type ({valid})") from exc
    detector = Detector(chosen, min_confidence)
    stream = _open(file)
    try:
        if as_jsonl:
            _scan_jsonl(detector, stream)
            return
        text = stream.read()
    except UnicodeDecodeError:
        _fail("input is not valid UTF-8")
    finally:
        if stream is not sys.stdin:
            stream.close()
    findings = detector.scan(text)
    if as_json:
        click.echo(json.dumps([f.to_dict() for f in findings], ensure_ascii=False))
        return
    _print_human(text, findings)


def _open(file: str | None) -> IO[str]:
    if file is None or file == "-":
        return sys.stdin
    try:
        return open(file, encoding="utf-8")
    except OSError as exc:
        _fail(f"cannot read {file}: {exc.strerror or 'error'}")


def _scan_jsonl(detector: Detector, stream: IO[str]) -> None:
    for number, line in enumerate(stream, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            _fail(f"line {number}: not valid JSON")
        if not isinstance(record, dict) or not isinstance(record.get("text"), str) or "id" not in record:
            _fail(f'line {number}: expected an object with "id" and a string "text"')
        findings = detector.scan(record["text"])
        out = {"id": record["id"], "findings": [f.to_dict() for f in findings]}
        click.echo(json.dumps(out, ensure_ascii=False))


def _print_human(text: str, findings: list[Finding]) -> None:
    if not findings:
        click.echo("no personal data found")
        return
    for f in findings:
        line = text.count("\n", 0, f.start) + 1
        value = text[f.start : f.end].replace("\n", "\\n")
        click.echo(
            f"{f.type.value:<18} {f.start:>7}-{f.end:<7} line {line:<5} conf {f.confidence:.2f}  {value}"
        )
    click.echo(f"{len(findings)} finding(s)")


def _fail(message: str) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(1)
