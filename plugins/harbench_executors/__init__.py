"""Built-in executors plugins, registered through the ``harbench`` entry-point group.

Each module lists what it provides in ``PLUGINS``; add a module to ``MODULES`` to ship it.
"""

from harbench.hookspecs import hookimpl
from harbench_executors import local

MODULES = (local,)


@hookimpl
def harbench_register_executors(register):
    for module in MODULES:
        for plugin in module.PLUGINS:
            register(plugin())
