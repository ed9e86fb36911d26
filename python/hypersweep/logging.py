"""``optuna.logging`` as programs call it: hypersweep's Rust core logs
through ``tracing`` and prints nothing per trial, so these only keep the
level a program set."""

import logging as _logging

CRITICAL = _logging.CRITICAL
ERROR = _logging.ERROR
WARNING = _logging.WARNING
INFO = _logging.INFO
DEBUG = _logging.DEBUG

_level = INFO


def set_verbosity(verbosity: int) -> None:
    global _level
    _level = verbosity


def get_verbosity() -> int:
    return _level


def disable_default_handler() -> None:
    pass


def enable_default_handler() -> None:
    pass
