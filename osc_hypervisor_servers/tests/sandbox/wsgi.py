#   Licensed under the Apache License, Version 2.0 (the "License"); you may
#   not use this file except in compliance with the License. You may obtain
#   a copy of the License at
#
#        http://www.apache.org/licenses/LICENSE-2.0
#
#   Unless required by applicable law or agreed to in writing, software
#   distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
#   WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
#   License for the specific language governing permissions and limitations
#   under the License.

"""WSGI type names, JSON answers, mounting and forwarding (child only)."""

from collections.abc import Callable
from collections.abc import Iterable
import http.client
import json
from typing import Any

Environ = dict[str, Any]
StartResponse = Callable[..., Callable[[bytes], object]]
App = Callable[[Environ, StartResponse], Iterable[bytes]]


def json_response(
    start_response: StartResponse,
    status: str,
    body: Any,
    headers: Iterable[tuple[str, str]] = (),
) -> list[bytes]:
    """Answer ``body`` as JSON with ``status``, e.g. ``'200 OK'``."""
    raw = json.dumps(body).encode()
    start_response(
        status,
        [
            ('Content-Type', 'application/json'),
            ('Content-Length', str(len(raw))),
            *headers,
        ],
    )
    return [raw]


def mount(prefix: str, app: App) -> App:
    """``app`` under ``prefix``: the prefix moves to ``SCRIPT_NAME``, as
    a web server that mounts an app there does.
    """

    def mounted(
        environ: Environ, start_response: StartResponse
    ) -> Iterable[bytes]:
        environ['SCRIPT_NAME'] = environ.get('SCRIPT_NAME', '') + prefix
        environ['PATH_INFO'] = environ['PATH_INFO'][len(prefix) :] or '/'
        return app(environ, start_response)

    return mounted


class Forward:
    """A WSGI app that forwards each request to an HTTP server on
    127.0.0.1:``port``, as a reverse proxy does: same method, target
    and headers (``Host`` too, so that the server builds links to this
    proxy), and gives back its answer.
    """

    # Headers of one hop, not of the message (RFC 9110, 7.6.1).
    HOP_BY_HOP = frozenset(
        {
            'connection',
            'keep-alive',
            'proxy-connection',
            'te',
            'trailer',
            'transfer-encoding',
            'upgrade',
        }
    )

    def __init__(self, port: int, timeout: float = 120) -> None:
        self.port = port
        self.timeout = timeout

    def __call__(
        self, environ: Environ, start_response: StartResponse
    ) -> Iterable[bytes]:
        headers = {
            key[5:].replace('_', '-'): value
            for key, value in environ.items()
            if key.startswith('HTTP_')
            and key[5:].replace('_', '-').lower() not in self.HOP_BY_HOP
        }
        for key in ('CONTENT_TYPE', 'CONTENT_LENGTH'):
            if environ.get(key):
                headers[key.replace('_', '-')] = environ[key]
        length = int(environ.get('CONTENT_LENGTH') or 0)
        body = environ['wsgi.input'].read(length) if length else None
        connection = http.client.HTTPConnection(
            '127.0.0.1', self.port, timeout=self.timeout
        )
        try:
            # waitress keeps the request target as the client sent it.
            connection.request(
                environ['REQUEST_METHOD'],
                environ['REQUEST_URI'],
                body,
                headers,
            )
            response = connection.getresponse()
            raw = response.read()
        finally:
            connection.close()
        start_response(
            f'{response.status} {response.reason}',
            [
                (key, value)
                for key, value in response.getheaders()
                if key.lower() not in self.HOP_BY_HOP
            ],
        )
        return [raw]
