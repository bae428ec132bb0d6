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

"""A real nova-api with fake hypervisors, on loopback, for tests and demos.

The sandbox runs nova 34.0.0's own functional-test harness
(``nova.tests.functional``) in a child process: conductor, scheduler and
one ``FakeDriver`` compute service per host name talk over oslo.messaging's
``fake://`` transport, placement runs in-process, and Glance, Neutron and
Cinder are nova's in-process fakes.  waitress serves the ``osapi_compute``
paste app over real HTTP on 127.0.0.1, so the ``openstack`` and ``nova``
command line clients talk to it as to any cloud.  Servers are booted
through the API itself (``POST /servers`` at 2.74 with ``host``).

By hand::

    python -m osc_hypervisor_servers.tests.nova_sandbox \\
        --host compute-1 --host compute-10 --servers-per-host 4 --projects 2

Once every server is ACTIVE it prints one JSON line on stdout (endpoint,
``env`` for the CLIs, server ids per host, hypervisor ids, ...) and
``export`` lines for humans on stderr, logs to ``nova-sandbox.log`` in its
state directory, and serves until SIGTERM or SIGINT (or until its parent
process dies).

From Python, without importing nova in the calling process::

    with NovaSandbox(['compute-1', 'compute-2'], servers_per_host=4) as sb:
        subprocess.run(['openstack', 'hypervisor', 'list'], env=sb.env())
        status, body = sb.api('GET', '/servers/detail?all_tenants=1')

How a request travels, outside in:

1. ``_TrafficControl`` (plain WSGI, before nova) answers the sandbox's
   own paths itself: ``/_sandbox/...`` (statistics, latency, faults,
   booting) and ``/identity`` (a keystone v3 version document).  Every
   other request counts in the statistics, sleeps the configured latency
   in its waitress worker thread (so concurrent requests overlap their
   delays as real round trips do), and may be answered 503 or dropped.
2. ``token_context_filter`` stands where keystonemiddleware would in the
   paste pipeline (nova 34 has no ``noauth2``): ``X-Auth-Token:
   user:project`` becomes a nova request context; user ``admin`` has the
   admin role, any other user is a member of that project.  Policy is
   nova's real default policy.
3. nova's API, database code, RPC, scheduler and computes, unchanged.

Clients authenticate with keystoneauth's ``admin_token`` plugin: the token
``user:project`` and the compute endpoint.  OSC 10.5 still checks the
identity API version, which ``identity_endpoint_override`` answers with
the document under ``/identity``.  ``NovaSandbox.env(token)`` holds these
settings as environment variables that both ``openstack`` and ``nova``
read; ``clouds.yaml`` in the state directory has the clouds ``sandbox``
(admin) and ``sandbox-demo`` (a member of the first project), for
``openstack`` only.  ``nova`` also takes ``novaclient_args`` from the
ready line, but only with ``env()``'s ``NOVA_URL`` and ``NOVA_PROJECT_ID``
(see ``_client_env``).

Traps, and why the code below looks the way it does:

- ``nova.tests.functional`` must be imported before any other nova module,
  with ``OS_NOVA_DISABLE_EVENTLET_PATCHING=1``: native threads, no
  eventlet.  Nothing nova-related is imported at module level, so the
  process that uses ``NovaSandbox`` stays free of nova's monkeypatching.
- The harness's ``CellDatabases`` fixture deadlocks a long-running server
  under concurrent requests: instead, one SQLite file per database (API,
  cell0, cell1) in WAL mode with real cell mappings.  SQLite then fails a
  write transaction outright when another one committed since it began,
  so nova's ``DatabaseWriteLock`` fixture serializes writers per file.
- The harness sets futurist's idle-thread timeout to 0.01 s (hundreds of
  idle threads then burn CPU), turns warnings into errors, and keeps every
  log line and notification in memory: all undone or bounded below.
- ``FakeDriver.get_host_uptime`` raises, and ``GET /os-hypervisors/{id}``
  calls it: it gets a canned answer.
- The resource tracker asks placement for the allocations of every
  instance on the host each time it updates the provider tree, which makes
  booting N servers on one host O(N^2); FakeDriver never uses the answer,
  so it is stubbed.
- A dropped request reaches nova (the change happens), then its socket is
  shut down before any byte of the response, as a failing proxy would.
"""

import argparse
import collections
import json
import os
import pathlib
import queue
import random
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.error
import urllib.request

ADMIN_TOKEN = 'admin:admin'
CONTROL_PREFIX = '/_sandbox/'
IDENTITY_PREFIX = '/identity'
LOG_FILE = 'nova-sandbox.log'
TEST_CAPTURE_VARIABLES = frozenset(
    {'OS_STDOUT_CAPTURE', 'OS_STDERR_CAPTURE', 'OS_LOG_CAPTURE'}
)
WRITE_METHODS = frozenset({'POST', 'PUT', 'PATCH', 'DELETE'})
# nova's version documents: never faulted, so that clients can always
# negotiate a microversion; still counted and delayed, as they reach nova.
VERSION_DOCUMENT_PATHS = frozenset({'', '/', '/v2.1', '/v2.1/'})
_PROJECT_ROOT = pathlib.Path(__file__).resolve().parents[2]


class NovaSandbox:
    """A sandbox child process, seen from the process that uses it.

    ``projects`` is how many projects the servers are spread over;
    ``self.projects`` lists their ids once started.  ``start()`` spawns
    ``python -m`` this module and waits for its ready line, which the
    properties below read.  ``stop()`` (or leaving the ``with`` block)
    sends SIGTERM and waits for the child to exit.
    """

    def __init__(
        self,
        hosts,
        servers_per_host,
        projects=1,
        latency_ms=0,
        port=0,
        state_dir=None,
        start_timeout=300,
    ):
        self._arguments = [
            '--servers-per-host', str(servers_per_host),
            '--projects', str(projects),
            '--latency-ms', str(latency_ms),
            '--port', str(port),
        ]  # fmt: skip
        for host in hosts:
            self._arguments += ['--host', host]
        self._own_state_dir = state_dir is None
        self.state_dir = state_dir
        self.start_timeout = start_timeout
        self.process = None
        self.info = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()

    endpoint = property(lambda self: self.info['endpoint'])
    port = property(lambda self: self.info['port'])
    identity_url = property(lambda self: self.info['identity_url'])
    clouds_yaml = property(lambda self: self.info['clouds_yaml'])
    novaclient_args = property(lambda self: self.info['novaclient_args'])
    projects = property(lambda self: self.info['projects'])
    servers = property(lambda self: self.info['servers'])
    hypervisors = property(lambda self: self.info['hypervisors'])
    log_file = property(lambda self: self.info['log_file'])

    def start(self):
        """Spawn the sandbox and wait until its servers are ACTIVE."""
        if self._own_state_dir:
            self.state_dir = tempfile.mkdtemp(prefix='nova-sandbox-')
        os.makedirs(self.state_dir, exist_ok=True)
        # A test runner's capture settings would make nova's harness (an
        # oslotest test case) swallow the ready line.
        child_env = {
            key: value
            for key, value in os.environ.items()
            if key not in TEST_CAPTURE_VARIABLES
        }
        child_env['PYTHONPATH'] = os.pathsep.join(
            filter(None, [str(_PROJECT_ROOT), os.environ.get('PYTHONPATH')])
        )
        stderr_path = os.path.join(self.state_dir, 'stderr.log')
        with open(stderr_path, 'wb') as stderr:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    '-m',
                    __spec__.name,
                    *self._arguments,
                    '--state-dir',
                    self.state_dir,
                ],  # fmt: skip
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=stderr,
                env=child_env,
                text=True,
            )
        ready_lines = queue.Queue()
        threading.Thread(
            target=lambda: ready_lines.put(self.process.stdout.readline()),
            daemon=True,
        ).start()
        try:
            line = ready_lines.get(timeout=self.start_timeout)
        except queue.Empty:
            line = ''
        if not line:
            tail = self._log_tail()
            self.stop()
            raise RuntimeError(
                f'nova sandbox not ready within '
                f'{self.start_timeout} s:\n{tail}'
            )
        self.info = json.loads(line)
        return self

    def stop(self):
        """Stop the child (SIGTERM, then SIGKILL); return its exit code."""
        if self.process is None:
            return None
        process, self.process = self.process, None
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        process.stdout.close()
        if self._own_state_dir:
            shutil.rmtree(self.state_dir, ignore_errors=True)
        return process.returncode

    def _log_tail(self, lines=40):
        tails = []
        for name in (LOG_FILE, 'stderr.log'):
            path = os.path.join(self.state_dir, name)
            if os.path.exists(path):
                with open(path, errors='replace') as log:
                    tail = ''.join(collections.deque(log, maxlen=lines))
                tails.append(f'==> {name} <==\n{tail}')
        return '\n'.join(tails)

    def env(self, token=ADMIN_TOKEN):
        """Environment for an ``openstack`` or ``nova`` subprocess.

        A copy of this process's environment without its ``OS_*`` and
        ``NOVA_*`` variables (a stray ``OS_CLOUD`` would win), plus the
        sandbox's for ``token``: ``user:project``, ``admin:...`` is admin.
        """
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(('OS_', 'NOVA_'))
        }
        env.update(_client_env(self.endpoint, self.identity_url, token))
        return env

    def api(
        self,
        method,
        path,
        body=None,
        token=ADMIN_TOKEN,
        microversion='2.100',
        timeout=120,
    ):
        """Call the compute API; return (status, decoded JSON or None).

        ``path`` is relative to the endpoint, e.g. ``/servers/detail``.
        Connection errors (a dropped request) propagate.
        """
        headers = {'X-Auth-Token': token}
        if microversion:
            headers['OpenStack-API-Version'] = f'compute {microversion}'
        return _http(method, self.endpoint + path, body, headers, timeout)

    def _control(self, method, name, body=None, timeout=60):
        url = f'http://127.0.0.1:{self.port}{CONTROL_PREFIX}{name}'
        status, answer = _http(method, url, body, {}, timeout)
        if status >= 400:
            raise RuntimeError(f'sandbox {method} {name}: {status} {answer}')
        return answer

    def stats(self):
        """Requests nova-api received since the last ``reset_stats()``.

        ``{"total": n, "reads": n, "writes": n, "by_method": {"GET": n,
        ...}, "faulted_503": n, "dropped": n}``; faulted and dropped
        requests count in the totals too.
        """
        return self._control('GET', 'stats')

    def reset_stats(self):
        self._control('DELETE', 'stats')

    def set_latency(self, ms):
        """Delay every nova request by ``ms`` milliseconds."""
        self._control('PUT', 'latency', {'ms': ms})

    def set_faults(
        self, error_rate=0.0, drop_rate=0.0, seed=None, methods=None
    ):
        """Fault a fraction of nova requests; no arguments: no faults.

        ``error_rate`` of them are answered 503 (``Retry-After: 0``)
        without reaching nova; ``drop_rate`` of them reach nova, then the
        connection is closed before the response.  ``methods`` limits
        faults to those HTTP methods; ``seed`` makes them repeatable.
        """
        self._control(
            'PUT',
            'faults',
            {
                'error_rate': error_rate,
                'drop_rate': drop_rate,
                'seed': seed,
                'methods': methods,
            },
        )

    def boot(self, host, count, project=None):
        """Boot ``count`` more servers on ``host`` in ``project`` (default:
        the first); return their ids once none is in BUILD.
        """
        answer = self._control(
            'POST',
            'boot',
            {
                'host': host,
                'count': count,
                'project': project or self.projects[0],
            },
            timeout=600,
        )
        self.servers.setdefault(host, []).extend(answer['ids'])
        return answer['ids']


def _client_env(endpoint, identity_url, token):
    """Environment variables for ``openstack`` and ``nova`` as ``token``.

    novaclient insists on an auth URL and a project even with the
    ``admin_token`` plugin, and only takes them from the environment
    there: ``NOVA_URL`` and ``NOVA_PROJECT_ID`` satisfy it, and OSC
    ignores them (``OS_PROJECT_ID`` would break OSC's ``admin_token``).
    """
    return {
        'OS_AUTH_TYPE': 'admin_token',
        'OS_ENDPOINT': endpoint,
        'OS_TOKEN': token,
        'OS_IDENTITY_ENDPOINT_OVERRIDE': identity_url,
        'NOVA_URL': identity_url,
        'NOVA_PROJECT_ID': token.partition(':')[2],
    }


def _http(method, url, body, headers, timeout):
    """One request with urllib; return (status, decoded JSON body)."""
    headers = dict(headers, Accept='application/json')
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers['Content-Type'] = 'application/json'
    request = urllib.request.Request(
        url, data=data, method=method, headers=headers
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    try:
        return status, (json.loads(raw) if raw else None)
    except ValueError:
        return status, raw.decode(errors='replace')


def _json_response(start_response, status, body, headers=()):
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


class _TrafficControl:
    """WSGI middleware in front of nova: statistics, latency, faults.

    It also serves the sandbox's control paths and the keystone version
    document; those are neither counted, delayed nor faulted.
    """

    def __init__(self, nova_app, boot, latency_ms):
        self.nova_app = nova_app
        self.boot = boot
        self.latency_ms = latency_ms
        self.lock = threading.Lock()
        self.counts = collections.Counter()
        self.random = random.Random()
        self.error_rate = self.drop_rate = 0.0
        self.faulted_methods = None

    def __call__(self, environ, start_response):
        path = environ.get('PATH_INFO', '')
        if path.startswith(CONTROL_PREFIX):
            return self.control(
                environ, start_response, path[len(CONTROL_PREFIX) :]
            )
        if path.rstrip('/') in (IDENTITY_PREFIX, IDENTITY_PREFIX + '/v3'):
            return _json_response(
                start_response, '200 OK', _identity_document(environ, path)
            )
        method = environ['REQUEST_METHOD']
        fault = None
        with self.lock:
            self.counts['total'] += 1
            self.counts['writes' if method in WRITE_METHODS else 'reads'] += 1
            self.counts['method:' + method] += 1
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
            return _json_response(
                start_response,
                '503 Service Unavailable',
                {'message': 'sandbox fault injection'},
                [('Retry-After', '0')],
            )
        if fault == 'dropped':
            return self.drop(environ, start_response)
        return self.nova_app(environ, start_response)

    def drop(self, environ, start_response):
        """Let nova handle the request, then cut the connection."""

        def discard_response(status, headers, exc_info=None):
            return lambda data: None

        for _chunk in self.nova_app(environ, discard_response):
            pass
        # waitress exposes its channel only through this bound method.
        channel = environ['waitress.client_disconnected'].__self__
        channel.socket.shutdown(socket.SHUT_RDWR)
        # An answer for waitress; the socket will not carry it.
        start_response('502 Bad Gateway', [('Content-Length', '0')])
        return []

    def stats(self):
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
            'faulted_503': counts.get('faulted_503', 0),
            'dropped': counts.get('dropped', 0),
        }

    def set_faults(self, error_rate, drop_rate, seed, methods):
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

    def control(self, environ, start_response, name):
        method = environ['REQUEST_METHOD']
        length = int(environ.get('CONTENT_LENGTH') or 0)
        body = json.loads(environ['wsgi.input'].read(length) or 'null')
        try:
            if (method, name) == ('GET', 'stats'):
                answer = self.stats()
            elif (method, name) == ('DELETE', 'stats'):
                with self.lock:
                    self.counts.clear()
                answer = {}
            elif (method, name) == ('PUT', 'latency'):
                self.latency_ms = float(body['ms'])
                answer = {}
            elif (method, name) == ('PUT', 'faults'):
                self.set_faults(
                    float(body['error_rate']),
                    float(body['drop_rate']),
                    body['seed'],
                    body['methods'],
                )
                answer = {}
            elif (method, name) == ('POST', 'boot'):
                answer = {
                    'ids': self.boot(
                        body['host'], int(body['count']), body['project']
                    )
                }
            else:
                return _json_response(
                    start_response,
                    '404 Not Found',
                    {'message': f'no sandbox control {method} {name}'},
                )
        except Exception as error:
            return _json_response(
                start_response,
                '500 Internal Server Error',
                {'message': f'{type(error).__name__}: {error}'},
            )
        return _json_response(start_response, '200 OK', answer)


def _identity_document(environ, path):
    """The keystone v3 version document OSC asks for before it starts."""
    v3_url = f'http://{environ["HTTP_HOST"]}{IDENTITY_PREFIX}/v3/'
    version = {
        'id': 'v3.14',
        'status': 'stable',
        'updated': '2020-04-07T00:00:00Z',
        'links': [{'rel': 'self', 'href': v3_url}],
        'media-types': [
            {
                'base': 'application/json',
                'type': 'application/vnd.openstack.identity-v3+json',
            }
        ],
    }
    if path.rstrip('/').endswith('/v3'):
        return {'version': version}
    return {'versions': {'values': [version]}}


def token_context_filter(global_conf, **local_conf):
    """Paste filter: ``X-Auth-Token: user:project`` -> nova context."""
    from nova import context as nova_context

    def make_filter(app):
        def middleware(environ, start_response):
            token = environ.get('HTTP_X_AUTH_TOKEN', '')
            user, _colon, project = token.partition(':')
            if not (user and project):
                return _json_response(
                    start_response,
                    '401 Unauthorized',
                    {'message': 'X-Auth-Token must be user:project'},
                )
            roles = ['reader', 'member']
            if user == 'admin':
                roles.append('admin')
            environ['nova.context'] = nova_context.RequestContext(
                user_id=user,
                project_id=project,
                user_name=user,
                project_name=project,
                roles=roles,
                auth_token=token,
                remote_address=environ.get('REMOTE_ADDR'),
            )
            return app(environ, start_response)

        return middleware

    return make_filter


# The osapi_compute part of nova's api-paste.ini, with keystone's filters
# replaced by token_context_filter.
_API_PASTE_INI = """\
[composite:osapi_compute]
use = call:nova.api.openstack.urlmap:urlmap_factory
/: versions
/v2.1: version_v21
/v2.1/+: api_v21

[pipeline:versions]
pipeline = faultwrap request_log versions_app

[pipeline:version_v21]
pipeline = compute_req_id faultwrap request_log version_v21_app

[pipeline:api_v21]
pipeline = compute_req_id faultwrap request_log sizelimit token_context \
api_v21_app

[filter:compute_req_id]
paste.filter_factory = nova.api.compute_req_id:ComputeReqIdMiddleware.factory

[filter:faultwrap]
paste.filter_factory = nova.api.openstack:FaultWrapper.factory

[filter:request_log]
paste.filter_factory = nova.api.openstack.requestlog:RequestLog.factory

[filter:sizelimit]
paste.filter_factory = oslo_middleware:RequestBodySizeLimiter.factory

[filter:token_context]
paste.filter_factory = {module}:token_context_filter

[app:versions_app]
paste.app_factory = nova.api.openstack.compute.versions:Versions.factory

[app:version_v21_app]
paste.app_factory = nova.api.openstack.compute.versions:VersionsV2.factory

[app:api_v21_app]
paste.app_factory = nova.api.openstack.compute:APIRouterV21.factory
"""


def _sqlite_wal_url(path):
    """Create an empty SQLite file in WAL mode; return its SQLAlchemy URL.

    WAL lets readers run during a write; the long busy timeout makes a
    writer wait for the file's lock instead of failing.
    """
    import sqlite3

    with sqlite3.connect(path) as connection:
        connection.execute('PRAGMA journal_mode=WAL')
    return f'sqlite:///{path}?timeout=60'


def _cloud_class():
    """Import nova's harness (child process only); return the cloud class.

    The class is a functional test case whose ``setUp()`` brings the whole
    cloud up; it is never run as a test.
    """
    # First of all nova: it chooses native threads over eventlet.
    import nova.tests.functional  # noqa: F401

    # isort: split
    import logging
    import uuid
    import warnings

    import futurist
    from nova import context as nova_context
    from nova import objects
    from nova.db import migration
    from nova.db.api import api as api_db_api
    from nova.db.main import api as main_db_api
    from nova.objects import host_mapping
    from nova.tests import fixtures as nova_fixtures
    from nova.tests.functional import integrated_helpers
    from oslo_config import cfg
    import webob

    conf = cfg.CONF
    futurist_idle_timeout = futurist._thread.ThreadWorker.MAX_IDLE_FOR

    class SandboxCloud(integrated_helpers._IntegratedTestBase):
        # _create_databases sets up the databases, not the harness.
        USES_DB = False
        USES_DB_SELF = True
        # token_context_filter stands in for keystone: see _API_PASTE_INI.
        STUB_KEYSTONE = False
        # Real asynchronous RPC: POST /servers returns before the boot.
        CAST_AS_CALL = False

        def __init__(self, hosts, state_dir):
            super().__init__()
            self.hosts = hosts
            self.state_dir = state_dir
            self.boot_requests = 0

        def _setup_services(self):
            self._undo_test_only_settings()
            self.flags(compute_driver='fake.FakeDriver')
            self.flags(instances=-1, cores=-1, ram=-1, group='quota')
            paste_ini = os.path.join(self.state_dir, 'api-paste.ini')
            with open(paste_ini, 'w') as ini:
                ini.write(_API_PASTE_INI.format(module=__name__))
            self.flags(api_paste_config=paste_ini, group='wsgi')
            self.stub_out(
                'nova.virt.fake.FakeDriver.get_host_uptime',
                lambda driver: (
                    ' 08:32:11 up 93 days, 18:25, '
                    '12 users,  load average: 0.20, 0.12, 0.14'
                ),
            )
            # Only the resource tracker calls it, and FakeDriver never
            # uses the answer: see the module docstring.
            self.stub_out(
                'nova.scheduler.client.report.SchedulerReportClient'
                '.get_allocations_for_provider_tree',
                lambda client, context, nodename: {},
            )
            self._create_databases()
            self.useFixture(nova_fixtures.DatabaseWriteLock())
            super()._setup_services()
            host_mapping.discover_hosts(nova_context.get_admin_context())
            self.app = self.api_fixture.app()
            threading.Thread(
                target=self._forget_notifications, daemon=True
            ).start()

        def _undo_test_only_settings(self):
            root = logging.getLogger()
            for handler in list(root.handlers):
                root.removeHandler(handler)
            log_handler = logging.FileHandler(
                os.path.join(self.state_dir, LOG_FILE)
            )
            log_handler.setFormatter(
                logging.Formatter(
                    '%(asctime)s %(levelname)s [%(name)s] %(message)s'
                )
            )
            root.addHandler(log_handler)
            root.setLevel(logging.INFO)
            warnings.resetwarnings()
            # nova and its libraries warn about their own deprecations on
            # every request; other warnings go to the log.
            warnings.simplefilter('ignore', DeprecationWarning)
            logging.captureWarnings(True)
            futurist._thread.ThreadWorker.MAX_IDLE_FOR = futurist_idle_timeout

        def _create_databases(self):
            urls = {
                name: _sqlite_wal_url(
                    os.path.join(self.state_dir, f'{name}.sqlite')
                )
                for name in ('api', 'cell0', 'cell1')
            }
            self.flags(connection=urls['api'], group='api_database')
            self.flags(connection=urls['cell1'], group='database')
            api_db_api.configure(conf)
            main_db_api.configure(conf)
            migration.db_sync(database='api')
            admin = nova_context.get_admin_context()
            for name, cell_uuid in (
                ('cell0', objects.CellMapping.CELL0_UUID),
                ('cell1', str(uuid.uuid4())),
            ):
                cell = objects.CellMapping(
                    context=admin,
                    uuid=cell_uuid,
                    name=name,
                    transport_url='fake://',
                    database_connection=urls[name],
                )
                cell.create()
                with nova_context.target_cell(admin, cell) as cell_context:
                    migration.db_sync(database='main', context=cell_context)
                self.cell_mappings[name] = cell
            self.useFixture(nova_fixtures.DefaultFlavorsFixture())

        def _setup_compute_service(self):
            for host in self.hosts:
                self._start_compute(host)
            return self.computes[self.hosts[0]]

        def _forget_notifications(self):
            # Nothing reads the fake notifier; it would grow forever.
            while True:
                time.sleep(10)
                self.notifier.reset()

        def call(
            self,
            method,
            path,
            body=None,
            token=ADMIN_TOKEN,
            microversion='2.74',
        ):
            """Call the nova app directly, bypassing _TrafficControl."""
            request = webob.Request.blank(
                path,
                method=method,
                headers={
                    'X-Auth-Token': token,
                    'OpenStack-API-Version': f'compute {microversion}',
                },
            )
            if body is not None:
                request.json_body = body
            response = request.get_response(self.app)
            if response.status_int >= 400:
                raise RuntimeError(
                    f'{method} {path}: {response.status} {response.text}'
                )
            return response.json_body if response.body else None

        def hypervisors(self):
            listing = self.call('GET', '/v2.1/os-hypervisors')
            return {
                hypervisor['hypervisor_hostname']: hypervisor['id']
                for hypervisor in listing['hypervisors']
            }

        def request_servers(self, host, count, project):
            """Ask for ``count`` servers on ``host``; return the
            reservation id to wait for.
            """
            self.boot_requests += 1
            answer = self.call(
                'POST',
                '/v2.1/servers',
                {
                    'server': {
                        'name': f'{host}-r{self.boot_requests}',
                        'imageRef': self.glance.image1['id'],
                        'flavorRef': '1',
                        'networks': 'none',
                        'host': host,
                        'min_count': count,
                        'max_count': count,
                        'return_reservation_id': True,
                    }
                },
                token=f'admin:{project}',
            )
            return answer['reservation_id']

        def wait_for_servers(self, reservation_id, count):
            """Wait until no server of a request is in BUILD; return their
            ids in launch order.
            """
            query = f'?all_tenants=1&reservation_id={reservation_id}'
            deadline = time.monotonic() + 120 + count
            # Each poll decodes every pending build request, whatever the
            # limit: with hundreds of servers, frequent polls would take
            # a good part of the CPU the builds need.
            poll_interval = min(2.0, 0.5 + count / 100)
            while self.call(
                'GET', f'/v2.1/servers{query}&status=BUILD&limit=1'
            )['servers']:
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f'servers of {reservation_id} still in BUILD'
                    )
                time.sleep(poll_interval)
            servers = self.call('GET', f'/v2.1/servers/detail{query}')[
                'servers'
            ]
            failed = [
                server for server in servers if server['status'] != 'ACTIVE'
            ]
            if failed or len(servers) != count:
                raise RuntimeError(
                    f'{len(failed) + count - len(servers)} of {count} '
                    f'servers of {reservation_id} failed: {failed[:1]}'
                )
            servers.sort(key=lambda s: s['OS-EXT-SRV-ATTR:launch_index'])
            return [server['id'] for server in servers]

        def boot(self, host, count, project):
            return self.wait_for_servers(
                self.request_servers(host, count, project), count
            )

    return SandboxCloud


def _parse_args(argv):
    parser = argparse.ArgumentParser(
        prog=f'python -m {__spec__.name}',
        description='Run a real nova-api with FakeDriver computes on '
        '127.0.0.1 until SIGTERM or SIGINT. Prints one JSON line on '
        'stdout once ready, and export lines for humans on stderr.',
    )
    parser.add_argument(
        '--host',
        dest='hosts',
        action='append',
        required=True,
        metavar='NAME',
        help='hypervisor (compute service) host name; repeat for several',
    )
    parser.add_argument(
        '--servers-per-host',
        type=int,
        default=2,
        help='servers to boot on each host (default 2)',
    )
    parser.add_argument(
        '--projects',
        type=int,
        default=1,
        help='spread the servers of each host over '
        'project-1..project-N round-robin (default 1)',
    )
    parser.add_argument(
        '--latency-ms',
        type=float,
        default=0,
        help='delay added to every nova request',
    )
    parser.add_argument(
        '--port',
        type=int,
        default=0,
        help='TCP port on 127.0.0.1 (default: any free)',
    )
    parser.add_argument(
        '--state-dir',
        help='databases, log, clouds.yaml (default: a '
        'temporary directory, removed at exit)',
    )
    args = parser.parse_args(argv)
    if args.projects < 1 or args.servers_per_host < 0:
        parser.error('need --projects >= 1 and --servers-per-host >= 0')
    return args


def _write_clouds_yaml(path, endpoint, identity_url, tokens):
    """clouds.yaml, written as JSON (which is YAML)."""
    clouds = {
        name: {
            'auth_type': 'admin_token',
            'auth': {'endpoint': endpoint, 'token': token},
            'identity_endpoint_override': identity_url,
        }
        for name, token in tokens.items()
    }
    with open(path, 'w') as clouds_file:
        json.dump({'clouds': clouds}, clouds_file, indent=2)


def _serve(args, state_dir):
    """Start the cloud, boot the servers, print the ready lines; return
    the running HTTP server.
    """
    started = time.monotonic()
    projects = [f'project-{n}' for n in range(1, args.projects + 1)]
    os.environ['OS_NOVA_DISABLE_EVENTLET_PATCHING'] = '1'
    # The harness's temporary files (placement's database, lock files)
    # land in the state directory too.
    tempfile.tempdir = state_dir
    cloud = _cloud_class()(args.hosts, state_dir)
    cloud.setUp()

    import waitress

    traffic = _TrafficControl(cloud.app, cloud.boot, args.latency_ms)
    # Requests sleep their latency in these threads: enough of them for
    # many concurrent clients.
    server = waitress.create_server(
        traffic, host='127.0.0.1', port=args.port, threads=64
    )
    threading.Thread(target=server.run, daemon=True).start()

    reservations = []
    for host in args.hosts:
        for index, project in enumerate(projects):
            # Server n of a host goes to project n % len(projects).
            count = len(range(index, args.servers_per_host, len(projects)))
            if count:
                reservations.append(
                    (host, count, cloud.request_servers(host, count, project))
                )
    servers = {host: [] for host in args.hosts}
    for host, count, reservation_id in reservations:
        servers[host] += cloud.wait_for_servers(reservation_id, count)

    port = int(server.effective_port)
    endpoint = f'http://127.0.0.1:{port}/v2.1'
    identity_url = f'http://127.0.0.1:{port}{IDENTITY_PREFIX}'
    clouds_yaml = os.path.join(state_dir, 'clouds.yaml')
    _write_clouds_yaml(
        clouds_yaml,
        endpoint,
        identity_url,
        {'sandbox': ADMIN_TOKEN, 'sandbox-demo': f'demo:{projects[0]}'},
    )
    env = _client_env(endpoint, identity_url, ADMIN_TOKEN)
    log_file = os.path.join(state_dir, LOG_FILE)
    novaclient_args = [
        '--os-auth-type', 'admin_token',
        '--os-endpoint', endpoint,
        '--os-token', ADMIN_TOKEN,
    ]  # fmt: skip
    ready = {
        'endpoint': endpoint,
        'port': port,
        'identity_url': identity_url,
        'clouds_yaml': clouds_yaml,
        'env': env,
        'novaclient_args': novaclient_args,
        'projects': projects,
        'servers': servers,
        'hypervisors': cloud.hypervisors(),
        'state_dir': state_dir,
        'log_file': log_file,
        'pid': os.getpid(),
    }
    # sys.__stdout__: the harness may have replaced sys.stdout.
    print(json.dumps(ready), file=sys.__stdout__, flush=True)
    exports = ' '.join(
        f'{key}={shlex.quote(value)}' for key, value in env.items()
    )
    print(
        f'nova sandbox ready in {time.monotonic() - started:.1f} s at '
        f'{endpoint} (log: {log_file}). For openstack and nova:\n'
        f'export {exports}\n'
        f'or, for openstack only (sandbox-demo: a member of '
        f'{projects[0]}):\n'
        f'export OS_CLIENT_CONFIG_FILE={shlex.quote(clouds_yaml)} '
        f'OS_CLOUD=sandbox',
        file=sys.__stderr__,
        flush=True,
    )
    return server


def main(argv=None):
    args = _parse_args(argv)
    state_dir = os.path.abspath(
        args.state_dir or tempfile.mkdtemp(prefix='nova-sandbox-')
    )
    os.makedirs(state_dir, exist_ok=True)
    parent = os.getppid()
    # Until ready, SIGINT and SIGTERM end the process at once.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    try:
        server = _serve(args, state_dir)
    except Exception:
        traceback.print_exc()
        # nova's non-daemon threads would keep a failed process alive.
        os._exit(1)
    stop = threading.Event()
    for signal_number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signal_number, lambda *_ignored: stop.set())
    # Also stop when the parent dies, so that a killed test run leaves no
    # sandbox behind.
    while not stop.wait(1) and os.getppid() == parent:
        pass
    server.close()
    if not args.state_dir:
        shutil.rmtree(state_dir, ignore_errors=True)
    # nova's services run in non-daemon threads that are not worth
    # stopping one by one: the process, its sockets and files go at once.
    os._exit(0)


if __name__ == '__main__':
    main()
