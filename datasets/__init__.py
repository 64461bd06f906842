"""Task loaders for the recurrent-cell benchmarks.

    import datasets
    datasets.list_tasks()                      # ['binary_addition', 'digits', 'mnist', ...]
    task = datasets.load("mnist", seed=0, limit_train=10_000)

Note: this top-level package is named `datasets` and shadows Hugging Face's
`datasets` wherever both are importable; the project's own imports resolve to this
one because the repository is installed (editable) or first on the path.
"""

# Each task module registers itself on import; importing them here fills the registry.
from . import binary_addition, digits, mnist, noise, notmnist, recall, sentiment  # noqa: F401
from .binary_addition import make_split as make_binary_addition_split
from .errors import (DataIntegrityError, DataNotFoundError, DatasetError, OptionError, TaskContractError,
                     UnknownTaskError)
from .registry import get_entry, list_tasks, load, task_options
from .task import Task

__all__ = [
    "DataIntegrityError", "DataNotFoundError", "DatasetError", "OptionError", "Task", "TaskContractError",
    "UnknownTaskError", "get_entry", "list_tasks", "load", "make_binary_addition_split", "task_options",
]
