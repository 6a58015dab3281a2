"""One-shot maintenance: removes finished jobs older than the newest 100, vacuums the database and
writes a report under $APP_HOME/reports. Run on a schedule (a Kubernetes CronJob)."""
import datetime
import logging

from services import common


def main():
    conn = common.db()
    done = conn.execute("select count(*) from jobs where state = 'done'").fetchone()[0]
    conn.execute("delete from jobs where state = 'done' and id not in (select id from jobs order by id desc limit 100)")
    conn.commit()
    conn.execute("vacuum")
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%S")
    with open(common.data_path("reports", f"engine-{stamp}.txt"), "w") as f:
        f.write(f"done jobs: {done}\n")
    logging.info("compacted, %s done jobs", done)
    return 0
