"""``python -m newsmill``: the command line (the same as the ``newsmill`` script and ``python -m newsmill.cli``)."""
import sys

from newsmill.cli import main

sys.exit(main())
