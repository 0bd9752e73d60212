"""moto's server, answering one request at a time.

moto_server runs each request on a thread of its own with no lock around a conditional write,
so two concurrent `count < :max` updates can both pass where DynamoDB lets one through (it
serialises the writes to an item), and a refused transaction restores a copy of the table
taken before it, undoing a concurrent write. One request at a time gives every run of
concurrent requests the answers of some serial order, as DynamoDB's are, so the tests of
limits and uniqueness under concurrency test the code, not moto's luck. Connections are still
served on threads (keep-alive, as the SDK uses them); only the application call is locked.

Usage: python infra/moto_serial.py HOST PORT
"""

import os
import signal
import sys
import threading

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import run_simple


def main() -> None:
    host, port = sys.argv[1], int(sys.argv[2])
    os.environ.setdefault("MOTO_PORT", str(port))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    app = DomainDispatcherApplication(create_backend_app)
    lock = threading.Lock()

    def serial(environ, start_response):
        with lock:
            # The body is built inside the lock: a lazy iterable would run the handler after it.
            return [b"".join(app(environ, start_response))]

    run_simple(host, port, serial, threaded=True)


if __name__ == "__main__":
    main()
