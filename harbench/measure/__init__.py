"""Measurements stored with every run: sizes, MACs, memory, timing."""
