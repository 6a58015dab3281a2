"""A local delivery agent in the manner of `dovecot-lda -d USER` and procmail: one message from
stdin into USER's Maildir under the mail root, the Maildir way (written to tmp/, fsynced, renamed into
new/). The user comes from the command line, so each user's directory is made on first delivery.

Usage: deliver.py -d USER MAILROOT < message
"""
import os
import socket
import sys
import time

args = sys.argv[1:]
if len(args) != 3 or args[0] != "-d":
    sys.exit("usage: deliver.py -d USER MAILROOT < message")
user, root = args[1], args[2]
maildir = os.path.join(root, user, "Maildir")
for sub in ("tmp", "new", "cur"):
    os.makedirs(os.path.join(maildir, sub), exist_ok=True)
name = f"{int(time.time())}.M{time.time_ns() % 1000000}P{os.getpid()}.{socket.gethostname()}"
tmp = os.path.join(maildir, "tmp", name)
with open(tmp, "wb") as f:
    f.write(sys.stdin.buffer.read())
    f.flush()
    os.fsync(f.fileno())
os.rename(tmp, os.path.join(maildir, "new", name))
print(f"delivered to {user}")
