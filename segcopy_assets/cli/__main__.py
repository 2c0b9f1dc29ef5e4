import sys

from segcopy_assets.cli import main

sys.exit(main())
