"""Command line: ``python -m seqot demo`` (also installed as ``seqot``)."""

from __future__ import annotations

import argparse
import sys


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="seqot", description="Optimal transport for sequences: demos and tools."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p_demo = sub.add_parser(
        "demo", help="run every method on bundled real data and synthetic reproductions"
    )
    p_demo.add_argument("--quick", action="store_true", help="fewer episodes/iterations")
    p_demo.add_argument("--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    if args.command == "demo":
        from ._demo import run_demo

        run_demo(quick=args.quick, verbose=not args.quiet, out=sys.stdout)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
