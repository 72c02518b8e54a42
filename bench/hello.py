"""The baseline for the load benchmark: a minimal Flask route under the same gunicorn."""

from flask import Flask

app = Flask(__name__)


@app.get("/")
def hello() -> str:
    return "Hej"
