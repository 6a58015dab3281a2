"""Scenario 4: FastAPI + SQLite (sqlite+aiosqlite) configured by environment variables."""
import os

from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

engine = create_async_engine(os.environ["DATABASE_URL"])
app = FastAPI()


@app.get("/health")
async def health():
    return {"status": "ok"}


@app.post("/items/{name}")
@app.get("/items/{name}")
async def add_item(name: str):
    async with engine.begin() as conn:
        await conn.execute(text("insert into items (name) values (:n)"), {"n": name})
        count = (await conn.execute(text("select count(*) from items"))).scalar_one()
    return {"items": count}
