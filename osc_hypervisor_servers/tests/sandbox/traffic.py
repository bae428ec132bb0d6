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

"""The sandbox's traffic control, in front of nova (child process only).

``TrafficControl`` is plain WSGI, the app that waitress serves.  It
answers the sandbox's own paths itself, neither counted, delayed nor
faulted: ``protocol.CONTROL_PREFIX`` (what ``client.NovaSandbox`` calls:
statistics, latency, faults, booting) and ``protocol.IDENTITY_PREFIX``
(the keystone version document).  Every other request:

- counts in the statistics (total, reads, writes, per method, and per
  method and resource, e.g. ``GET os-migrations``);
- sleeps the configured latency in its waitress worker thread, before
  nova sees it, so that concurrent requests overlap their delays as real
  round trips to a remote cloud do;
- may be faulted: answered 503 (``Retry-After: 0``) without reaching
  nova, or dropped: nova handles it (the change happens), then its socket
  is shut down before any byte of the response, as a failing proxy
  would.  nova's version documents are never faulted, so that clients
  can always negotiate a microversion.
"""

import collections
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Sequence
import json
import random
import socket
import threading
import time
from typing import Any

from osc_hypervisor_servers.tests.sandbox import keystone
from osc_hypervisor_servers.tests.sandbox import protocol
from osc_hypervisor_servers.tests.sandbox import wsgi

WRITE_METHODS = frozenset({'POST', 'PUT', 'PATCH', 'DELETE'})
# nova's version documents: never faulted; still counted and delayed, as
# they reach nova.
VERSION_DOCUMENT_PATHS = frozenset({'', '/', '/v2.1', '/v2.1/'})

Boot = Callable[[Sequence[protocol.BootBatch]], dict[str, list[str]]]


def _resource(path: str) -> str:
    """The collection a nova path names: ``/v2.1/os-migrations?...`` is
    ``os-migrations``, ``/v2.1/servers/{id}/action`` is ``servers``.
    """
    parts = [part for part in path.split('/') if part]
    if parts and parts[0].startswith('v2'):
        parts = parts[1:]
    return parts[0] if parts else ''


class TrafficControl:
    """WSGI middleware in front of nova: statistics, latency, faults.

    ``boot`` boots batches of servers for ``POST /_sandbox/boot`` (see
    ``cloud.SandboxCloud.boot``).
    """

    def __init__(self, nova_app: wsgi.App, boot: Boot, latency_ms: float):
        self.nova_app = nova_app
        self.boot = boot
        self.latency_ms = latency_ms
        self.lock = threading.Lock()
        self.counts: collections.Counter[str] = collections.Counter()
        self.random = random.Random()
        self.error_rate = self.drop_rate = 0.0
        self.faulted_methods: frozenset[str] | None = None

    def __call__(
        self, environ: wsgi.Environ, start_response: wsgi.StartResponse
    ) -> Iterable[bytes]:
        path = environ.get('PATH_INFO', '')
        if path.startswith(protocol.CONTROL_PREFIX):
            return self.control(
                environ, start_response, path[len(protocol.CONTROL_PREFIX) :]
            )
        if keystone.is_identity_path(path):
            return wsgi.json_response(
                start_response,
                '200 OK',
                keystone.identity_document(environ, path),
            )
        method = environ['REQUEST_METHOD']
        fault = None
        with self.lock:
            self.counts['total'] += 1
            self.counts['writes' if method in WRITE_METHODS else 'reads'] += 1
            self.counts['method:' + method] += 1
            self.counts[f'resource:{method} {_resource(path)}'] += 1
            if path not in VERSION_DOCUMENT_PATHS and (
                self.faulted_methods is None or method in self.faulted_methods
            ):
                draw = self.random.random()
                if draw < self.error_rate:
                    fault = 'faulted_503'
                elif draw < self.error_rate + self.drop_rate:
                    fault = 'dropped'
            if fault:
                self.counts[fault] += 1
        if self.latency_ms:
            time.sleep(self.latency_ms / 1000)
        if fault == 'faulted_503':
            return wsgi.json_response(
                start_response,
                '503 Service Unavailable',
                {'message': 'sandbox fault injection'},
                [('Retry-After', '0')],
            )
        if fault == 'dropped':
            return self.drop(environ, start_response)
        return self.nova_app(environ, start_response)

    def drop(
        self, environ: wsgi.Environ, start_response: wsgi.StartResponse
    ) -> list[bytes]:
        """Let nova handle the request, then cut the connection."""

        def discard_response(
            status: str, headers: Any, exc_info: Any = None
        ) -> Callable[[bytes], None]:
            return lambda data: None

        for _chunk in self.nova_app(environ, discard_response):
            pass
        # waitress exposes its channel only through this bound method.
        channel = environ['waitress.client_disconnected'].__self__
        channel.socket.shutdown(socket.SHUT_RDWR)
        # An answer for waitress; the socket will not carry it.
        start_response('502 Bad Gateway', [('Content-Length', '0')])
        return []

    def stats(self) -> dict[str, Any]:
        with self.lock:
            counts = dict(self.counts)
        return {
            'total': counts.get('total', 0),
            'reads': counts.get('reads', 0),
            'writes': counts.get('writes', 0),
            'by_method': {
                key.partition(':')[2]: value
                for key, value in counts.items()
                if key.startswith('method:')
            },
            'by_resource': {
                key.partition(':')[2]: value
                for key, value in counts.items()
                if key.startswith('resource:')
            },
            'faulted_503': counts.get('faulted_503', 0),
            'dropped': counts.get('dropped', 0),
        }

    def set_faults(
        self,
        error_rate: float,
        drop_rate: float,
        seed: int | None,
        methods: Iterable[str] | None,
    ) -> None:
        if not (
            0 <= error_rate and 0 <= drop_rate and error_rate + drop_rate <= 1
        ):
            raise ValueError('fault rates must be >= 0 and add up to <= 1')
        with self.lock:
            self.error_rate, self.drop_rate = error_rate, drop_rate
            self.faulted_methods = (
                None if methods is None else frozenset(methods)
            )
            self.random.seed(seed)

    def control(
        self,
        environ: wsgi.Environ,
        start_response: wsgi.StartResponse,
        name: str,
    ) -> list[bytes]:
        """Answer ``/_sandbox/<name>``: the calls of ``NovaSandbox``."""
        method = environ['REQUEST_METHOD']
        length = int(environ.get('CONTENT_LENGTH') or 0)
        body = json.loads(environ['wsgi.input'].read(length) or 'null')
        answer: dict[str, Any] = {}
        try:
            if (method, name) == ('GET', 'stats'):
                answer = self.stats()
            elif (method, name) == ('DELETE', 'stats'):
                with self.lock:
                    self.counts.clear()
            elif (method, name) == ('PUT', 'latency'):
                self.latency_ms = float(body['ms'])
            elif (method, name) == ('PUT', 'faults'):
                self.set_faults(
                    float(body['error_rate']),
                    float(body['drop_rate']),
                    body['seed'],
                    body['methods'],
                )
            elif (method, name) == ('POST', 'boot'):
                batches = [
                    protocol.BootBatch(
                        host=batch['host'],
                        count=int(batch['count']),
                        project=batch['project'],
                    )
                    for batch in body['batches']
                ]
                answer = {'servers': self.boot(batches)}
            else:
                return wsgi.json_response(
                    start_response,
                    '404 Not Found',
                    {'message': f'no sandbox control {method} {name}'},
                )
        except Exception as error:
            return wsgi.json_response(
                start_response,
                '500 Internal Server Error',
                {'message': f'{type(error).__name__}: {error}'},
            )
        return wsgi.json_response(start_response, '200 OK', answer)
