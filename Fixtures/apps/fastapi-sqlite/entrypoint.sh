#!/bin/sh
# Migrate, then exec Uvicorn (the usual container entrypoint).
set -e
cd "$(dirname "$0")"
alembic upgrade head
exec uvicorn main:app --host "${HOST:-127.0.0.1}" --port "${PORT:-8000}"
