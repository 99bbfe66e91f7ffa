"""gunicorn settings: `gunicorn -c deploy/gunicorn.conf.py 'app:create_app()'`.

Every PaaS this project deploys to (see README, Deploy) tells the app its port in PORT and, on
Heroku and Render, its worker count in WEB_CONCURRENCY.
"""

import gc
import os
import re
import sys

from flask.cli import load_dotenv
from flask.helpers import get_load_dotenv
from gunicorn.glogging import Logger

# `flask --app app ...` reads .env (and .flaskenv) from the working directory before it builds
# the app; the server reads the same files the same way, before any setting below, so a value
# in .env means the same to both. The environment wins over the files, and FLASK_SKIP_DOTENV=1
# turns them off for both.
if get_load_dotenv():
    load_dotenv()

bind = f"0.0.0.0:{os.environ.get('PORT') or '8000'}"
workers = int(os.environ.get("WEB_CONCURRENCY") or "2")

# Threads, so that a client that connects and sends nothing, or sends slowly, holds one thread
# rather than a whole worker. gunicorn's threaded worker waits 5 seconds for a new connection's
# first bytes without a thread, but then reads the headers and the body on one thread however
# slowly they come: a thread per slow client. With a thread for each connection a worker may
# hold (worker_connections), slow clients cannot take every thread; measured with 500
# connections sending headers a byte at a time and 10 sending bodies so, on two workers, others
# were answered within 2 seconds (tests/e2e/test_faults.py), where 64 threads a worker stalled
# at about 130. Threads are made only as connections need them; a thread waiting on a socket
# costs about 16 KB. The database pool, not this number, bounds the connections a worker opens
# (app/platform/database.py), and a request body is read whole before a connection is taken
# (app/json_body.py), so a slow client holds a thread, never a database connection.
worker_class = "gthread"
threads = 1000
# Twice the threads, so that as many kept-alive connections can wait, without a thread, for
# their next request.
worker_connections = 2000

# A threaded worker tells the master it is alive from its main loop, so this catches a worker
# that stopped altogether, not a slow call: those are bounded by the app (DATABASE_TIMEOUT).
# A deploy's old workers get well under ChatGPT's 45 seconds to finish what they are serving.
timeout = 30
graceful_timeout = 20

# The app's TRUSTED_PROXY_HOPS alone decides whose X-Forwarded-* headers count. gunicorn's own
# default trusts them from 127.0.0.1, which would make https from a local client look right
# while the app's proxy setting is wrong.
forwarded_allow_ips = ""

# The worker heartbeat file: a container's /tmp may be disk-backed overlayfs, where the writes
# can stall long enough for the master to kill healthy workers.
if os.path.isdir("/dev/shm"):
    worker_tmp_dir = "/dev/shm"

# gunicorn 25.1+ opens a control socket at one fixed path per user, so a second instance on the
# same machine (a test run, a one-off dyno) would take it over; no platform here uses it.
control_socket_disable = True

accesslog = "-"
# No %(r)s, %(q)s, %(f)s or %(u)s: the query string and referrer can carry OAuth codes, state and
# tokens, and %(u)s is decoded from the Authorization header. %(h)s and the scheme are what
# the app made of X-Forwarded-For/-Proto, so a proxy misconfiguration shows in the log.
access_log_format = (
    '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(M)sms scheme=%({wsgi.url_scheme}e)s '
    "request_id=%({x-request-id}o)s gpt=%({openai-gpt-id}i)s "
    'conversation=%({openai-conversation-id}i)s "%(a)s"'
)


# What a client sends reaches the log line as it is: the path is percent-decoded (so %0A is a
# line break that would start a forged line), and header values may carry C1 control
# characters (gunicorn accepts bytes 0x80-0xFF) and run to 8 KB. Control characters are written
# as \xNN and each value is cut to VALUE_MAX characters, so one request is one line of bounded
# length whatever it carries.
VALUE_MAX = 256
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _log_safe(value):
    if not isinstance(value, str):
        return value
    if len(value) > VALUE_MAX:
        value = value[:VALUE_MAX] + "..."
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", value)


class AccessLogger(Logger):
    """gunicorn's logger, with every value of the access log line made safe to log."""

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        return {key: _log_safe(value) for key, value in atoms.items()}


logger_class = AccessLogger


def on_starting(server):
    """Refuse to start on a bad setting with the app's one-line reason, and warn once (not per
    worker) while the privacy page names no real operator.

    Without this, each worker would fail while importing the app and gunicorn would print a
    traceback per worker and a generic "Worker failed to boot".
    """
    from app.config import ConfigError, load_config, privacy_placeholder_warning, project

    try:
        config = load_config(os.environ)
    except ConfigError as error:
        error.show()
        sys.exit(1)
    if config["APP_ENV"] == "production" and (warning := privacy_placeholder_warning(config)):
        server.log.warning("%s: %s", project().name, warning)


def post_worker_init(worker):
    """Leave the app's start-up objects out of garbage collection from now on.

    The worker imports the app and its libraries before serving: about 140,000 objects that
    live as long as it does. Without this, each full collection walks all of them again, a
    pause of tens of milliseconds that lands on whichever request happens to trigger it.
    """
    gc.freeze()
