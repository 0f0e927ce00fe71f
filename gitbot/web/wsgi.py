"""The web process for gunicorn (Procfile): `gunicorn 'gitbot.web.wsgi:app'`.

No worker and no scheduler here: those run once, in `gitbot worker`.
"""

from __future__ import annotations

from gitbot import logs
from gitbot.secrets import Redactor
from gitbot.server import build, web_app
from gitbot.settings import load_settings

_settings = load_settings()
_redactor = Redactor()
logs.configure(_redactor)
app = web_app(_settings, build(_settings, _redactor, worker=False))
