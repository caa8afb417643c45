"""Tuning: every method of a comparison searched with the same budget of trials, scored on
validation only, before the runs that report results.

Modules: ``block`` (the suite's ``tuning:`` block, checked at validate), ``studies`` (which study
each run belongs to and what its trials train on), ``sampler`` (Optuna's TPE rebuilt from the
stored trials), ``pruning`` (thresholds from completed trials' curves), ``trial`` (what a worker
does with one trial), ``storage`` (the ``trials`` table), ``phase`` (the coordinator's tuning
phase) and ``summary`` (chosen configuration and tuning cost for the reports).
"""
