import sys

from contagion.cli import main

sys.exit(main())
