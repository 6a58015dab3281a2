#!/bin/sh
# One image, four services (a Django-style project): the image runs `tini -s -- entrypoint.sh SERVICE`.
#   webserver   HTTP API on $PORT (long-running)
#   jobqueue    takes jobs from the queue and runs them (long-running)
#   dirmonitor  watches the inbox directory and queues a job per file (long-running)
#   engine      one-shot maintenance: compacts the job database and writes a report (a CronJob)
# State lives under $APP_HOME (default $HOME/appdata): the job database, the inbox and the reports.
set -e
cd "$(dirname "$0")"
service="${1:?usage: entrypoint.sh webserver|engine|jobqueue|dirmonitor}"
case "$service" in
  webserver|engine|jobqueue|dirmonitor) exec python3 -m services "$service" ;;
  *) echo "unknown service: $service" >&2; exit 64 ;;
esac
