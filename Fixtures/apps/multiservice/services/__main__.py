import sys

from services import common

service = sys.argv[1]
common.setup_logging(service)
if service == "webserver":
    from services import webserver as m
elif service == "engine":
    from services import engine as m
elif service == "jobqueue":
    from services import jobqueue as m
else:
    from services import dirmonitor as m
sys.exit(m.main())
