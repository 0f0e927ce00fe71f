"""GitHub: webhook events, App authentication, the API client, pull requests, check runs.

May import gitbot.reconcile and everything below it; never gitbot.work, .web or .commands."""
