"""DoRA through peft: LoRA on the direction of each weight plus a trainable magnitude per output.

It adapts LoRA's layers (Linear, Conv1d, Conv2d; no grouped or dilated conv), takes LoRA's
parameters (``alpha`` null: ``2 * r``) and merges like LoRA.
"""

from __future__ import annotations

from ..lora import LoRA


class DoRA(LoRA):
    name = "dora"
    description = "DoRA (peft): LoRA on the direction plus a trainable magnitude per output"
    version = "2"  # alpha defaults to 2 * r
    peft_constants = {**LoRA.peft_constants, "use_dora": True}


PLUGINS = (DoRA,)
