"""`python -m benchmarks run [NAME...] [--smoke] [--no-write]`."""

from __future__ import annotations

import argparse
import sys

from benchmarks.harness import REGISTRY, ordered, run


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    sub = parser.add_subparsers(dest="command", required=True)
    run_p = sub.add_parser("run", help="run benchmarks and regenerate docs/benchmarks.md")
    run_p.add_argument("names", nargs="*", help="benchmarks to run (default: all)")
    run_p.add_argument(
        "--smoke", action="store_true", help="tiny sizes; checks the suite runs, writes nothing"
    )
    run_p.add_argument("--no-write", action="store_true", help="print only")
    sub.add_parser("list", help="list benchmarks")
    args = parser.parse_args()
    if args.command == "list":
        for name in ordered():
            print(f"{name}\t{REGISTRY[name].title}")
        return 0
    return run(args.names, smoke=args.smoke, write=not args.no_write)


if __name__ == "__main__":
    sys.exit(main())
