"""``python -m surveys …``: the ``surveys`` commands (background jobs start this way)."""

from surveys.cli import main

main()
