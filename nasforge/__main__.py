import sys

from nasforge.cli.main import main

sys.exit(main())
