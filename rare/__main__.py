import sys

from rare.cli import main

sys.exit(main())
