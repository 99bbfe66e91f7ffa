"""`make bench`: load tests against gunicorn with the production config; see bench/run.py."""

PASSWORD = "bench password, long enough to pass"
