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

"""Functional tests: the real ``openstack`` CLI against a real nova-api.

Each test process starts a sandbox (``osc_hypervisor_servers.tests.
sandbox``) of each kind the first time a test needs it and stops it when
the process exits. Tests never depend on each other's changes: each uses
its own property keys and tags, and puts back any server state it
changes. Tests that move servers use a cloud of their own (``drain``),
where each drains source hypervisors it declares (:func:`drains`).

The CLI authenticates as an operator's does: a password, from the
sandbox's clouds.yaml, as the sandbox's ``admin`` unless a test names
another user (``member``, ``reader``: see ``sandbox.protocol``).
"""

import atexit
import json
import re
import signal
import subprocess
import time
import uuid

import fixtures
import testtools
import testtools.content

from osc_hypervisor_servers.tests import sandbox as nova_sandbox

HOSTS = ('compute-1', 'compute-10', 'compute-2')
SERVERS_PER_HOST = 3
PROJECTS = 2
#: Where the drain cloud's tests move servers to.
DRAIN_SPARES = ('spare-1', 'spare-2')
#: The drain cloud's sources, as its tests declare them (:func:`drains`).
_drain_sources: dict[str, str] = {}
#: Node names of drain sources that are not their host's name: drivers
#: report whatever they like, and Nova's node filter is a regular
#: expression ("odd1a" matches the pattern "odd(1)+[a]").
DRAIN_NODES = {'odd-1': 'odd(1)+[a]', 'odd-2': 'odd1a'}
#: The pre-flight cloud: a source with a device no other host has, and
#: two spares with room for 4096 MB each (nova reserves 512 MB a host).
PREFLIGHT_HOSTS = (
    nova_sandbox.Host(
        'pf-src', vcpus=16, memory_mb=33280, disk_gb=400,
        resources=(('CUSTOM_GPU', 1),),
    ),
    nova_sandbox.Host('pf-a', vcpus=4, memory_mb=4608, disk_gb=100),
    nova_sandbox.Host('pf-b', vcpus=4, memory_mb=4608, disk_gb=100),
)  # fmt: skip
#: The sized cloud: three racks of one size, filled by the tests
#: (test_identity.build_nearly_full_cloud).
RACKS = tuple(
    nova_sandbox.Host(f'rack-{n}', vcpus=8, memory_mb=16384, disk_gb=200)
    for n in (1, 2, 3)
)


def drains(*hosts):
    """Declare the hypervisors a drain test drains: the drain cloud has
    them, disabled, so that the scheduler never moves another test's
    servers onto them. No two tests share one.
    """

    def declare(test):
        for host in hosts:
            owner = _drain_sources.setdefault(host, test.__qualname__)
            if owner != test.__qualname__:
                raise AssertionError(f'{host} is drained by {owner} too')
        return test

    return declare


def _drain_cloud():
    cloud = nova_sandbox.NovaSandbox(
        sorted(_drain_sources) + list(DRAIN_SPARES),
        servers_per_host=0,
        projects=PROJECTS,
        nodes={
            host: node
            for host, node in DRAIN_NODES.items()
            if host in _drain_sources
        },
    ).start()
    for host in _drain_sources:
        set_service(cloud, host, status='disabled')
    return cloud


def compute_service(cloud, host):
    status, answer = cloud.api(
        'GET', f'/os-services?binary=nova-compute&host={host}'
    )
    (service,) = answer['services']
    return service


def set_service(cloud, host, **changes):
    service_id = compute_service(cloud, host)['id']
    status, answer = cloud.api('PUT', f'/os-services/{service_id}', changes)
    if status >= 300:
        raise RuntimeError(f'service of {host}: {status} {answer}')


#: The maintain cloud: mt-2 has room for a server the others cannot take
#: (nova reserves 512 MB a host); every host reports in each second.
MAINTAIN_HOSTS = (
    nova_sandbox.Host('mt-1', vcpus=4, memory_mb=4608, disk_gb=100),
    nova_sandbox.Host('mt-2', vcpus=8, memory_mb=8704, disk_gb=200),
    nova_sandbox.Host('mt-3', vcpus=4, memory_mb=4608, disk_gb=100),
    nova_sandbox.Host('mt-4', vcpus=4, memory_mb=4608, disk_gb=100),
)

_CLOUDS = {
    'main': lambda: nova_sandbox.NovaSandbox(
        HOSTS, servers_per_host=SERVERS_PER_HOST, projects=PROJECTS
    ).start(),
    'drain': _drain_cloud,
    'preflight': lambda: nova_sandbox.NovaSandbox(
        PREFLIGHT_HOSTS,
        servers_per_host=0,
        cpu_allocation_ratio=1.0,
        ram_allocation_ratio=1.0,
        disk_allocation_ratio=1.0,
    ).start(),
    'maintain': lambda: nova_sandbox.NovaSandbox(
        MAINTAIN_HOSTS,
        servers_per_host=2,
        projects=PROJECTS,
        cpu_allocation_ratio=1.0,
        ram_allocation_ratio=1.0,
        disk_allocation_ratio=1.0,
        report_interval=1,
    ).start(),
    'sized': lambda: nova_sandbox.NovaSandbox(
        RACKS,
        servers_per_host=0,
        cpu_allocation_ratio=1.0,
        disk_allocation_ratio=2.0,
    ).start(),
}
_sandboxes: dict[str, nova_sandbox.NovaSandbox] = {}
_sandbox_errors: dict[str, RuntimeError] = {}


def sandbox(kind='main'):
    """This process's sandbox of ``kind``, started on first use.

    A sandbox that failed to start is not tried again for every test.
    """
    if kind in _sandbox_errors:
        raise RuntimeError(f'the {kind} nova sandbox did not start') from (
            _sandbox_errors[kind]
        )
    if kind not in _sandboxes:
        try:
            _sandboxes[kind] = _CLOUDS[kind]()
        except RuntimeError as error:
            _sandbox_errors[kind] = error
            raise
        atexit.register(_sandboxes[kind].stop)
    return _sandboxes[kind]


def _ctrl_c_as_at_a_terminal():
    """SIGINT as a terminal leaves it, whatever the tests were started by.

    A shell without job control starts its background jobs (``nohup ...
    &``) with SIGINT ignored, which their children inherit; Python then
    never raises KeyboardInterrupt, and a test's SIGINT would be no
    Ctrl-C at all.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class FunctionalTestCase(testtools.TestCase):
    cloud = 'main'

    def setUp(self):
        super().setUp()
        self.sandbox = sandbox(self.cloud)
        # Unique per test, so that tests sharing the cloud stay apart.
        self.mark = 'f' + uuid.uuid4().hex[:8]
        # Journals of this test's runs land here, not in the home.
        self.state_home = self.useFixture(fixtures.TempDir()).path
        self._attach_nova_problems_on_failure()

    def _attach_nova_problems_on_failure(self):
        """A failed test shows what nova warned of while it ran: why a
        move failed is in nova's log, not in the CLI's output.
        """
        offset = self.sandbox.log_size()
        self.addOnException(
            lambda exc_info: self.addDetail(
                'nova-problems',
                testtools.content.text_content(
                    self.sandbox.problems_since(offset)
                ),
            )
        )

    def env(self, user=nova_sandbox.ADMIN):
        return dict(self.sandbox.env(user), XDG_STATE_HOME=self.state_home)

    def openstack(self, *args, user=nova_sandbox.ADMIN):
        """Run the real CLI as ``user``; return (exit code, stdout, stderr).

        The sandbox's ``env()`` puts this Python's ``openstack`` first on
        PATH.
        """
        process = subprocess.run(
            ['openstack', *args],
            env=self.env(user),
            capture_output=True,
            text=True,
            timeout=600,
        )
        self.assertNotIn('Traceback', process.stderr)
        return process.returncode, process.stdout, process.stderr

    def start_openstack_and_wait_for_a_write(self, *args):
        """Start the CLI in the background; return once Nova got a write.

        The first write means the listing is done. With latency added,
        a test then has until that write's answer to act mid-run.
        """
        self.sandbox.reset_stats()
        process = self.start_openstack(*args)
        deadline = time.monotonic() + 120
        while self.sandbox.stats()['writes'] == 0:
            self.assertIsNone(process.poll(), 'the command ended early')
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.02)
        return process

    def start_openstack(self, *args):
        """Start the CLI in the background (see :meth:`finish`)."""
        process = subprocess.Popen(
            ['openstack', *args],
            env=self.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=_ctrl_c_as_at_a_terminal,
        )
        self.addCleanup(process.kill)
        return process

    def finish(self, process):
        """Wait for a background CLI; return (exit code, rows, stderr)."""
        stdout, stderr = process.communicate(timeout=300)
        self.assertNotIn('Traceback', stderr)
        return process.returncode, json.loads(stdout), stderr

    def hypervisor_servers(self, *args, **kwargs):
        """``openstack hypervisor servers ... -f json``, parsed."""
        exit_code, stdout, stderr = self.openstack(
            'hypervisor', 'servers', *args, '-f', 'json', **kwargs
        )
        rows = json.loads(stdout) if stdout.strip() else None
        return exit_code, rows, stderr

    def api(self, method, path, body=None, **kwargs):
        status, answer = self.sandbox.api(method, path, body, **kwargs)
        self.assertLess(status, 300, f'{method} {path}: {answer}')
        return answer

    def server(self, server_id):
        return self.api('GET', f'/servers/{server_id}')['server']

    def all_servers(self):
        """Every server of every project, by ID, as the API shows it."""
        servers = self.api('GET', '/servers/detail?all_tenants=1')['servers']
        return {server['id']: server for server in servers}

    def servers_on(self, host):
        return sorted(
            server_id
            for server_id, server in self.all_servers().items()
            if server['OS-EXT-SRV-ATTR:hypervisor_hostname'] == host
        )

    def assertChanged(
        self, server, properties=None, tags=(), description=None
    ):
        for key, value in (properties or {}).items():
            self.assertEqual(value, server['metadata'].get(key))
        for tag in tags:
            self.assertIn(tag, server['tags'])
        if description is not None:
            self.assertEqual(description, server['description'])

    def assertUntouched(self, before, after):
        """Servers in ``before`` look the same in ``after``."""
        for server_id, server in before.items():
            for field in ('metadata', 'tags', 'description', 'updated'):
                self.assertEqual(
                    server[field],
                    after[server_id][field],
                    f'{field} of server {server_id} changed',
                )

    def assertRefusedWithoutWrites(self, command, argument_lists):
        """Each ``hypervisor servers <command>`` run fails with a one-line
        error, prints no table and writes nothing to any server.
        """
        before = self.all_servers()
        for args in argument_lists:
            self.sandbox.reset_stats()
            exit_code, stdout, stderr = self.openstack(
                'hypervisor', 'servers', command, *args
            )
            self.assertEqual(1, exit_code, args)
            self.assertEqual('', stdout, args)
            self.assertEqual(1, len(stderr.strip().splitlines()), stderr)
            self.assertEqual(0, self.writes(), args)
        self.assertUntouched(before, self.all_servers())

    def server_action(self, server_id, action, **user_and_project):
        self.api(
            'POST',
            f'/servers/{server_id}/action',
            {action: None},
            **user_and_project,
        )

    def as_owner(self, server_id):
        """``api()`` arguments for the member of the server's project."""
        return {
            'user': nova_sandbox.MEMBER,
            'project': self.server(server_id)['tenant_id'],
        }

    def set_state(self, server_id, state):
        self.api(
            'POST',
            f'/servers/{server_id}/action',
            {'os-resetState': {'state': state}},
        )

    def wait_for_status(self, server_id, status, timeout=60):
        deadline = time.monotonic() + timeout
        while self.server(server_id)['status'] != status:
            self.assertLess(time.monotonic(), deadline, f'never {status}')
            time.sleep(0.2)

    def writes(self):
        """Write requests nova received since the last ``reset_stats()``."""
        return self.sandbox.stats('compute')['writes']

    def journal_of(self, stderr):
        """The journal a run named on stderr."""
        found = re.search(r'^Journal of this run: (.+)$', stderr, re.M)
        if found is None:
            self.fail(f'no journal named on stderr: {stderr}')
        return found.group(1)


class DrainTestCase(FunctionalTestCase):
    """Tests in the drain cloud, each on the sources it declares."""

    cloud = 'drain'

    def service(self, host):
        return compute_service(self.sandbox, host)

    def set_service(self, host, **changes):
        set_service(self.sandbox, host, **changes)

    def boot_on(self, host, count):
        """Boot on a source, enabled only meanwhile."""
        self.set_service(host, status='enabled')
        try:
            return self.sandbox.boot(host, count)
        finally:
            self.set_service(host, status='disabled')

    def where(self, server_id):
        server = self.server(server_id)
        return server['OS-EXT-SRV-ATTR:host'], server['status']

    def records(self, server_id):
        return self.api('GET', f'/os-migrations?instance_uuid={server_id}')[
            'migrations'
        ]

    def wait_until(self, check, timeout=60):
        deadline = time.monotonic() + timeout
        while not check():
            self.assertLess(time.monotonic(), deadline, 'never happened')
            time.sleep(0.3)

    def settled(self, server_ids):
        """Whether no server of ``server_ids`` has a task under way."""
        return all(
            self.server(server_id)['OS-EXT-STS:task_state'] is None
            for server_id in server_ids
        )
