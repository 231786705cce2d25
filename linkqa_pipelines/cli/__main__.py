"""`python -m linkqa_pipelines.cli`: the same as the `linkqa` command."""

import sys

from linkqa_pipelines.cli import main

sys.exit(main())
