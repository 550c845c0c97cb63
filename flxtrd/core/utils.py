"""flxtrd 0.2.9's ``flxtrd.core.utils``: the time and unit helpers (as ``flxtrd.utils``)."""

from flxtrd._compat import _utils
from flxtrd._compat._console import log
from flxtrd._compat._utils import *  # noqa: F403  (an alias module: its names are _utils')

__all__ = [*_utils.__all__, "log"]
