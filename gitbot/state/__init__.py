"""The state repository: workflow results placed on Destinations, gitbot's records, the branch
plan and publishing commits. May import gitbot.kratix, .source, .pipeline and the base modules."""
