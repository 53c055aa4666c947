"""A real WebSub hub (flask-websub, from PyPI) and one subscriber, on 127.0.0.1, for the tests.

    python3 websub_hub.py PORT_FILE

Listens on a free port and writes it to PORT_FILE once it answers. Routes:

    POST /hub               the hub itself (flask-websub; publish pings allowed)
    GET  /callback          the subscriber: answers the hub's intent check with its challenge
    POST /callback          the subscriber: records the content the hub distributes
    POST /subscribe?topic=  asks the hub to subscribe /callback to a topic (as a reader would)
    GET  /received          what the subscriber received, as JSON [{"headers", "body"}]

The hub's tasks run eagerly (Celery's in-process mode): a ping is fetched and distributed
before the hub answers it, so nothing here waits on a timer. Nothing leaves 127.0.0.1.
"""

import json
import os
import sys
import tempfile
import threading

import requests
from celery import Celery
from flask import Flask, Response, request
from flask_websub.hub import Hub, SQLite3HubStorage
from werkzeug.serving import make_server

# No proxy may stand between the hub and 127.0.0.1.
for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
    os.environ.pop(name, None)
os.environ["NO_PROXY"] = "*"

app = Flask(__name__)
app.config["PUBLISH_SUPPORTED"] = True
celery = Celery("hub", broker="memory://", backend="cache+memory://")
celery.conf.task_always_eager = True
storage_dir = tempfile.mkdtemp(prefix="websub-hub-")
hub = Hub(
    SQLite3HubStorage(os.path.join(storage_dir, "hub.db")),
    celery,
    PUBLISH_SUPPORTED=True,
    MAX_ATTEMPTS=1,
    REQUEST_TIMEOUT=10,
)
app.register_blueprint(hub.build_blueprint(url_prefix="/hub"))

received = []
lock = threading.Lock()


@app.get("/callback")
def verify():
    return Response(request.args.get("hub.challenge", ""), mimetype="text/plain")


@app.post("/callback")
def distributed():
    with lock:
        received.append(
            {"headers": dict(request.headers), "body": request.get_data(as_text=True)}
        )
    return "", 204


@app.post("/subscribe")
def subscribe():
    base = request.host_url
    answer = requests.post(
        base + "hub",
        data={
            "hub.mode": "subscribe",
            "hub.topic": request.args["topic"],
            "hub.callback": base + "callback",
        },
        timeout=30,
    )
    return Response(answer.text, status=answer.status_code, mimetype="text/plain")


@app.get("/received")
def show():
    with lock:
        return Response(json.dumps(received), mimetype="application/json")


def main():
    server = make_server("127.0.0.1", 0, app, threaded=True)
    port = server.server_port
    with open(sys.argv[1] + ".tmp", "w") as f:
        f.write(str(port))
    os.replace(sys.argv[1] + ".tmp", sys.argv[1])
    server.serve_forever()


if __name__ == "__main__":
    main()
