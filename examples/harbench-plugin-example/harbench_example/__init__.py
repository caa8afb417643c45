"""An example harbench plugin: one dataset and one adaptation method."""

from harbench.hookspecs import hookimpl
from harbench_example.dataset import ExampleCsv
from harbench_example.method import LastN


@hookimpl
def harbench_register_datasets(register):
    register(ExampleCsv())


@hookimpl
def harbench_register_methods(register):
    register(LastN())
