"""flxtrd 0.2.9's time and unit helpers (``from flxtrd import utils``); see ``flxtrd._compat``."""

from flxtrd._compat import _utils
from flxtrd._compat._utils import *  # noqa: F403  (an alias module: its names are _utils')

__all__ = list(_utils.__all__)
