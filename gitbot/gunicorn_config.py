"""gunicorn's settings for gitbot's web process (`gunicorn -c python:gitbot.gunicorn_config`).

gunicorn's own lines (start, workers booting, access lines) become the same JSON lines as the
rest of gitbot's logs. Flags on gunicorn's command line still win over these.
"""

from gitbot.logs import gunicorn_logconfig

logconfig_dict = gunicorn_logconfig()
