"""gunicorn settings: `gunicorn -c deploy/gunicorn.conf.py 'app:create_app()'`."""

import os

bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# ChatGPT gives up on an action call after 45 seconds; a worker stuck longer is killed first.
timeout = 30
graceful_timeout = 20
accesslog = "-"
