import sys

from jlic.cli import main

sys.exit(main())
