"""The command line: a thin typer client of the stages, one module per command group."""
