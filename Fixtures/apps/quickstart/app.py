"""A tiny app that does what real apps do to a read-only root: byte-compiles a local module
(__pycache__), keeps a scratch file in /tmp, writes a pid file under /run, and stores data in
an SQLite database next to it."""
import os
import sqlite3
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import helpers  # noqa: E402  (writes helpers.cpython-*.pyc into __pycache__)

data_dir = os.environ.get("QUICKSTART_DATA", os.path.join(os.path.dirname(os.path.abspath(__file__)), "data"))
os.makedirs(data_dir, exist_ok=True)

with tempfile.NamedTemporaryFile("w", prefix="quickstart-", suffix=".tmp", delete=True) as scratch:
    scratch.write(helpers.greeting())
    scratch.flush()

os.makedirs("/run/quickstart", exist_ok=True)
with open("/run/quickstart/app.pid", "w") as f:
    f.write(str(os.getpid()))

db = sqlite3.connect(os.path.join(data_dir, "app.db"))
db.execute("create table if not exists hits (n integer)")
db.execute("insert into hits values (1)")
db.commit()
count = db.execute("select count(*) from hits").fetchone()[0]
db.close()
os.unlink("/run/quickstart/app.pid")
print(f"{helpers.greeting()} (run #{count})")
