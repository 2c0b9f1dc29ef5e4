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


class _Parser(argparse.ArgumentParser):
    """A usage error is one line naming what is wrong and where the help is (argparse prints
    the whole usage first; the subcommands' parsers are of this class too)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="segcopy", description=__doc__)
    parser.add_argument("--version", action="version", version=f"segcopy {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    pipeline_commands.add_commands(sub)
    review_commands.add_commands(sub)
    batch_commands.add_commands(sub)
    retry_commands.add_commands(sub)
    maintain_commands.add_commands(sub)
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("segcopy")
    except PackageNotFoundError:
        return "(not installed)"


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except BrokenPipeError:
        # `segcopy review list | head -3`: the reader has what it wanted; say nothing more
        # (stdout is pointed at devnull so the interpreter's final flush cannot fail again)
        import contextlib
        import os

        # stdout may be no file (a test's capture): then there is nothing to point away
        with contextlib.suppress(OSError, ValueError, AttributeError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
