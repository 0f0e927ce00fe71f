"""Running Promise workflows: the container engine adapter and the workflow runner.

May import gitbot.kratix and the base modules (secrets, settings, errors, processes)."""
