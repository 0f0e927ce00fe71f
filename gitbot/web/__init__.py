"""The web layer: the webhook endpoint, health, metrics and the runs pages; the only Flask user.

May import gitbot.work, gitbot.github.events and the base modules; never gitbot.commands."""
