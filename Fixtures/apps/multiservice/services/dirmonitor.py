"""Watches $APP_HOME/inbox: queues a job per new file and moves it to $APP_HOME/processed."""
import logging
import os
import time

from services import common


def main():
    common.write_pidfile("dirmonitor")
    common.handle_sigterm()
    inbox = common.data_path("inbox", ".keep")
    open(inbox, "a").close()
    processed = os.path.dirname(common.data_path("processed", ".keep"))
    while not common.stopping:
        for name in sorted(os.listdir(os.path.dirname(inbox))):
            if name.startswith("."):
                continue
            conn = common.db()
            conn.execute("insert into jobs (name) values (?)", ("file:" + name,))
            conn.commit()
            conn.close()
            os.rename(os.path.join(os.path.dirname(inbox), name), os.path.join(processed, name))
            logging.info("queued %s", name)
        time.sleep(0.1)
    return 0
