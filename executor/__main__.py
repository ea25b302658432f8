"""`python -m executor ...` is `hp ...`: how conmon's exit command calls back into hp."""

from executor.main import main

main()
