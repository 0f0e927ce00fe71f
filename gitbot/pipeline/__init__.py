"""Running Promise workflows: the container engine adapter and the workflow runner."""
