"""Allow ``python -m planner`` as the ``servicecircle`` command."""

from planner.cli import main

main()
