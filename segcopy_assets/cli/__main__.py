import sys

from segcopy_assets.cli import main

if __name__ == "__main__":  # a spawned worker (the judge pool) imports this module too
    sys.exit(main())
