"""`python -m webapp.ops.evaluation`: the command line in `cli`."""

from webapp.ops.evaluation.cli import main

raise SystemExit(main())
