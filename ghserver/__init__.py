"""An in-tree GitHub: the REST subset gitbot uses (under /api/v3) and git over HTTP, for tests.

Start it from tests with `GitHubServer(tmp_path).start()`, or on its own with
`python -m ghserver --port 8080 --data DIR --repo owner/name`.
"""

from ghserver.faults import Fault
from ghserver.record import RecordedRequest
from ghserver.server import App, GitHubServer

__all__ = ["App", "Fault", "GitHubServer", "RecordedRequest"]
