#!/bin/sh
# As many Django images start: collect the static files into STATIC_ROOT, then serve.
set -e
cd "$(dirname "$0")"
python3 manage.py collectstatic --noinput >/dev/null
exec gunicorn --bind "127.0.0.1:${PORT:-8000}" --workers 2 site_conf.wsgi
