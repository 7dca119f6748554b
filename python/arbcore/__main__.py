import sys

from arbcore.cli import main

sys.exit(main())
