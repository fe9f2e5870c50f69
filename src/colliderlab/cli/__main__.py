"""``python -m colliderlab.cli``."""

import sys

from colliderlab.cli import main

sys.exit(main())
