"""``python -m edgetune.flower.supernode_launch --poll-s S -- ARGS``: Flower's SuperNode, fixed waits shortened.

Runs Flower 1.41's own ``flower-supernode`` entry point (``flwr.supernode.cli.flower_supernode``)
unchanged, with ``ARGS`` as its command line, after :func:`edgetune.flower.polls.apply` capped the
waits Flower writes into its SuperNode loop at ``S`` seconds (the 3 s sleep after an empty pull, the
0.5 s steps waiting for the reply) and made object pulls retry after ``S`` instead of 1 s. See
:mod:`edgetune.flower.polls` for exactly what is patched and why. ``S`` is the run spec's
``[flower] supernode_poll_s``.
"""

from __future__ import annotations

import argparse
import sys

from edgetune.flower.polls import MAX_POLL_S, MIN_POLL_S, apply, check_poll_s


def command(python: str, poll_s: float, supernode_args: list[str]) -> list[str]:
    """The command line that starts a SuperNode through this launcher."""
    return [python, "-m", "edgetune.flower.supernode_launch", "--poll-s", repr(float(poll_s)), "--", *supernode_args]


def main(argv: list[str] | None = None) -> int:
    """Patch the waits, then hand the rest of the command line to ``flower_supernode()``."""
    args = sys.argv[1:] if argv is None else list(argv)
    rest: list[str] = []
    if "--" in args:
        cut = args.index("--")
        args, rest = args[:cut], args[cut + 1 :]
    ap = argparse.ArgumentParser(prog="edgetune.flower.supernode_launch", description=__doc__.split("\n\n")[0])
    ap.add_argument("--poll-s", type=float, required=True, help=f"longest fixed wait, [{MIN_POLL_S}, {MAX_POLL_S}] s")
    ns = ap.parse_args(args)
    try:
        poll_s = check_poll_s(ns.poll_s)
    except ValueError as exc:
        print(f"edgetune: error: --poll-s={ns.poll_s}: {exc}", file=sys.stderr)
        return 2
    apply(poll_s, supernode=True)
    from flwr.supernode.cli.flower_supernode import flower_supernode

    sys.argv = ["flower-supernode", *rest]
    flower_supernode()
    return 0


if __name__ == "__main__":
    sys.exit(main())
