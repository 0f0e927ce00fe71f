# gitbot itself: the webhook server, worker and scheduler (`gitbot serve`), or one of them
# (`gitbot web`, `gitbot worker`). Pipeline containers run on the host's container engine,
# reached through its socket; see deploy/README.md.
#
#   docker build -t gitbot .
#   docker run -d -p 8080:8080 \
#     -v /var/run/docker.sock:/var/run/docker.sock --group-add "$(stat -c %g /var/run/docker.sock)" \
#     -v /srv/gitbot/work:/srv/gitbot/work -e GITBOT_WORK_DIR=/srv/gitbot/work \
#     -v gitbot-data:/data --env-file gitbot.env gitbot
FROM python:3.11-slim

# git: gitbot reads and writes repositories with the git command line.
RUN apt-get update \
    && apt-get install -y --no-install-recommends git ca-certificates \
    && rm -rf /var/lib/apt/lists/*

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# Dependencies at the versions and hashes requirements.lock pins (scripts/lock makes it), then
# gitbot itself; the postgres extra (psycopg) is in the lock file. Two layers, so a change to
# gitbot's code rebuilds only the second.
COPY requirements.lock /src/
RUN pip install --require-hashes -r /src/requirements.lock && rm -rf /src
COPY pyproject.toml README.md /src/
COPY gitbot /src/gitbot
RUN pip install --no-deps /src && rm -rf /src

# A non-root user; /data holds the repository cache, the job queue and the status database.
RUN useradd --system --uid 10001 --user-group --home-dir /home/gitbot --create-home gitbot \
    && mkdir -p /data \
    && chown gitbot:gitbot /data
ENV GITBOT_DATA_DIR=/data \
    DOCKER_HOST=unix:///var/run/docker.sock \
    PORT=8080
VOLUME ["/data"]
WORKDIR /home/gitbot
USER gitbot

EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('PORT', '8080') + '/healthz', timeout=4)"]

ENTRYPOINT ["gitbot"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8080"]
