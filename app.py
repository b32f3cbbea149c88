"""Start the command center: `python app.py` serves everything; `python app.py --help` lists commands."""

from dashboard.cli import cli

if __name__ == "__main__":
    cli()
