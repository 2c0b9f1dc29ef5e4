"""The CLI's own error handling: a reader that closes the pipe early (`segcopy review list | head
-3`) ends the command quietly, and a usage error is one line pointing at the help."""

import pytest

from segcopy_assets import cli


def test_a_closed_pipe_ends_the_command_quietly(monkeypatch, capsys):
    def list_into_a_closed_pipe(args):
        raise BrokenPipeError(32, "Broken pipe")

    parser = cli.build_parser()
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    args = parser.parse_args(["review", "list"])
    monkeypatch.setattr(args, "func", list_into_a_closed_pipe)
    monkeypatch.setattr(parser, "parse_args", lambda argv=None: args)
    assert cli.main(["review", "list"]) == 0
    assert "Traceback" not in capsys.readouterr().err


def test_a_usage_error_is_one_line(capsys):
    with pytest.raises(SystemExit) as exited:
        cli.main(["review", "approve"])
    err = capsys.readouterr().err.strip()
    assert exited.value.code == 2 and len(err.splitlines()) == 1
    assert "segment, product" in err and "segcopy review approve --help" in err


def test_version(capsys):
    with pytest.raises(SystemExit):
        cli.main(["--version"])
    assert capsys.readouterr().out.startswith("segcopy ")


def test_costs_print_alike_whatever_their_number_type():
    from segcopy_assets.cli.run_report import usd

    assert usd(0) == usd(0.0) == "$0.000000"  # one run summed to 0, the next to 0.0
    assert usd(0.0123456) == "$0.012346"
    assert usd("unknown: no price for x in pricing.toml").startswith("unknown")
