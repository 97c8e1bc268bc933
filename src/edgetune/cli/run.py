"""``edgetune run``: any engine from an experiment file; ``--resume`` finishes an interrupted run.

The file is a run spec in TOML (docs/runs.md): ``[run]`` engine / policy / epochs / seed, ``[fleet]``,
and any other section; every key it omits takes its documented default. ``--set SECTION.KEY=VALUE``
overrides a key. The output folder receives ``spec.toml`` (resolved), ``fleet.yaml``, ``record.json``
and ``epochs.jsonl`` as the run goes; ``edgetune run DIR/spec.toml --out OTHER`` replays the run.

Exit codes: 0 complete, 1 failed (engine or northbound API), 2 bad input, 130 interrupted.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    """Add ``run``."""
    p = sub.add_parser(
        "run",
        help="run an experiment file on any engine (simulated | inprocess | ...); --resume DIR continues one",
        description="Run the experiment described by a TOML run spec and stream it into a run folder "
        "(record.json, spec.toml, fleet.yaml, epochs.jsonl, epochs.csv, checkpoint/).",
    )
    p.add_argument("experiment", nargs="?", help="experiment file (TOML run spec), e.g. DIR/spec.toml to replay")
    p.add_argument("--out", help="output folder (default runs/<experiment file name>)")
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="override one setting (repeatable), e.g. --set run.epochs=5",
    )
    p.add_argument("--resume", metavar="DIR", help="finish the interrupted run in this run folder")
    p.add_argument("--tensorboard", action="store_true", help="also write TensorBoard scalars (DIR/tensorboard)")
    p.add_argument("--dashboard", action="store_true", help="serve the live dashboard of this run on 127.0.0.1")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=_run)


def _default_out(experiment: Path) -> Path:
    stem = experiment.parent.name if experiment.name == "spec.toml" else experiment.stem
    return Path("runs") / (stem or "run")


def _run(args: argparse.Namespace) -> int:
    from edgetune.errors import InputError
    from edgetune.runs.execute import resume, run_any
    from edgetune.runs.spec import load_spec

    if args.resume is not None:
        if args.experiment is not None or args.overrides:
            raise InputError("--resume", args.resume, "give either an experiment file or --resume DIR, not both")
        return _finish(
            lambda progress: resume(args.resume, progress=progress, tensorboard=args.tensorboard),
            args,
            None,
            Path(args.resume),
        )
    if args.experiment is None:
        raise InputError("experiment", "", "give an experiment file (or --resume DIR)")
    exp = Path(args.experiment)
    spec, base_dir = load_spec(exp, args.overrides)
    out = Path(args.out) if args.out else _default_out(exp)
    from edgetune.io import check_output

    check_output(out, "--out", folder=True)
    if out.resolve() == exp.resolve().parent and (out / "record.json").exists():
        raise InputError("--out", str(out), "is the folder of the run being replayed; choose another --out")
    return _finish(
        lambda progress: run_any(spec, out, base_dir=base_dir, progress=progress, tensorboard=args.tensorboard),
        args,
        spec.run.epochs,
        out,
    )


def _finish(go: Any, args: argparse.Namespace, epochs: int | None, out: Path) -> int:
    from tqdm import tqdm

    from edgetune.runs.execute import RunFailed

    dash = None
    if args.dashboard:
        dash = _start_dashboard(out)
    bar = tqdm(total=epochs, desc="run", unit="epoch", disable=True, leave=False, file=sys.stderr)

    def progress(ep: Any) -> None:
        nonlocal bar
        if bar.disable and not args.quiet:  # drawn from the first epoch on: bad input stays one line
            bar = tqdm(total=epochs, desc="run", unit="epoch", leave=False, file=sys.stderr)
        bar.update(1)
        bar.set_postfix(active=len(ep.active), loss="-" if ep.loss is None else f"{ep.loss:.3f}")

    completed = False
    try:
        record = go(progress)
        completed = True
    except KeyboardInterrupt:
        bar.close()
        print(
            f"edgetune: interrupted; partial record in {out / 'record.json'}; continue with "
            f"`edgetune run --resume {out}`",
            file=sys.stderr,
        )
        return 130
    except RunFailed as exc:
        bar.close()
        print(f"edgetune: run failed: {exc}; partial record in {out / 'record.json'}", file=sys.stderr)
        return 1
    finally:
        if dash is not None and not (completed and sys.stdin.isatty()):
            dash.stop()
    bar.close()
    if not args.quiet:
        print(
            f"{record.policy}: {len(record.nodes)} nodes, {len(record.epochs)} epochs, completion "
            f"{record.completion_time_s:,.1f} {record.time_base} s, energy {record.energy.get('total_j', 0):,.0f} J"
        )
        print(f"wrote {out}")
    if dash is not None and sys.stdin.isatty():  # at a terminal the page stays up for a look at the end
        print(f"dashboard: still serving {dash.url}; Ctrl-C stops it", file=sys.stderr)
        try:
            dash.wait()
        except KeyboardInterrupt:
            pass
        finally:
            dash.stop()
    return 0


def _start_dashboard(out: Path) -> Any:
    try:
        from edgetune.dashboard.server import start_dashboard
    except ImportError:
        from edgetune.errors import InputError

        raise InputError("--dashboard", True, "the dashboard is not installed in this version") from None
    out.mkdir(parents=True, exist_ok=True)
    dash = start_dashboard([out], check=False)  # the run writes record.json and fleet.yaml after this
    print(f"dashboard: {dash.url}", file=sys.stderr)
    return dash
