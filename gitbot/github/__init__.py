"""GitHub: App authentication, the API client, pull requests on the state repo, check runs."""
