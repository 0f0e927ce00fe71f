"""Durable work: webhook deliveries, the job queue, workers, the scheduler.

May import gitbot.github, gitbot.reconcile and everything below them; never .web or .commands."""
