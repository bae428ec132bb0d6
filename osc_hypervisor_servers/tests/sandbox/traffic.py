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

"""The sandbox's traffic control, in front of every service (child only).

``TrafficControl`` is plain WSGI, the app that waitress serves on the
sandbox's public port.  It answers ``protocol.CONTROL_PREFIX`` itself
(what ``client.NovaSandbox`` calls: statistics, latency, faults,
booting), neither counted, delayed nor faulted.  Every other request
goes to one service by its path: ``/identity`` (keystone, in its own
process, through ``wsgi.Forward``), ``/placement``, or else compute.
On its way it:

- counts in that service's statistics (total, reads, writes, per method,
  and per method and resource, e.g. ``GET os-migrations``), so that a
  token request is never mistaken for a nova write;
- sleeps the configured latency in its waitress worker thread, before
  the service sees it, so that concurrent requests overlap their delays
  as real round trips to a remote cloud do;
- may be faulted, if its service and method are among those faulted:
  answered 503 (``Retry-After: 0``) without reaching the service, or
  dropped: the service handles it (the change happens), then its socket
  is shut down before any byte of the response, as a failing proxy
  would.  Version documents are never faulted, so that clients can
  always negotiate a version;
- is cut unread while its service is *down* (``PUT down``): the socket
  is shut down before the service sees the request, as when nova-api
  is stopped behind its address.

The services' own calls to keystone (``auth_token``) and the sandbox's
own tokens use keystone's internal endpoint, which bypasses all this.
"""

import collections
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Sequence
import dataclasses
import json
import random
import socket
import threading
import time
import typing
from typing import Any

from osc_hypervisor_servers.tests.sandbox import protocol
from osc_hypervisor_servers.tests.sandbox import wsgi

WRITE_METHODS = frozenset({'POST', 'PUT', 'PATCH', 'DELETE'})


class Cloud(typing.Protocol):
    """What the sandbox's controls ask of the cloud (see
    ``cloud.SandboxCloud``).
    """

    def boot(
        self, batches: Sequence[protocol.Boot]
    ) -> dict[str, list[str]]: ...

    def stop_compute(self, host: str) -> None: ...

    def restart_compute(self, host: str) -> None: ...

    def set_move_seconds(self, seconds: float) -> None: ...

    def set_confirm_lag(self, seconds: float) -> None: ...


@dataclasses.dataclass(frozen=True)
class Service:
    """A service behind the public port: its app, and the paths of its
    version documents (counted and delayed, never faulted).
    """

    app: wsgi.App
    version_paths: frozenset[str]


def public_services(
    compute: wsgi.App, identity: wsgi.App, placement: wsgi.App
) -> dict[str, Service]:
    """The services behind the public port, by the names ``service_of``
    gives them.
    """
    return {
        'compute': Service(compute, _documents('', protocol.COMPUTE_PATH)),
        'identity': Service(
            identity,
            _documents(
                protocol.IDENTITY_PREFIX, protocol.IDENTITY_PREFIX + '/v3'
            ),
        ),
        'placement': Service(
            wsgi.mount(protocol.PLACEMENT_PREFIX, placement),
            _documents(protocol.PLACEMENT_PREFIX),
        ),
    }


def _documents(*paths: str) -> frozenset[str]:
    """Version document paths, with and without a trailing slash."""
    return frozenset(path + end for path in paths for end in ('', '/'))


def service_of(path: str) -> str:
    """The name of the service a request path is for."""
    for name, prefix in (
        ('identity', protocol.IDENTITY_PREFIX),
        ('placement', protocol.PLACEMENT_PREFIX),
    ):
        if path == prefix or path.startswith(prefix + '/'):
            return name
    return 'compute'


def _resource(path: str) -> str:
    """The collection a path names: ``/v2.1/os-migrations?...`` is
    ``os-migrations``, ``/v2.1/servers/{id}/action`` is ``servers``,
    ``/placement/allocations/{id}`` is ``allocations``.
    """
    parts = [part for part in path.split('/') if part]
    if parts and (
        parts[0].startswith('v2')
        or f'/{parts[0]}'
        in (protocol.PLACEMENT_PREFIX, protocol.IDENTITY_PREFIX)
    ):
        parts = parts[1:]
    return parts[0] if parts else ''


class TrafficControl:
    """WSGI middleware in front of the services: statistics, latency,
    faults.

    ``cloud`` boots servers, restarts computes and slows moves for the
    controls (``POST /_sandbox/boot``, ``restart``, ``PUT move_seconds``,
    ``confirm_lag``).
    """

    def __init__(
        self, services: dict[str, Service], cloud: Cloud, latency_ms: float
    ):
        self.services = services
        self.cloud = cloud
        self.latency_ms = latency_ms
        self.lock = threading.Lock()
        self.counts = {name: collections.Counter[str]() for name in services}
        self.random = random.Random()
        self.error_rate = self.drop_rate = 0.0
        self.faulted_methods: frozenset[str] | None = None
        self.faulted_services: frozenset[str] = frozenset()
        #: Faults of the first requests of each method and resource, in
        #: order ("faulted_503", "dropped"), then none.
        self.first_faults: tuple[str, ...] = ()
        self.seen = collections.Counter[str]()
        #: Services that answer nothing: their requests are cut unread.
        self.down: frozenset[str] = frozenset()

    def __call__(
        self, environ: wsgi.Environ, start_response: wsgi.StartResponse
    ) -> Iterable[bytes]:
        path = environ.get('PATH_INFO', '')
        if path.startswith(protocol.CONTROL_PREFIX):
            return self.control(
                environ, start_response, path[len(protocol.CONTROL_PREFIX) :]
            )
        name = service_of(path)
        service = self.services[name]
        method = environ['REQUEST_METHOD']
        fault = None
        with self.lock:
            counts = self.counts[name]
            counts['total'] += 1
            counts['writes' if method in WRITE_METHODS else 'reads'] += 1
            counts['method:' + method] += 1
            resource = f'{method} {_resource(path)}'
            counts[f'resource:{resource}'] += 1
            if (
                name in self.faulted_services
                and path not in service.version_paths
                and (
                    self.faulted_methods is None
                    or method in self.faulted_methods
                )
            ):
                fault = self.draw(f'{name}:{resource}')
            if name in self.down:
                fault = 'down'
            if fault:
                counts[fault] += 1
        if fault == 'down':
            return self.cut(environ, start_response)
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
            return self.drop(service.app, environ, start_response)
        return service.app(environ, start_response)

    def draw(self, resource: str) -> str | None:
        """The fault of a request of ``resource``, if any (lock held)."""
        seen = self.seen[resource]
        self.seen[resource] += 1
        if seen < len(self.first_faults):
            return self.first_faults[seen]
        draw = self.random.random()
        if draw < self.error_rate:
            return 'faulted_503'
        if draw < self.error_rate + self.drop_rate:
            return 'dropped'
        return None

    def drop(
        self,
        app: wsgi.App,
        environ: wsgi.Environ,
        start_response: wsgi.StartResponse,
    ) -> list[bytes]:
        """Let the service handle the request, then cut the connection."""

        def discard_response(
            status: str, headers: Any, exc_info: Any = None
        ) -> Callable[[bytes], None]:
            return lambda data: None

        for _chunk in app(environ, discard_response):
            pass
        return self.cut(environ, start_response)

    def cut(
        self, environ: wsgi.Environ, start_response: wsgi.StartResponse
    ) -> list[bytes]:
        """Close the request's connection before any byte of an answer."""
        # waitress exposes its channel only through this bound method.
        channel = environ['waitress.client_disconnected'].__self__
        channel.socket.shutdown(socket.SHUT_RDWR)
        # An answer for waitress; the socket will not carry it.
        start_response('502 Bad Gateway', [('Content-Length', '0')])
        return []

    def stats(self) -> dict[str, dict[str, Any]]:
        with self.lock:
            counts = {name: dict(c) for name, c in self.counts.items()}
        return {
            name: {
                'total': service.get('total', 0),
                'reads': service.get('reads', 0),
                'writes': service.get('writes', 0),
                'by_method': {
                    key.partition(':')[2]: value
                    for key, value in service.items()
                    if key.startswith('method:')
                },
                'by_resource': {
                    key.partition(':')[2]: value
                    for key, value in service.items()
                    if key.startswith('resource:')
                },
                'faulted_503': service.get('faulted_503', 0),
                'dropped': service.get('dropped', 0),
                'cut_while_down': service.get('down', 0),
            }
            for name, service in counts.items()
        }

    def set_faults(
        self,
        error_rate: float,
        drop_rate: float,
        seed: int | None,
        methods: Iterable[str] | None,
        services: Iterable[str],
        first: Sequence[str] = (),
    ) -> None:
        if set(first) - {'faulted_503', 'dropped'}:
            raise ValueError(f'faults are faulted_503 or dropped: {first}')
        if not (
            0 <= error_rate and 0 <= drop_rate and error_rate + drop_rate <= 1
        ):
            raise ValueError('fault rates must be >= 0 and add up to <= 1')
        faulted_services = frozenset(services)
        if faulted_services - self.services.keys():
            raise ValueError(
                f'no such service: {sorted(faulted_services)}; '
                f'services are {sorted(self.services)}'
            )
        with self.lock:
            self.error_rate, self.drop_rate = error_rate, drop_rate
            self.faulted_methods = (
                None if methods is None else frozenset(methods)
            )
            self.faulted_services = faulted_services
            self.first_faults = tuple(first)
            self.seen.clear()
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
                    for counts in self.counts.values():
                        counts.clear()
            elif (method, name) == ('PUT', 'latency'):
                self.latency_ms = float(body['ms'])
            elif (method, name) == ('PUT', 'faults'):
                self.set_faults(
                    float(body['error_rate']),
                    float(body['drop_rate']),
                    body['seed'],
                    body['methods'],
                    body['services'],
                    body.get('first', ()),
                )
            elif (method, name) == ('PUT', 'down'):
                down = frozenset(body['services'])
                if down - self.services.keys():
                    raise ValueError(f'no such service: {sorted(down)}')
                with self.lock:
                    self.down = down
            elif (method, name) == ('POST', 'boot'):
                batches = [protocol.Boot(**batch) for batch in body['batches']]
                answer = {'servers': self.cloud.boot(batches)}
            elif (method, name) == ('POST', 'stop'):
                self.cloud.stop_compute(str(body['host']))
            elif (method, name) == ('POST', 'restart'):
                self.cloud.restart_compute(str(body['host']))
            elif (method, name) == ('PUT', 'move_seconds'):
                self.cloud.set_move_seconds(float(body['seconds']))
            elif (method, name) == ('PUT', 'confirm_lag'):
                self.cloud.set_confirm_lag(float(body['seconds']))
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
