"""``python -m surveys …``: the ``surveys`` commands (background jobs start this way)."""

from surveys.console import main

main()
