"""``python -m rationalizer`` runs the command line."""

from rationalizer.cli import main

main()
