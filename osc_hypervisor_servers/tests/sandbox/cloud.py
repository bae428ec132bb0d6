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

"""nova's functional-test harness, run as a long-lived cloud (child only).

``SandboxCloud`` is a nova functional test case
(``nova.tests.functional.integrated_helpers._IntegratedTestBase``) whose
``setUp()`` brings the whole cloud up: conductor, scheduler and one
``FakeDriver`` compute service per host on oslo.messaging's ``fake://``
transport, the real placement app in-process, and nova's in-process
fakes for Neutron, Glance and Cinder.  It is never run as a test.  This
is the only module that uses ``nova.tests``, which is not a stable API:
a nova upgrade should touch this module.

Identity is real: nova's API is nova's own api-paste.ini (as the nova
wheel installs it), whose pipeline has keystonemiddleware's
``auth_token`` and nova's ``NovaKeystoneContext``, and nova's default
policy.  ``auth_token`` validates tokens with the sandbox keystone
(``identity``) at its internal endpoint, as the service user ``nova``.
Placement runs twice over one database: the harness's app without auth
for nova's scheduler and computes (through wsgi-intercept), and
placement's own keystone pipeline, validating tokens as ``placement``,
for the sandbox's HTTP clients.  The sandbox's own calls to nova
(booting, listing) go straight to nova's app with real tokens of the
admin user.

Traps, and why the code below looks the way it does:

- ``nova.tests.functional`` must be imported before any other nova module,
  with ``OS_NOVA_DISABLE_EVENTLET_PATCHING=1`` in the environment: native
  threads, no eventlet.  Importing ``nova.context`` first makes nova
  refuse to start ("eventlet library imported early").  So it is this
  module's first import, and only the child imports this module (the
  parent sets the variable in the child's environment, ``__main__`` sets
  it again before importing this module).
- The harness's ``CellDatabases`` fixture deadlocks a long-running server
  under concurrent requests: instead, one SQLite file per database (API,
  cell0, cell1) in WAL mode with real cell mappings, migrated with nova's
  ``db_sync``, hosts mapped with ``discover_hosts``.  SQLite then fails a
  write transaction outright when another one committed since it began,
  so nova's ``DatabaseWriteLock`` fixture serializes writers per file.
- The harness sets futurist's idle-thread timeout to 0.01 s (hundreds of
  idle threads then burn CPU; the 1 s default boots twice as fast), turns
  warnings into errors, and keeps every log line and notification in
  memory: all undone or bounded below.
- ``FakeDriver.get_host_uptime`` raises, and ``GET /os-hypervisors/{id}``
  calls it (2.88+): it gets a canned answer.
- The resource tracker asks placement for the allocations of every
  instance on the host each time it updates the provider tree, which makes
  booting N servers on one host O(N^2); FakeDriver never uses the answer,
  so it is stubbed (220 servers: 126 s before, 56 s after).
- FakeDriver's capacity is class attributes (nova's ``SmallFakeDriver``
  and ``MediumFakeDriver`` only change them); ``SizedFakeDriver`` sets
  them per compute instead, from the host's size, before FakeDriver
  reads them.  Placement's inventories come from them.
"""

# First of all nova: see the module docstring.
import nova.tests.functional  # noqa: F401

# isort: split
from collections.abc import Sequence
import importlib.metadata
import itertools
import logging
import os
import pathlib
import sqlite3
import threading
import time
from typing import Any
import urllib.parse
import uuid
import warnings

import futurist
from keystoneauth1 import loading as ks_loading
from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3 as ks_identity
from keystonemiddleware import auth_token
from nova import context as nova_context
from nova import objects
from nova.compute import resource_tracker
from nova.db import migration
from nova.db.api import api as api_db_api
from nova.db.main import api as main_db_api
from nova.objects import host_mapping
from nova.tests import fixtures as nova_fixtures
from nova.tests.functional import integrated_helpers
from nova.virt import fake
from oslo_config import cfg
from placement import deploy as placement_deploy
import webob

from osc_hypervisor_servers.tests.sandbox import protocol

CONF = cfg.CONF
# Read before the harness's setUp() lowers it to 0.01 s.
_FUTURIST_IDLE_TIMEOUT = futurist._thread.ThreadWorker.MAX_IDLE_FOR


class SizedFakeDriver(fake.FakeDriver):  # type: ignore[misc]
    """FakeDriver with the capacity of its host, from ``sizes``, whose
    live migrations take ``move_seconds`` more (a test's window on a
    move under way).
    """

    sizes: dict[str, protocol.Host] = {}
    #: The node name of a host, when it is not the host's name.
    nodes: dict[str, str] = {}
    move_seconds = 0.0

    def __init__(self, virtapi: Any, read_only: bool = False) -> None:
        # The harness starts each compute with CONF.host set to its host.
        self.size = self.sizes.get(CONF.host)
        if self.size is not None:
            self.vcpus = self.size.vcpus
            self.memory_mb = self.size.memory_mb
            self.local_gb = self.size.disk_gb
        super().__init__(virtapi, read_only)

    def init_host(self, host: str) -> None:
        super().init_host(host)
        if host in self.nodes:
            self._set_nodes([self.nodes[host]])

    def update_provider_tree(
        self, provider_tree: Any, nodename: str, allocations: Any = None
    ) -> None:
        super().update_provider_tree(provider_tree, nodename, allocations)
        if self.size is None or not self.size.resources:
            return
        inventory = dict(provider_tree.data(nodename).inventory)
        for rc, total in self.size.resources:
            inventory[rc] = {
                'total': total,
                'reserved': 0,
                'min_unit': 1,
                'max_unit': total,
                'step_size': 1,
                'allocation_ratio': 1.0,
            }
        provider_tree.update_inventory(nodename, inventory)

    def live_migration(self, *args: Any, **kwargs: Any) -> None:
        time.sleep(type(self).move_seconds)
        super().live_migration(*args, **kwargs)


_drop_move_claim_at_source = (
    resource_tracker.ResourceTracker.drop_move_claim_at_source
)


def _drop_move_claim_at_source_then_lag(
    tracker: Any, context: Any, instance: Any, migration: Any
) -> None:
    """Nova's record of a confirmed cold migration, after which the
    server shows it ``SandboxCloud.confirm_lag_seconds`` later: nova
    saves the record's ``confirmed`` before the server's state, and a
    busy compute (its resource lock, placement) widens the gap.
    """
    _drop_move_claim_at_source(tracker, context, instance, migration)
    time.sleep(SandboxCloud.confirm_lag_seconds)


class SandboxCloud(integrated_helpers._IntegratedTestBase):  # type: ignore[misc]
    """The whole cloud: ``setUp()`` starts it; ``app`` is nova's API and
    ``placement_app`` placement's, both behind keystone's ``auth_token``.

    ``hosts`` get one compute service each (a ``protocol.Host`` also its
    size); ``state_dir`` holds the databases and the log; ``max_limit``
    is nova's ``[api] max_limit`` (None: nova's default, 1000);
    ``nova_options`` sets nova's ``[DEFAULT]`` options of those names
    (e.g. ``cpu_allocation_ratio``, ``report_interval``).  ``identity_url`` and
    ``identity_internal_url`` are keystone's public and internal
    endpoints; ``nodes`` the node name of a host, by host, when it is not
    the host's name.
    """

    # _create_databases sets up the databases, not the harness.
    USES_DB = False
    USES_DB_SELF = True
    # Real keystonemiddleware and NovaKeystoneContext.
    STUB_KEYSTONE = False
    # Real asynchronous RPC: POST /servers returns before the boot.
    CAST_AS_CALL = False
    confirm_lag_seconds = 0.0

    def __init__(
        self,
        hosts: Sequence[str | protocol.Host],
        state_dir: str,
        max_limit: int | None,
        nova_options: dict[str, float],
        identity_url: str,
        identity_internal_url: str,
        nodes: dict[str, str],
    ) -> None:
        super().__init__()
        self.hosts = [protocol.host_name(host) for host in hosts]
        SizedFakeDriver.sizes = {
            host.name: host for host in hosts if not isinstance(host, str)
        }
        SizedFakeDriver.nodes = nodes
        self.state_dir = state_dir
        self.max_limit = max_limit
        self.nova_options = nova_options
        self.identity_url = identity_url
        self.identity_internal_url = identity_internal_url
        self._boot_requests = itertools.count(1)
        self._sessions: dict[str | None, ks_session.Session] = {}
        self._sessions_lock = threading.Lock()
        self.app: Any = None
        self.placement_app: Any = None

    def _setup_services(self) -> None:
        self._undo_test_only_settings()
        # nova loads drivers from nova.virt only: this one goes beside
        # SmallFakeDriver.
        self.stub_out('nova.virt.fake.SizedFakeDriver', SizedFakeDriver)
        self.flags(compute_driver='fake.SizedFakeDriver', **self.nova_options)
        self.flags(instances=-1, cores=-1, ram=-1, group='quota')
        # A shelved server stays on its host (SHELVED, not offloaded): a
        # state in which Nova refuses property and tag changes.
        self.flags(shelved_offload_time=-1)
        if self.max_limit is not None:
            self.flags(max_limit=self.max_limit, group='api')
        self.flags(api_paste_config=_nova_api_paste_ini(), group='wsgi')
        _register_auth_token_options(CONF)
        self.flags(group=_AUTH_TOKEN, **self._auth_token_settings('nova'))
        self.stub_out(
            'nova.virt.fake.FakeDriver.get_host_uptime',
            lambda driver: (
                ' 08:32:11 up 93 days, 18:25, '
                '12 users,  load average: 0.20, 0.12, 0.14'
            ),
        )
        self.stub_out(
            'nova.compute.resource_tracker.ResourceTracker'
            '.drop_move_claim_at_source',
            _drop_move_claim_at_source_then_lag,
        )
        # Only the resource tracker calls it, and FakeDriver never uses
        # the answer: see the module docstring.
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
        self.placement_app = self._authenticated_placement()
        threading.Thread(
            target=self._forget_notifications, daemon=True
        ).start()

    def _undo_test_only_settings(self) -> None:
        root = logging.getLogger()
        for handler in list(root.handlers):
            root.removeHandler(handler)
        log_handler = logging.FileHandler(
            os.path.join(self.state_dir, protocol.LOG_FILE)
        )
        log_handler.setFormatter(logging.Formatter(protocol.LOG_FORMAT))
        root.addHandler(log_handler)
        root.setLevel(logging.INFO)
        warnings.resetwarnings()
        # nova and its libraries warn about their own deprecations on
        # every request; other warnings go to the log.
        warnings.simplefilter('ignore', DeprecationWarning)
        logging.captureWarnings(True)
        futurist._thread.ThreadWorker.MAX_IDLE_FOR = _FUTURIST_IDLE_TIMEOUT

    def _create_databases(self) -> None:
        urls = {
            name: _sqlite_wal_url(
                os.path.join(self.state_dir, f'{name}.sqlite')
            )
            for name in ('api', 'cell0', 'cell1')
        }
        self.flags(connection=urls['api'], group='api_database')
        self.flags(connection=urls['cell1'], group='database')
        api_db_api.configure(CONF)
        main_db_api.configure(CONF)
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

    def _auth_token_settings(self, user: str) -> dict[str, Any]:
        """keystonemiddleware's options for a service validating tokens
        as ``user``.
        """
        return {
            'auth_type': 'password',
            'auth_url': self.identity_internal_url,
            'username': user,
            'password': protocol.PASSWORD,
            'project_name': protocol.SERVICE_PROJECT,
            'user_domain_id': protocol.DOMAIN,
            'project_domain_id': protocol.DOMAIN,
            # Its own calls: keystone's internal endpoint in the catalog.
            'interface': 'internal',
            # What a client that sent no token is told to ask.
            'www_authenticate_uri': self.identity_url,
            # A token is validated once in its life (keystone's default,
            # an hour), not every 5 minutes: a long test run's timing
            # then never depends on when a revalidation falls.
            'token_cache_time': 3600,
        }

    def _authenticated_placement(self) -> Any:
        """Placement's own keystone pipeline, over the harness's
        placement configuration and database.
        """
        placement = self.placement_fixture.conf_fixture
        _register_auth_token_options(placement.conf)
        placement.config(
            group=_AUTH_TOKEN, **self._auth_token_settings('placement')
        )
        # Read once, by deploy(): the harness's app keeps its noauth2.
        placement.config(group='api', auth_strategy='keystone')
        return placement_deploy.deploy(placement.conf)

    def _setup_compute_service(self) -> Any:
        for host in self.hosts:
            self._start_compute(host)
        return self.computes[self.hosts[0]]

    def _forget_notifications(self) -> None:
        # Nothing reads the fake notifier; it would grow forever.
        while True:
            time.sleep(10)
            self.notifier.reset()

    def token(self, project: str | None = None) -> str:
        """A token of the admin user, in ``project`` (an ID; None: project
        ``admin``), from keystone's internal endpoint.

        keystoneauth caches it and authenticates again before it expires.
        """
        with self._sessions_lock:
            session = self._sessions.get(project)
            if session is None:
                session = self._sessions[project] = ks_session.Session(
                    auth=ks_identity.Password(
                        auth_url=self.identity_internal_url,
                        username=protocol.ADMIN,
                        password=protocol.PASSWORD,
                        user_domain_id=protocol.DOMAIN,
                        project_id=project,
                        project_name=(
                            None if project else protocol.ADMIN_PROJECT
                        ),
                        project_domain_id=(
                            None if project else protocol.DOMAIN
                        ),
                    )
                )
        token = session.get_token()
        if token is None:
            raise RuntimeError('keystone issued no token')
        return token

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        project: str | None = None,
        microversion: str = '2.74',
    ) -> Any:
        """Call the nova app directly, bypassing traffic control, as the
        admin user in ``project`` (see ``token()``).
        """
        request = webob.Request.blank(
            path,
            method=method,
            headers={
                'X-Auth-Token': self.token(project),
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

    def list_all(self, path: str, key: str) -> list[Any]:
        """Every item of a listing, page after page (see max_limit)."""
        items: list[Any] = []
        next_path: str | None = path
        while next_path:
            answer = self.call('GET', next_path)
            items += answer[key]
            next_path = None
            for link in answer.get(f'{key}_links', ()):
                if link['rel'] == 'next':
                    href = urllib.parse.urlsplit(link['href'])
                    next_path = f'{href.path}?{href.query}'
        return items

    def hypervisors(self) -> dict[str, str]:
        """Hypervisor id per hostname."""
        return {
            hypervisor['hypervisor_hostname']: hypervisor['id']
            for hypervisor in self.list_all(
                '/v2.1/os-hypervisors', 'hypervisors'
            )
        }

    def stop_compute(self, host: str) -> None:
        """Stop the compute service of ``host``, as a host that reboots:
        it reports in no more (Nova shows it down once
        ``service_down_time`` passed) until ``restart_compute``.
        """
        self.computes[host].stop()

    def restart_compute(self, host: str) -> None:
        """Restart the compute service of ``host``, stopped or not, as
        after a repair: its servers stay, and it cleans up those
        evacuated from it.
        """
        if host not in self.host_mappings:
            # The harness records the cell of the computes it maps; the
            # sandbox maps them with discover_hosts.
            self.host_mappings[host] = objects.HostMapping.get_by_host(
                nova_context.get_admin_context(), host
            )
        self.computes[host] = self.restart_compute_service(self.computes[host])

    def set_move_seconds(self, seconds: float) -> None:
        """Make every live migration take ``seconds`` more."""
        SizedFakeDriver.move_seconds = seconds

    def set_confirm_lag(self, seconds: float) -> None:
        """Make every confirmed cold migration show on its server
        ``seconds`` after its record says so.
        """
        SandboxCloud.confirm_lag_seconds = seconds

    def boot(self, batches: Sequence[protocol.Boot]) -> dict[str, list[str]]:
        """Boot batches of servers; return the new ids per host.

        Every batch is requested first, so that nova builds them all side
        by side, then each is waited for until none of its servers is in
        BUILD.  Ids are in batch order, then in launch order.
        """
        requested = [
            (batch, self._request_servers(batch))
            for batch in batches
            if batch.count > 0
        ]
        deadline = time.monotonic() + 120 + sum(b.count for b in batches)
        servers: dict[str, list[str]] = {
            batch.host: [] for batch in batches if batch.host
        }
        for batch, reservation_id in requested:
            for server in self._wait_for_servers(
                reservation_id, batch.count, deadline
            ):
                host = server['OS-EXT-SRV-ATTR:host']
                servers.setdefault(host, []).append(server['id'])
        return servers

    def _request_servers(self, batch: protocol.Boot) -> str:
        """Ask for a batch (one multi-create); return its reservation id."""
        server: dict[str, Any] = {
            'name': f'{batch.host or "server"}-r{next(self._boot_requests)}',
            'imageRef': self.glance.image1['id'],
            'flavorRef': batch.flavor or '1',
            'networks': 'none',
            'min_count': batch.count,
            'max_count': batch.count,
            'return_reservation_id': True,
        }
        if batch.host:
            server['host'] = batch.host
        if batch.availability_zone:
            server['availability_zone'] = batch.availability_zone
        body: dict[str, Any] = {'server': server}
        if batch.group:
            body['os:scheduler_hints'] = {'group': batch.group}
        answer = self.call(
            'POST', '/v2.1/servers', body, project=batch.project
        )
        reservation_id: str = answer['reservation_id']
        return reservation_id

    def _wait_for_servers(
        self, reservation_id: str, count: int, deadline: float
    ) -> list[dict[str, Any]]:
        """Wait until no server of a request is in BUILD; return them in
        launch order.
        """
        query = f'?all_tenants=1&reservation_id={reservation_id}'
        # Each poll decodes every pending build request, whatever the
        # limit: with hundreds of servers, frequent polls would take a
        # good part of the CPU the builds need.
        poll_interval = min(2.0, 0.5 + count / 100)
        while self.call('GET', f'/v2.1/servers{query}&status=BUILD&limit=1')[
            'servers'
        ]:
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f'servers of {reservation_id} still in BUILD'
                )
            time.sleep(poll_interval)
        servers = self.list_all(f'/v2.1/servers/detail{query}', 'servers')
        failed = [server for server in servers if server['status'] != 'ACTIVE']
        if failed or len(servers) != count:
            raise RuntimeError(
                f'{len(failed) + count - len(servers)} of {count} '
                f'servers of {reservation_id} failed: {failed[:1]}'
            )
        servers.sort(key=lambda s: s['OS-EXT-SRV-ATTR:launch_index'])
        return servers


_AUTH_TOKEN = 'keystone_authtoken'


def _register_auth_token_options(conf: cfg.ConfigOpts) -> None:
    """Register keystonemiddleware's options and its password plugin's,
    so that they can be set before the middleware first loads them.
    """
    for group, options in auth_token.list_opts():
        conf.register_opts(options, group=group)
    conf.register_opts(
        ks_loading.get_auth_plugin_conf_options('password'), group=_AUTH_TOKEN
    )


def _nova_api_paste_ini() -> str:
    """nova's own api-paste.ini, where the nova wheel installs it."""
    for file in importlib.metadata.files('nova') or ():
        if file.as_posix().endswith('etc/nova/api-paste.ini'):
            return str(pathlib.Path(str(file.locate())).resolve())
    raise RuntimeError("nova's api-paste.ini is not installed")


def _sqlite_wal_url(path: str) -> str:
    """Create an empty SQLite file in WAL mode; return its SQLAlchemy URL.

    WAL lets readers run during a write; the long busy timeout makes a
    writer wait for the file's lock instead of failing.
    """
    with sqlite3.connect(path) as connection:
        connection.execute('PRAGMA journal_mode=WAL')
    return f'sqlite:///{path}?timeout=60'
