"""The web process for gunicorn (Procfile): `gunicorn 'gitbot.wsgi:app'`.

No worker and no scheduler here: those run once, in `gitbot worker`.
"""

from __future__ import annotations

from gitbot.settings import load_settings
from gitbot.web.multiprocess import share_metrics_between_workers

_settings = load_settings()
share_metrics_between_workers(_settings.data_dir)  # before prometheus_client is imported

from gitbot import logs  # noqa: E402
from gitbot.runtime import build, web_app  # noqa: E402
from gitbot.secrets import Redactor  # noqa: E402

_redactor = Redactor()
logs.configure(_redactor)
app = web_app(_settings, build(_settings, _redactor, worker=False))
