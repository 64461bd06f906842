"""Every subcommand's --help renders (argparse %-formats help strings, so a stray % breaks it)."""

import pytest

from bench.cli import SUBCOMMANDS, build_parser


@pytest.mark.parametrize("name", [entry[0] for entry in SUBCOMMANDS])
def test_help_renders(name, capsys):
    with pytest.raises(SystemExit) as done:
        build_parser().parse_args([name, "--help"])
    assert done.value.code == 0
    assert name in capsys.readouterr().out
