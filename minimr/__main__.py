"""``python -m minimr`` runs the ``minimr`` command."""

from minimr.cli import main

if __name__ == "__main__":
    main()
