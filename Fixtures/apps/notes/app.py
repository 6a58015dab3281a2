"""A small notes web app laid out the way many Django and Flask projects are: the code, its
templates and its SQLite database all in the project directory. NOTES_DB (a settings value, as
DATABASES['default']['NAME'] is in Django) moves the database elsewhere.

  python3 app.py PORT
  GET /health -> ok;  POST /notes?text=... -> the note count;  GET /notes -> the notes
"""
import http.server
import os
import sqlite3
import sys
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
DB = os.environ.get("NOTES_DB", os.path.join(HERE, "notes.db"))
TEMPLATE = open(os.path.join(HERE, "templates", "notes.txt")).read()


def db():
    os.makedirs(os.path.dirname(DB), exist_ok=True)
    c = sqlite3.connect(DB)
    c.execute("create table if not exists notes (id integer primary key, text text)")
    return c


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def reply(self, body):
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/health":
            return self.reply("ok\n")
        with db() as c:
            rows = c.execute("select text from notes order by id").fetchall()
        self.reply(TEMPLATE.format(count=len(rows), notes="\n".join(r[0] for r in rows)))

    def do_POST(self):
        q = dict(urllib.parse.parse_qsl(urllib.parse.urlparse(self.path).query))
        with db() as c:
            c.execute("insert into notes (text) values (?)", (q.get("text", ""),))
            n = c.execute("select count(*) from notes").fetchone()[0]
        self.reply(f"{n}\n")


if __name__ == "__main__":
    db().close()
    http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
