"""`python -m lab`: the same as the `lab` command."""

from lab.ui.cli import main

if __name__ == "__main__":
    main()
