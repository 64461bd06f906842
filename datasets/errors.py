"""Errors raised by the task loaders; every message says what was wrong and what to do."""

from __future__ import annotations


class DatasetError(Exception):
    """Base class of every error raised by `datasets`."""


class UnknownTaskError(DatasetError, KeyError, ValueError):
    """A task name that is not registered; the message lists the valid ones."""

    def __str__(self) -> str:  # KeyError would otherwise quote the whole message
        return str(self.args[0])


class OptionError(DatasetError, ValueError):
    """An option that a task does not have, or a value it cannot use."""


class DataNotFoundError(DatasetError, FileNotFoundError):
    """Data files that are neither on disk nor downloadable; names the files and places looked."""


class DataIntegrityError(DatasetError, ValueError):
    """A data file whose digest, header or content is wrong; nothing of it is used."""


class TaskContractError(DatasetError, ValueError):
    """A loader built a `Task` that breaks the contract the harness relies on (a bug)."""
