"""`python -m sslvit_lite train|analyze ...`"""

import sys

from sslvit_lite.cli import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
