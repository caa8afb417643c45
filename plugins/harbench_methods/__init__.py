"""Built-in methods plugins, registered through the ``harbench`` entry-point group.

Each module lists what it provides in ``PLUGINS``; add a module to ``MODULES`` to ship it. These
modules declare their plugins without importing torch, peft, bitsandbytes or tensorly: the code
that needs them (``common``, ``tt_conv``, ``nf4``, ``adalora_steps``) is imported when a method
runs.
"""

from harbench.hookspecs import hookimpl
from harbench_methods import (
    bitfit,
    full,
    linear_probe,
    lora,
    lora_edge,
    norm,
    peft_family,
    qlora,
)

MODULES = (full, linear_probe, lora, lora_edge, bitfit, norm, peft_family, qlora)


@hookimpl
def harbench_register_methods(register):
    for module in MODULES:
        for plugin in module.PLUGINS:
            register(plugin())
