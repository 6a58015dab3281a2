"""Scenario 3: Gunicorn + Flask serving a built single-page app, with a /health endpoint.
Run: gunicorn --bind 127.0.0.1:8080 --workers 2 app:app"""
import os

from flask import Flask, jsonify, send_from_directory

STATIC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static")
app = Flask(__name__, static_folder=None)


@app.get("/health")
def health():
    return jsonify(status="ok")


@app.get("/")
@app.get("/<path:path>")
def spa(path="index.html"):
    full = os.path.join(STATIC, path)
    return send_from_directory(STATIC, path if os.path.isfile(full) else "index.html")
