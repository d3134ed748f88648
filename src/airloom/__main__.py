"""``python -m airloom`` runs the command line."""

from airloom.cli.main import main

main()
