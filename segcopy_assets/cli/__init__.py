"""The ``segcopy`` command: run the pipeline, make sample data, serve a share, preview a variant,
review variants."""

import argparse
import sys

from segcopy_assets.cli import (
    batch_commands,
    maintain_commands,
    pipeline_commands,
    retry_commands,
    review_commands,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="segcopy", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    pipeline_commands.add_commands(sub)
    review_commands.add_commands(sub)
    batch_commands.add_commands(sub)
    retry_commands.add_commands(sub)
    maintain_commands.add_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
