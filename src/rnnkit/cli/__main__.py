"""``python -m rnnkit.cli``: the ``rnnkit`` command."""

import sys

from . import main

sys.exit(main())
