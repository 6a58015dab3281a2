"""A webhook receiver: POST /webhook with an HMAC-SHA256 signature (X-Signature: sha256=<hex>),
GET /health. Configured by environment variables; keeps nothing on disk (events go to stdout)."""
import hashlib
import hmac
import json
import os

from flask import Flask, abort, jsonify, request

app = Flask(__name__)
SECRET = os.environ.get("WEBHOOK_SECRET", "dev-secret").encode()
received = []


@app.get("/health")
def health():
    return jsonify(status="ok", received=len(received))


@app.post("/webhook")
def webhook():
    body = request.get_data()
    expected = "sha256=" + hmac.new(SECRET, body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, request.headers.get("X-Signature", "")):
        abort(401)
    event = json.loads(body)
    received.append(event.get("id"))
    print(json.dumps({"event": event.get("type"), "id": event.get("id")}), flush=True)
    return jsonify(accepted=event.get("id")), 202


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=int(os.environ.get("PORT", "8080")))
