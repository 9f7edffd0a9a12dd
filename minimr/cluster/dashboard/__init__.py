"""The web dashboard: the cluster and its jobs in a browser, and the same data as JSON.

Served from threads of the coordinator's process (``minimr coordinator --dashboard``, or
the embedded cluster of ``minimr submit --dashboard``). The coordinator's loop owns the
scheduler and stays single-threaded; the HTTP threads only read the immutable snapshots
the loop publishes and post cancel requests to it (``window.py``). ``server.py`` is the
HTTP side (the stdlib's ``ThreadingHTTPServer``: no dependency), ``api.py`` the JSON
documents, ``static/`` the page and its script (no CDN, no build step).
"""
