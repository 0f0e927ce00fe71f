"""One module per CLI subcommand.

May import any gitbot package: commands sit on top, and nothing imports them but gitbot.cli."""
