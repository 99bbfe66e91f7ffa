"""gunicorn settings: `gunicorn -c deploy/gunicorn.conf.py 'app:create_app()'`.

Every PaaS this project deploys to (see README, Deploy) tells the app its port in PORT and, on
Heroku and Render, its worker count in WEB_CONCURRENCY.
"""

import gc
import os
import sys

bind = f"0.0.0.0:{os.environ.get('PORT') or '8000'}"
workers = int(os.environ.get("WEB_CONCURRENCY") or "2")

# Threads, so that a client that connects and sends nothing, or sends slowly, holds one thread
# rather than a whole worker. A sync worker waits on such a connection until the worker
# timeout kills it: two silent connections stopped a two-worker instance for 30 seconds.
# gunicorn lends each new connection a thread for up to 5 seconds while it waits for the
# request, and one worker may accept most of a burst, so each has threads enough for 50 idle
# connections at once (tests/e2e/test_faults.py). Measured with 120 idle connections open:
# about 60 threads per worker and 1 MB more memory each, and getTodos still answered at once.
# The database pool, not this number, bounds the connections a worker opens (app/database.py).
worker_class = "gthread"
threads = 64

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


def on_starting(server):
    """Refuse to start on a bad setting with the app's one-line reason.

    Without this, each worker would fail while importing the app and gunicorn would print a
    traceback per worker and a generic "Worker failed to boot".
    """
    from app.config import ConfigError, load_config

    try:
        load_config(os.environ)
    except ConfigError as error:
        print(f"todo-action: {error}", file=sys.stderr, flush=True)
        sys.exit(1)


def post_worker_init(worker):
    """Leave the app's start-up objects out of garbage collection from now on.

    The worker imports the app and its libraries before serving: about 140,000 objects that
    live as long as it does. Without this, each full collection walks all of them again, a
    pause of tens of milliseconds that lands on whichever request happens to trigger it.
    """
    gc.freeze()
