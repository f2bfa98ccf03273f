"""Allow ``python -m planner`` as the ``servicecircle`` command."""

from planner.cli import app

app(prog_name="servicecircle")
