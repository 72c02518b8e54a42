"""Baselines for the load benchmarks, under the same gunicorn settings as the app.

``bench.hello:app`` is a bare Flask hello; ``bench.hello:app_hello()`` is the
application itself (every hook, the same config) with a hello route added.
"""

from flask import Flask

HELLO_PATH = "/__bench_hello"

app = Flask(__name__)


@app.get("/")
def hello() -> str:
    return "Hej"


def app_hello() -> Flask:
    """The application from the environment plus a hello route at ``HELLO_PATH``."""
    from surveys import create_app

    application = create_app()
    application.add_url_rule(HELLO_PATH, "bench_hello", hello)
    return application
