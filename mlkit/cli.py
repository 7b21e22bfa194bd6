"""The ``mlkit`` command: ``info``, ``run``, ``report``, ``demo``, ``doctor``, ``workshop``."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

__all__ = ["main", "parse_parameters"]


def _parse_value(raw: str, default: Any) -> Any:
    """Turn a ``-p`` string into the type of the parameter's default."""
    if isinstance(default, str):
        return raw
    if isinstance(default, list) and not raw.lstrip().startswith("["):
        return [item.strip() for item in raw.split(",") if item.strip()]
    try:
        return yaml.safe_load(raw)
    except yaml.YAMLError:
        return raw


def parse_parameters(pairs: Sequence[str], params_file: str | None, declared: dict[str, Any]) -> dict[str, Any]:
    """Merge ``-f params.yaml`` and ``-p key=value`` pairs (the latter win)."""
    params: dict[str, Any] = {}
    if params_file:
        path = Path(params_file)
        if not path.is_file():
            raise FileNotFoundError(f"parameters file {path} does not exist")
        loaded = yaml.safe_load(path.read_text()) or {}
        if not isinstance(loaded, dict):
            raise ValueError(f"parameters file {path} must hold a mapping of name: value")
        params.update(loaded)
    for pair in pairs:
        if "=" not in pair:
            raise ValueError(f"-p expects key=value, got {pair!r}")
        key, raw = pair.split("=", 1)
        key = key.strip()
        params[key] = _parse_value(raw, declared.get(key))
    return params


def _cmd_info(args: argparse.Namespace) -> int:
    from .compute import SchedulerUnreachableError, shutdown
    from .info import environment_report, format_report

    try:
        report = environment_report(start_cluster=not args.no_cluster)
    except SchedulerUnreachableError as exc:
        print(f"mlkit info: {exc}", file=sys.stderr)
        return 2
    finally:
        shutdown()
    print(json.dumps(report, indent=2) if args.json else format_report(report))
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from .export import export_html
    from .notebook import notebook_parameters, run

    params = parse_parameters(args.parameter, args.file, notebook_parameters(args.notebook))
    result = run(args.notebook, profile=args.profile, parameters=params, output=args.output,
                 timeout=args.timeout, progress=True)
    print(f"executed {result.notebook.name} in {result.seconds:.1f} s -> {result.output_path}")
    if args.html:
        print(f"html: {export_html(result.output_path)}")
    for name, value in result.records.items():
        print(f"  {name} = {json.dumps(value)}")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from .notebook import notebook_parameters
    from .report import find_report, render

    path = find_report(args.name)
    params = parse_parameters(args.parameter, args.file, notebook_parameters(path))
    result = render(args.name, params, profile=args.profile, out_dir=args.output_dir,
                    timeout=args.timeout, progress=True)
    print(f"report {result.name}: {result.html_path} ({result.seconds:.1f} s)")
    print(f"summary: {result.json_path}")
    failed = [gate for gate in args.fail_on if result.gates.get(gate)]
    unknown = [gate for gate in args.fail_on if gate not in result.gates]
    if unknown:
        print(f"mlkit report: --fail-on {', '.join(unknown)}: the report records no such gate "
              f"(it records: {', '.join(result.gates) or 'none'})", file=sys.stderr)
        return 2
    if failed:
        print(f"mlkit report: failing on {', '.join(failed)}", file=sys.stderr)
        return 3
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from .site import build_demo

    entries = build_demo(profile=args.profile, out_dir=args.out, only=args.only or None)
    failed = [e for e in entries if e.status != "ok"]
    index = Path(args.out or "build") / "index.html"
    print(f"\nmlkit demo: {len(entries) - len(failed)} of {len(entries)} ran; open {index}")
    for e in failed:
        print(f"  FAILED {e.name}: {e.error}", file=sys.stderr)
    return 1 if failed or not entries else 0


def _cmd_doctor(args: argparse.Namespace) -> int:
    from .doctor import format_checks, run_checks

    checks = run_checks()
    print(format_checks(checks, as_json=args.json))
    return 1 if any(c.status == "fail" for c in checks) else 0


def _cmd_workshop(args: argparse.Namespace) -> int:
    from .workshop import prepare

    written = prepare(args.dir, force=args.force)
    print(f"wrote {len(written)} student notebooks (solutions emptied) to {args.dir}")
    for path in written:
        print(f"  {path.name}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mlkit", description="mlkit-suite command line")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("info", help="versions, cores, memory, GPU, cluster and paths")
    p.add_argument("--no-cluster", action="store_true", help="do not start or contact a cluster")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_cmd_info)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("-p", "--parameter", action="append", default=[], metavar="KEY=VALUE")
        p.add_argument("-f", "--file", help="YAML file of parameters")
        p.add_argument("--profile", choices=["smoke", "ci", "workshop", "full"])
        p.add_argument("--timeout", type=float, default=1800, help="per-cell timeout in seconds")

    p = sub.add_parser("run", help="execute a notebook with papermill and print its records")
    p.add_argument("notebook")
    p.add_argument("-o", "--output", help="executed notebook path")
    p.add_argument("--html", action="store_true", help="also export offline HTML")
    common(p)
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser("report", help="render a report from reports/ to offline HTML + JSON")
    p.add_argument("name")
    p.add_argument("-o", "--output-dir", help="output folder (default build/reports)")
    p.add_argument("--fail-on", action="append", default=[], metavar="GATE",
                   help="exit 3 when the report's recorded gate is true (e.g. violation)")
    common(p)
    p.set_defaults(func=_cmd_report)

    p = sub.add_parser("demo", help="run the notebook series and reports, write build/index.html")
    p.add_argument("--profile", default="workshop", choices=["smoke", "ci", "workshop", "full"])
    p.add_argument("--out", help="output folder (default build/)")
    p.add_argument("--only", nargs="*", help="names of notebooks/reports to run")
    p.set_defaults(func=_cmd_demo)

    p = sub.add_parser("doctor", help="check this machine for the workshop and print fixes")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_doctor)

    p = sub.add_parser("workshop", help="workshop tools")
    wsub = p.add_subparsers(dest="action", required=True)
    w = wsub.add_parser("prepare", help="write student copies of the notebooks with solutions emptied")
    w.add_argument("dir")
    w.add_argument("--force", action="store_true", help="write into a non-empty folder")
    w.set_defaults(func=_cmd_workshop)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from .notebook import NotebookExecutionError, ParameterError

    try:
        return args.func(args)
    except (ParameterError, FileNotFoundError, FileExistsError, ValueError, NotebookExecutionError) as exc:
        print(f"mlkit {args.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
