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

"""The sandbox seen from the process that uses it (tests, tools).

This module and ``protocol`` are all the parent imports: the standard
library only, never nova or keystone (whose import-order rules,
monkeypatching and global configuration stay in the children).
"""

import collections
from collections.abc import Iterable
from collections.abc import Sequence
import dataclasses
import datetime
import json
import os
import pathlib
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any
import urllib.error
import urllib.parse
import urllib.request

from osc_hypervisor_servers.tests.sandbox import protocol
from osc_hypervisor_servers.tests.sandbox.protocol import ADMIN

# The directory of this Python's console scripts (``openstack``, ``nova``
# installed beside this package), whether or not its venv is activated.
BIN_DIR = os.path.dirname(sys.executable)
# A test runner's capture settings would make nova's harness (an oslotest
# test case) swallow the child's ready line.
TEST_CAPTURE_VARIABLES = frozenset(
    {'OS_STDOUT_CAPTURE', 'OS_STDERR_CAPTURE', 'OS_LOG_CAPTURE'}
)
# Put on the child's PYTHONPATH, for a checkout that is not installed.
_PROJECT_ROOT = str(pathlib.Path(__file__).resolve().parents[3])
# A cached token is used until this close to its expiry.
_TOKEN_MARGIN_SECONDS = 300


class NovaSandbox:
    """A sandbox child process, seen from the process that uses it.

    ``hosts`` are host names, or ``protocol.Host`` for a hypervisor of a
    given size (FakeDriver's own is 1000 vCPUs, 800000 MiB, 600000 GiB).
    ``projects`` is how many projects the servers of each host are spread
    over; ``self.projects`` lists their keystone IDs once started.
    ``max_limit`` sets nova's ``[api] max_limit`` (the most items a
    listing returns per page; nova's default is 1000), so that pagination
    shows with a few servers.  The allocation ratios are nova's options
    of those names (None: nova's initial ratios, 4.0, 1.0 and 1.0).
    ``nodes`` names the node (hypervisor) of a host, by host: FakeDriver
    reports the host's name unless told otherwise, and real drivers
    report whatever they like (``rx(1)+[a]``, say).
    ``start()`` spawns ``python -m`` this package and waits for its ready
    line, which the properties below read.  ``stop()`` (or leaving the
    ``with`` block) sends SIGTERM and waits for the child to exit.  Each
    instance has its own child, port and state directory.
    """

    def __init__(
        self,
        hosts: Sequence[str | protocol.Host],
        servers_per_host: int,
        projects: int = 1,
        latency_ms: float = 0,
        max_limit: int | None = None,
        cpu_allocation_ratio: float | None = None,
        ram_allocation_ratio: float | None = None,
        disk_allocation_ratio: float | None = None,
        nodes: dict[str, str] | None = None,
        report_interval: int | None = None,
        port: int = 0,
        state_dir: str | None = None,
        start_timeout: float = 300,
    ) -> None:
        self._arguments = [
            '--servers-per-host', str(servers_per_host),
            '--projects', str(projects),
            '--latency-ms', str(latency_ms),
            '--port', str(port),
        ]  # fmt: skip
        if max_limit is not None:
            self._arguments += ['--max-limit', str(max_limit)]
        if report_interval is not None:
            self._arguments += ['--report-interval', str(report_interval)]
        for option, ratio in (
            ('--cpu-allocation-ratio', cpu_allocation_ratio),
            ('--ram-allocation-ratio', ram_allocation_ratio),
            ('--disk-allocation-ratio', disk_allocation_ratio),
        ):
            if ratio is not None:
                self._arguments += [option, str(ratio)]
        for host in hosts:
            self._arguments += ['--host', protocol.host_argument(host)]
        for host, node in (nodes or {}).items():
            self._arguments += ['--node', f'{host}={node}']
        self._own_state_dir = state_dir is None
        self.state_dir = state_dir
        self.start_timeout = start_timeout
        self.process: subprocess.Popen[str] | None = None
        self.info: protocol.Ready | None = None
        # (user, project) -> (token, expiry as a POSIX time)
        self._tokens: dict[tuple[str, str | None], tuple[str, float]] = {}
        self._tokens_lock = threading.Lock()

    def __enter__(self) -> 'NovaSandbox':
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def ready(self) -> protocol.Ready:
        """The child's ready line (see ``protocol.Ready``)."""
        if self.info is None:
            raise RuntimeError('the nova sandbox is not started')
        return self.info

    @property
    def endpoint(self) -> str:
        return self.ready['endpoint']

    @property
    def port(self) -> int:
        return self.ready['port']

    @property
    def identity_url(self) -> str:
        return self.ready['identity_url']

    @property
    def placement_url(self) -> str:
        return self.ready['placement_url']

    @property
    def clouds_yaml(self) -> str:
        return self.ready['clouds_yaml']

    @property
    def projects(self) -> list[str]:
        """The keystone IDs of project-1..project-N, in that order."""
        return self.ready['projects']

    @property
    def servers(self) -> dict[str, list[str]]:
        """Server ids per host: booted at start-up, then by ``boot()``."""
        return self.ready['servers']

    @property
    def hypervisors(self) -> dict[str, str]:
        """Hypervisor id per hostname."""
        return self.ready['hypervisors']

    def start(self) -> 'NovaSandbox':
        """Spawn the sandbox and wait until its servers are ACTIVE."""
        if self._own_state_dir:
            self.state_dir = tempfile.mkdtemp(prefix='nova-sandbox-')
        assert self.state_dir is not None
        os.makedirs(self.state_dir, exist_ok=True)
        child_env = {
            key: value
            for key, value in os.environ.items()
            if key not in TEST_CAPTURE_VARIABLES
        }
        child_env['PYTHONPATH'] = os.pathsep.join(
            filter(None, [_PROJECT_ROOT, os.environ.get('PYTHONPATH')])
        )
        # Native threads, no eventlet: see cloud.py.
        child_env['OS_NOVA_DISABLE_EVENTLET_PATCHING'] = '1'
        stderr_path = self._state_file(protocol.STDERR_FILE)
        with open(stderr_path, 'wb') as stderr:
            process = self.process = subprocess.Popen(
                [
                    sys.executable,
                    '-m',
                    __package__,
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
        stdout = process.stdout
        assert stdout is not None
        ready_lines: queue.Queue[str] = queue.Queue()
        threading.Thread(
            target=lambda: ready_lines.put(stdout.readline()), daemon=True
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

    def stop(self) -> int | None:
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
        if process.stdout is not None:
            process.stdout.close()
        if self._own_state_dir and self.state_dir:
            shutil.rmtree(self.state_dir, ignore_errors=True)
        return process.returncode

    def _state_file(self, name: str) -> str:
        return os.path.join(self.state_dir or '', name)

    def log_size(self) -> int:
        """Where nova's log ends now: an offset for :meth:`problems_since`."""
        path = self._state_file(protocol.LOG_FILE)
        return os.path.getsize(path) if os.path.exists(path) else 0

    def problems_since(self, offset: int, lines: int = 200) -> str:
        """The warnings and errors nova logged after ``offset``, with
        their tracebacks: what a failed test needs to say why.
        """
        path = self._state_file(protocol.LOG_FILE)
        kept: collections.deque[str] = collections.deque(maxlen=lines)
        keeping = False
        with open(path, errors='replace') as log:
            log.seek(offset)
            for line in log:
                level = protocol.LOG_LEVEL.match(line)
                if level is not None:
                    keeping = level.group(1) not in ('DEBUG', 'INFO')
                if keeping:
                    kept.append(line)
        return ''.join(kept)

    def _log_tail(self, lines: int = 40) -> str:
        tails = []
        for name in (
            protocol.LOG_FILE,
            protocol.KEYSTONE_LOG_FILE,
            protocol.STDERR_FILE,
        ):
            path = self._state_file(name)
            if os.path.exists(path):
                with open(path, errors='replace') as log:
                    tail = ''.join(collections.deque(log, maxlen=lines))
                tails.append(f'==> {name} <==\n{tail}')
        return '\n'.join(tails)

    def env(self, user: str = ADMIN) -> dict[str, str]:
        """Environment for an ``openstack`` or ``nova`` subprocess.

        A copy of this process's environment without its ``OS_*`` and
        ``NOVA_*`` variables (a stray ``OS_CLOUD`` would win), plus the
        sandbox's for ``user`` (see ``protocol.client_env``): clouds.yaml
        and the user's cloud in it, password auth.  ``BIN_DIR`` comes
        first on ``PATH``, so that a plain ``openstack`` or ``nova`` is
        the one installed beside this package:
        ``subprocess.run(['openstack', ...], env=sandbox.env())``.
        """
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(('OS_', 'NOVA_'))
        }
        env['PATH'] = os.pathsep.join(
            filter(None, [BIN_DIR, os.environ.get('PATH')])
        )
        env.update(
            protocol.client_env(self.clouds_yaml, self.identity_url, user)
        )
        return env

    def token(self, user: str = ADMIN, project: str | None = None) -> str:
        """A keystone token of ``user`` (password auth), scoped to
        ``project`` (an ID; None: the user's project in clouds.yaml).

        Tokens are cached until shortly before they expire.  They come
        from keystone's internal endpoint: the sandbox's own calls are
        not the clients' traffic, and never meet injected faults.
        """
        key = (user, project)
        with self._tokens_lock:
            cached = self._tokens.get(key)
            if cached is None or cached[1] < (
                time.time() + _TOKEN_MARGIN_SECONDS
            ):
                cached = self._tokens[key] = _issue_token(
                    self.ready['identity_internal_url'], user, project
                )
        return cached[0]

    def api(
        self,
        method: str,
        path: str,
        body: Any = None,
        user: str = ADMIN,
        project: str | None = None,
        microversion: str | None = '2.100',
        timeout: float = 120,
    ) -> tuple[int, Any]:
        """Call the compute API as ``user`` in ``project`` (see
        ``token()``); return (status, decoded JSON or None).

        ``path`` is relative to the endpoint, e.g. ``/servers/detail``.
        Connection errors (a dropped request) propagate.
        """
        return http_json(
            method,
            self.endpoint + path,
            body,
            self._api_headers(user, project, microversion),
            timeout,
        )

    def api_list(
        self,
        path: str,
        key: str,
        user: str = ADMIN,
        project: str | None = None,
        microversion: str | None = '2.100',
    ) -> list[Any]:
        """Every item of a listing, following its ``next`` links.

        ``key`` names the list in the answer, e.g. ``servers``: nova
        returns at most ``max_limit`` of them per page.
        """
        items: list[Any] = []
        url: str | None = self.endpoint + path
        headers = self._api_headers(user, project, microversion)
        while url:
            status, answer = http_json('GET', url, None, headers, 120)
            if status >= 300:
                raise RuntimeError(f'GET {url}: {status} {answer}')
            items += answer[key]
            url = _next_page(answer, key, self.endpoint)
        return items

    def _api_headers(
        self, user: str, project: str | None, microversion: str | None
    ) -> dict[str, str]:
        headers = {'X-Auth-Token': self.token(user, project)}
        if microversion:
            headers['OpenStack-API-Version'] = f'compute {microversion}'
        return headers

    def add_project(self, name: str) -> str:
        """Create a keystone project in which the admin, the member and
        the reader have the roles they have in the sandbox's projects;
        return its ID (for ``boot()``, ``api()``, ``token()``).
        """
        answer = self._identity(
            'POST',
            '/projects',
            {'project': {'name': name, 'domain_id': protocol.DOMAIN}},
        )
        project_id: str = answer['project']['id']
        # Each user has the role of its own name.
        for user in protocol.USERS:
            (found,) = self._identity('GET', f'/users?name={user}')['users']
            (role,) = self._identity('GET', f'/roles?name={user}')['roles']
            self._identity(
                'PUT',
                f'/projects/{project_id}/users/{found["id"]}'
                f'/roles/{role["id"]}',
            )
        return project_id

    def _identity(self, method: str, path: str, body: Any = None) -> Any:
        url = f'{self.ready["identity_internal_url"]}/v3{path}'
        headers = {'X-Auth-Token': self.token()}
        status, answer = http_json(method, url, body, headers, 60)
        if status >= 300:
            raise RuntimeError(f'keystone {method} {path}: {status} {answer}')
        return answer

    def _control(
        self, method: str, name: str, body: Any = None, timeout: float = 60
    ) -> Any:
        url = f'http://127.0.0.1:{self.port}{protocol.CONTROL_PREFIX}{name}'
        status, answer = http_json(method, url, body, {}, timeout)
        if status >= 400:
            raise RuntimeError(f'sandbox {method} {name}: {status} {answer}')
        return answer

    def stats(self, service: str = 'compute') -> dict[str, Any]:
        """Requests ``service`` received since the last ``reset_stats()``.

        ``{"total": n, "reads": n, "writes": n, "by_method": {"GET": n,
        ...}, "by_resource": {"GET os-migrations": n, ...},
        "faulted_503": n, "dropped": n, "cut_while_down": n}``; faulted,
        dropped and cut requests count in the totals too.  ``service`` is
        ``compute``, ``identity`` or ``placement``: a token request to
        identity is no nova write.
        """
        stats: dict[str, Any] = self._control('GET', 'stats')[service]
        return stats

    def reset_stats(self) -> None:
        self._control('DELETE', 'stats')

    def set_latency(self, ms: float) -> None:
        """Delay every request to every service by ``ms`` milliseconds."""
        self._control('PUT', 'latency', {'ms': ms})

    def set_faults(
        self,
        error_rate: float = 0.0,
        drop_rate: float = 0.0,
        seed: int | None = None,
        methods: Iterable[str] | None = None,
        services: Iterable[str] = ('compute',),
        first: Sequence[str] = (),
    ) -> None:
        """Fault a fraction of requests; no arguments: no faults.

        ``error_rate`` of them are answered 503 (``Retry-After: 0``)
        without reaching the service; ``drop_rate`` of them reach it,
        then the connection is closed before the response.  ``methods``
        limits faults to those HTTP methods, ``services`` to those
        services (by default nova only, so that the clients can still
        authenticate); ``seed`` makes them repeatable.  ``first`` faults
        the first requests of each method and resource of a service, in
        order, whatever the rates: ``['faulted_503', 'dropped']`` answers
        the first ``GET os-server-groups`` 503 and drops the second.
        """
        self._control(
            'PUT',
            'faults',
            {
                'error_rate': error_rate,
                'drop_rate': drop_rate,
                'seed': seed,
                'methods': None if methods is None else list(methods),
                'services': list(services),
                'first': list(first),
            },
        )

    def set_down(self, services: Iterable[str] = ()) -> None:
        """Make ``services`` answer nothing (every request to them is cut
        before they see it, version documents included); no argument:
        every service answers again.  The sandbox's own calls and the
        services' calls to keystone go on.
        """
        self._control('PUT', 'down', {'services': list(services)})

    def stop_compute(self, host: str) -> None:
        """Stop the compute service of ``host`` (a host rebooting): it
        reports in no more until ``restart_compute``.
        """
        self._control('POST', 'stop', {'host': host}, timeout=120)

    def restart_compute(self, host: str) -> None:
        """Restart the compute service of ``host``, stopped or not (a
        repaired host: it cleans up the servers evacuated from it, and
        may be marked up).
        """
        self._control('POST', 'restart', {'host': host}, timeout=300)

    def set_move_seconds(self, seconds: float) -> None:
        """Make every live migration take ``seconds`` longer, so that a
        test can act while one is under way; 0 puts it back.
        """
        self._control('PUT', 'move_seconds', {'seconds': seconds})

    def set_confirm_lag(self, seconds: float) -> None:
        """Make the server of every confirmed cold migration show it
        ``seconds`` after the migration's record does (nova writes the
        record first); 0 puts it back.
        """
        self._control('PUT', 'confirm_lag', {'seconds': seconds})

    def boot(
        self,
        host: str | None,
        count: int,
        project: str | None = None,
        flavor: str | None = None,
        group: str | None = None,
        availability_zone: str | None = None,
    ) -> list[str]:
        """Boot ``count`` more servers (see ``protocol.Boot``); return
        their ids once none is in BUILD.
        """
        batch = protocol.Boot(
            host, count, project, flavor, group, availability_zone
        )
        return sum(self.boot_batches([batch]).values(), [])

    def boot_batches(
        self, batches: Iterable[protocol.Boot | tuple[Any, ...]]
    ) -> dict[str, list[str]]:
        """Boot several batches at once: ``protocol.Boot``, or tuples of
        its fields such as ``(host, count, project)``.

        Every batch is requested before the sandbox waits for any, so
        that nova builds them side by side.  Return the new ids per host
        they are on (also added to ``servers``).
        """
        requested = [
            batch
            if isinstance(batch, protocol.Boot)
            else protocol.Boot(*batch)
            for batch in batches
        ]
        answer = self._control(
            'POST',
            'boot',
            {
                'batches': [
                    dataclasses.asdict(
                        dataclasses.replace(
                            batch, project=batch.project or self.projects[0]
                        )
                    )
                    for batch in requested
                ]
            },
            timeout=600,
        )
        booted: dict[str, list[str]] = answer['servers']
        for host, ids in booted.items():
            self.servers.setdefault(host, []).extend(ids)
        return booted


def _issue_token(
    identity_url: str, user: str, project: str | None
) -> tuple[str, float]:
    """Authenticate ``user`` with its password; return (token, expiry)."""
    scope = (
        {'id': project}
        if project
        else {
            'name': protocol.home_project(user),
            'domain': {'id': protocol.DOMAIN},
        }
    )
    body = {
        'auth': {
            'identity': {
                'methods': ['password'],
                'password': {
                    'user': {
                        'name': user,
                        'domain': {'id': protocol.DOMAIN},
                        'password': protocol.PASSWORD,
                    }
                },
            },
            'scope': {'project': scope},
        }
    }
    request = urllib.request.Request(
        f'{identity_url}/v3/auth/tokens',
        data=json.dumps(body).encode(),
        method='POST',
        headers={'Content-Type': 'application/json'},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            token = response.headers['X-Subject-Token']
            answer = json.load(response)
    except urllib.error.HTTPError as error:
        raise RuntimeError(
            f'keystone refused a token to {user} in {project}: '
            f'{error.code} {error.read().decode(errors="replace")}'
        ) from error
    # Python 3.10 reads no "Z".
    expires_at = answer['token']['expires_at'].replace('Z', '+00:00')
    return token, datetime.datetime.fromisoformat(expires_at).timestamp()


def _next_page(answer: Any, key: str, endpoint: str) -> str | None:
    """The URL of a listing's next page under ``endpoint``, if any."""
    for link in answer.get(f'{key}_links', ()):
        if link.get('rel') == 'next':
            # nova builds the link from the request's Host header; keep
            # only its path and query.
            href: str = link['href']
            parts = urllib.parse.urlsplit(href)
            base = urllib.parse.urlsplit(endpoint)
            return urllib.parse.urlunsplit(
                (base.scheme, base.netloc, parts.path, parts.query, '')
            )
    return None


def http_json(
    method: str,
    url: str,
    body: Any,
    headers: dict[str, str],
    timeout: float,
) -> tuple[int, Any]:
    """One request with urllib; return (status, decoded JSON body).

    A body that is not JSON comes back as text; HTTP errors come back as
    their status, connection errors propagate.
    """
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
