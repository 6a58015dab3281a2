"""Four services of one app sharing a data directory (see entrypoint.sh)."""
