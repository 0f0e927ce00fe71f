"""What a pipeline sees of the platform cluster: the emulated Kubernetes API.

May import gitbot.kratix and the base modules (secrets, errors, yamlio)."""
