"""A small FastAPI service: quotes kept in memory, rendered as JSON; /health for probes.
Uploaded attachments are spooled by Starlette through tempfile (so /tmp is written)."""
import os
import tempfile

from fastapi import FastAPI, Request

app = FastAPI(title="quotes")
QUOTES = ["Make it work, make it right, make it fast."]


@app.get("/health")
async def health():
    return {"status": "ok"}


@app.get("/quotes")
async def quotes():
    return {"quotes": QUOTES, "instance": os.environ.get("INSTANCE", "local")}


@app.post("/quotes")
async def add(request: Request):
    body = await request.body()
    # Large request bodies are buffered to a temporary file before they are parsed.
    with tempfile.SpooledTemporaryFile(max_size=16) as spool:
        spool.write(body)
        spool.seek(0)
        QUOTES.append(spool.read().decode()[:200])
    return {"count": len(QUOTES)}
