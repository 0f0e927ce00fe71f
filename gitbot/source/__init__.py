"""A source repository at a commit: `.gitbot.yaml`, the Kratix objects it holds, what changed.

May import gitbot.kratix and the base modules (gitrepo, yamlio, errors)."""
