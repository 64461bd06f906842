"""Command-line options more than one command takes (`run`, `check`, `list`, `replicate`), and what the
job processes of a run get from them. Kept apart from bench.cli so the commands below it need not import it.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from bench.plan.config import ConfigError


class NamesList(argparse.Action):
    """`--cells a b`, `--cells a,b` and `--cells a, b` all give ["a", "b"]."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        names = [name.strip() for value in values for name in value.split(",") if name.strip()]
        if not names:
            parser.error(f"{option_string} needs at least one name")
        setattr(namespace, self.dest, names)


def add_cells_argument(parser, help_text: str) -> None:
    parser.add_argument("--cells", nargs="+", action=NamesList, metavar="CELL", help=help_text + " (a b, or a,b)")


def add_plugin_argument(parser: argparse.ArgumentParser) -> None:
    from bench.plan.plugins import ENTRY_POINT_GROUP, PLUGINS_ENV

    parser.add_argument("--plugin", action="append", default=[], type=Path, metavar="PATH",
                        help=f"a Python file that registers cells (repeatable); also ${PLUGINS_ENV} (paths separated "
                             f"by '{os.pathsep}') and installed packages' '{ENTRY_POINT_GROUP}' entry points")


def job_settings(args: argparse.Namespace) -> dict[str, str]:
    """Environment variables this run's job processes get: --data-dir, --profile and the plugins loaded.

    They travel with the executor rather than through this process's environment, because a
    Ray worker on another node does not inherit it.
    """
    from datasets.files import ENV_DATA_DIR
    from bench.plan.plugins import PLUGINS_ENV, plugin_env_value
    from bench.run.runners.measure import PROFILE_ENV

    settings = {PROFILE_ENV: "1"} if args.profile else {}
    if plugin_env_value():
        settings[PLUGINS_ENV] = plugin_env_value()
    if args.data_dir is not None:
        folder = args.data_dir.expanduser()
        if not folder.is_dir():
            raise ConfigError(f"--data-dir {args.data_dir}: no such folder; give the folder that holds the "
                              "dataset folders (mnist/, notmnist_small_10k/, sentiment/), laid out as shared/data")
        settings[ENV_DATA_DIR] = str(folder.resolve())
    return settings


def check_folder(option: str, folder: Path) -> None:
    """A report folder may not exist yet, but may not be a file."""
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"{option} {folder} is a file; give a folder for summary.md, results.csv and the plots")
