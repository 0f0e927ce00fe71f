"""An in-tree GitHub: the REST subset gitbot uses (under /api/v3) and git over HTTP, for tests.

Start it from tests with `GitHubServer(tmp_path).start()`, or on its own with
`python -m gitbot.ghserver --port 8080 --data DIR --repo owner/name`.
"""

from gitbot.ghserver.faults import Fault
from gitbot.ghserver.record import RecordedRequest
from gitbot.ghserver.server import App, GitHubServer

__all__ = ["App", "Fault", "GitHubServer", "RecordedRequest"]
