"""moto's server, answering one request at a time.

moto_server runs each request on a thread of its own with no lock around a conditional write,
so two concurrent `count < :max` updates can both pass where DynamoDB lets one through (it
serialises the writes to an item), and a refused transaction restores a copy of the table
taken before it, undoing a concurrent write. One request at a time gives every run of
concurrent requests the answers of some serial order, as DynamoDB's are, so the tests of
limits and uniqueness under concurrency test the code, not moto's luck. Connections are still
served on threads (keep-alive, as the SDK uses them); only the application call is locked.

`/moto-api/data.json?services=ses,sns` is moto's own dump of what it tracks, of those services
only: the whole dump serialises every DynamoDB item of every table (100,000 of them late in a
test run, 12 s a call, holding the lock), so the readers of sent messages ask for their two.

Usage: python infra/moto_serial.py HOST PORT
"""

import json
import os
import signal
import sys
import threading
from urllib.parse import parse_qs

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from moto.core.model_instances import model_data
from werkzeug.serving import run_simple


def services_data(services):
    """What moto's /moto-api/data.json answers (its model_data), for `services` alone."""
    results = {}
    for service in sorted(services & set(model_data)):
        results[service] = {}
        for name, model in sorted(model_data[service].items()):
            results[service][name] = []
            for instance in list(model.instances_tracked):
                fields = {}
                for attr in dir(instance):
                    if attr.startswith("_"):
                        continue
                    try:
                        value = getattr(instance, attr)
                        json.dumps(value)
                    except (TypeError, AttributeError, ValueError):
                        continue
                    fields[attr] = value
                results[service][name].append(fields)
    return json.dumps(results).encode()


def main() -> None:
    host, port = sys.argv[1], int(sys.argv[2])
    os.environ.setdefault("MOTO_PORT", str(port))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    app = DomainDispatcherApplication(create_backend_app)
    lock = threading.Lock()

    def serial(environ, start_response):
        services = parse_qs(environ.get("QUERY_STRING", "")).get("services")
        if environ.get("PATH_INFO") == "/moto-api/data.json" and services:
            with lock:
                body = services_data(set(",".join(services).split(",")))
            start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return [body]
        with lock:
            # The body is built inside the lock: a lazy iterable would run the handler after it.
            return [b"".join(app(environ, start_response))]

    run_simple(host, port, serial, threaded=True)


if __name__ == "__main__":
    main()
