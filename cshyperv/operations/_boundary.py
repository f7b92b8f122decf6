"""The one place where a plug-in's foreign exception becomes a typed error.

Every call into a plug-in (its hypervisor, its storage access, its host capacity) goes through
:func:`call`. What the plug-in raises from cshyperv's own tree passes unchanged (its message is
written to be shown). A bare ``TimeoutError`` becomes :class:`OperationTimeoutError`. A plain
``OSError`` from a storage adaptor (the documented way adaptors report file-level failures)
becomes a :class:`StorageError` with its errno and location. Anything else is a bug in the
plug-in: it is logged here, once, with its traceback (credentials redacted), and raised as
:class:`PluginFailedError` chained to the original, which names only the exception's class.
"""

from __future__ import annotations

import errno
import logging
import traceback
from collections.abc import Callable
from typing import TypeVar

from cshyperv._redact import redact_text
from cshyperv.errors import CSHyperVError, OperationTimeoutError, PluginFailedError, StorageError

__all__ = ["call", "log"]

log = logging.getLogger("cshyperv.operations")

T = TypeVar("T")


def call(plugin: str, operation: str, function: Callable[[], T], *, storage: bool = False) -> T:
    """``function()``, with foreign exceptions translated (see the module docstring).

    ``storage`` marks a call into the storage access, whose plain ``OSError``\\ s are expected.
    """
    try:
        return function()
    except CSHyperVError:
        raise
    except TimeoutError as exc:
        raise OperationTimeoutError(f"{operation} did not finish before its deadline") from exc
    except OSError as exc:
        if not storage:
            raise _failed(plugin, operation, exc) from exc
        location = exc.filename if isinstance(exc.filename, str) else None
        code = exc.errno if isinstance(exc.errno, int) else errno.EIO
        raise StorageError(exc.strerror or type(exc).__name__, code=code, location=location) from exc
    except Exception as exc:
        raise _failed(plugin, operation, exc) from exc


def _failed(plugin: str, operation: str, exc: BaseException) -> PluginFailedError:
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    log.error("the %s plug-in failed in %s:\n%s", plugin, operation, redact_text(text).rstrip())
    return PluginFailedError(plugin, operation, exc)
