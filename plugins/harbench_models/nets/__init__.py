"""The backbones' network code (imports torch; loaded by a plugin's ``build`` only)."""
