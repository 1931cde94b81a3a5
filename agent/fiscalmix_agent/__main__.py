"""``python -m fiscalmix_agent``: the same as the ``fiscalmix-agent`` command."""

import sys

from fiscalmix_agent.cli import main

sys.exit(main())
