"""What every service shares: the data directory under $HOME, the job database, logs, pid files."""
import logging
import os
import signal
import sqlite3

APP_HOME = os.environ.get("APP_HOME") or os.path.join(os.path.expanduser("~"), "appdata")
LOG_DIR = os.environ.get("APP_LOG_DIR", "/var/log/app")
RUN_DIR = os.environ.get("APP_RUN_DIR", "/run/app")
stopping = False


def setup_logging(service):
    os.makedirs(LOG_DIR, exist_ok=True)
    logging.basicConfig(filename=os.path.join(LOG_DIR, f"{service}.log"), level=logging.INFO,
                        format="%(asctime)s " + service + " %(levelname)s %(message)s")


def data_path(*parts):
    path = os.path.join(APP_HOME, *parts)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    return path


def db():
    conn = sqlite3.connect(data_path("jobs.db"), timeout=10)
    conn.execute("create table if not exists jobs (id integer primary key, name text, state text default 'queued', result text)")
    conn.commit()
    return conn


def write_pidfile(service):
    os.makedirs(RUN_DIR, exist_ok=True)
    path = os.path.join(RUN_DIR, f"{service}.pid")
    with open(path, "w") as f:
        f.write(str(os.getpid()))
    return path


def handle_sigterm():
    def stop(*_):
        global stopping
        stopping = True
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
