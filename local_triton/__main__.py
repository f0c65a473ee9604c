import sys

from local_triton.server import main

sys.exit(main())
