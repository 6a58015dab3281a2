"""Worker: runs queued jobs, writes each result under $APP_HOME/results, heartbeats in /tmp."""
import logging
import os
import tempfile
import time

from services import common


def main():
    common.write_pidfile("jobqueue")
    common.handle_sigterm()
    heartbeat = tempfile.NamedTemporaryFile(prefix="jobqueue-heartbeat-", delete=True)
    while not common.stopping:
        os.utime(heartbeat.name)
        conn = common.db()
        row = conn.execute("select id, name from jobs where state = 'queued' order by id limit 1").fetchone()
        if row:
            with open(common.data_path("results", f"job-{row[0]}.txt"), "w") as f:
                f.write(f"{row[1]} done\n")
            conn.execute("update jobs set state = 'done' where id = ?", (row[0],))
            conn.commit()
            logging.info("ran job %s", row[0])
        conn.close()
        time.sleep(0.1)
    return 0
