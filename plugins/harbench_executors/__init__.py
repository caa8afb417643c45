"""Built-in executors plugins, registered through the ``harbench`` entry-point group.

Each module lists what it provides in ``PLUGINS``; add a module to ``MODULES`` to ship it. The
ray and slurm modules import their engines only when a suite runs on them.
"""

from harbench.hookspecs import hookimpl
from harbench_executors import local, process, ray, slurm

MODULES = (local, process, ray, slurm)


@hookimpl
def harbench_register_executors(register):
    for module in MODULES:
        for plugin in module.PLUGINS:
            register(plugin())
