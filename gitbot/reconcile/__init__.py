"""One reconcile end to end (source at a commit -> workflows -> state branches), shared by the
CLI and the worker. May import gitbot.kratix, .source, .pipeline, .state and the base modules."""
