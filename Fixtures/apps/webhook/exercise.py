"""Sends signed webhook deliveries (and one with a bad signature) to the service; exits 1 on a surprise."""
import hashlib, hmac, json, os, sys, urllib.error, urllib.request

base = sys.argv[1]
secret = os.environ.get("WEBHOOK_SECRET", "dev-secret").encode()
for i in range(3):
    body = json.dumps({"id": f"evt-{i}", "type": "push"}).encode()
    sig = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
    req = urllib.request.Request(base + "/webhook", data=body, headers={"X-Signature": sig, "Content-Type": "application/json"})
    if urllib.request.urlopen(req).status != 202:
        sys.exit(1)
try:
    urllib.request.urlopen(urllib.request.Request(base + "/webhook", data=b"{}", headers={"X-Signature": "sha256=bad"}))
    sys.exit(1)
except urllib.error.HTTPError as e:
    if e.code != 401:
        sys.exit(1)
print(urllib.request.urlopen(base + "/health").read().decode())
