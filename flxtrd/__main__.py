"""``python -m flxtrd``: the sample trading client and sandbox market (:mod:`flxtrd._cli._main`)."""

import sys

from flxtrd._cli._main import main

sys.exit(main())
