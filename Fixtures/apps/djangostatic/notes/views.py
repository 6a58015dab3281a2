from pathlib import Path

from django.conf import settings
from django.http import HttpResponse


def index(request):
    """Serves what collectstatic put in STATIC_ROOT: the page fails if the files are not there."""
    root = Path(settings.STATIC_ROOT)
    names = ["notes/site.css", "admin/js/core.js"]
    sizes = [(root / n).stat().st_size for n in names]
    return HttpResponse("static ok " + " ".join(f"{n}={s}" for n, s in zip(names, sizes)) + "\n", content_type="text/plain")
