"""moto's S3 server, with the response header names in canonical case.

moto 5 sends "last-modified" in lower case. HTTP header names are
case-insensitive, but the AWS SDK for Java 1.10.16 inside Exhibitor 1.5.6 looks
up "Last-Modified" case-sensitively, finds nothing and dies at start with a
NullPointerException (S3ConfigProvider.loadConfig). AWS S3, Ceph RGW and MinIO
all send "Last-Modified", so the test server is made to do the same.

Usage: serve.py PORT [ADDRESS]; without ADDRESS it listens on every address.
"""
import sys

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import run_simple


def canonical(name):
    return "-".join(part[:1].upper() + part[1:] for part in name.split("-"))


def canonical_headers(app):
    def wrapped(environ, start_response):
        def start(status, headers, exc_info=None):
            return start_response(status, [(canonical(k), v) for k, v in headers], exc_info)
        return app(environ, start)
    return wrapped


if __name__ == "__main__":
    # "" is the socket module's "every address" (werkzeug binds it as given).
    address = sys.argv[2] if len(sys.argv) > 2 else ""
    run_simple(address, int(sys.argv[1]), canonical_headers(DomainDispatcherApplication(create_backend_app)),
               threaded=True)
