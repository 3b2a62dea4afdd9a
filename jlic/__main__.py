import sys

from jlic.commands import main

sys.exit(main())
