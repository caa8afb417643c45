"""harbench plugin example: registers a dataset, a backbone and an adaptation method.

Only light modules are imported here, so that `harbench --help` stays fast: torch is imported
when a model is built or adapted.
"""

from harbench.hookspecs import hookimpl
from harbench_example.dataset import ExampleCsv
from harbench_example.method import ExampleLastN
from harbench_example.model import ExampleNet


@hookimpl
def harbench_register_datasets(register):
    register(ExampleCsv())


@hookimpl
def harbench_register_models(register):
    register(ExampleNet())


@hookimpl
def harbench_register_methods(register):
    register(ExampleLastN())
