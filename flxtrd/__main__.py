"""``python -m flxtrd``: the sample trading client and sandbox market (see :mod:`flxtrd._cli`)."""

import sys

from flxtrd._cli import main

sys.exit(main())
