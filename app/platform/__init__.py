"""What the app stands on, kept apart from what it does.

Each module here solves one operational problem in general terms and knows nothing of
resources, operations, accounts or OAuth: bounded waits on a database (`database`,
`watchdog`), a health probe that answers in time (`health`), fetching a URL a stranger named
without letting it reach inside the network (`safe_fetch`), and calling an ASGI application
for one request from a WSGI view (`asgi`). A team adding a resource never needs to read them.
"""
