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

"""Benchmark against an embedded real Nova with latency added.

Measures, side by side in one run, on one hypervisor with N servers (the
``contenders`` case):

* this command at ``--parallel 1`` and at the default, on a property +
  tag + description change and on a metadata-only change;
* ``nova host-meta --strict <host> set k=v`` (python-novaclient) on the
  metadata-only change, its only job;
* the loop ``openstack server list ... | xargs -n1 openstack server set``
  on a few servers, with its time per server;
* the floor: only the required HTTP calls, made by a plain thread pool
  with the same concurrency and no CLI;
* an identical re-run of this command (no writes expected);

with the number of HTTP requests each one made to nova (counted at the
server; each command line also authenticates with keystone first, which
does not count there) and the ratios between them.

The ``breadth`` case, in a sandbox of its own with 21 hypervisors: this
command at the default ``--parallel``, the same property change on 60
servers spread over 20 hypervisors (3 each, all named on the command
line) and on 60 servers on one hypervisor, and the ratio of the two
times.

The ``preflight`` case: a drain's dry run with and without its
pre-flight (39 servers of 3 flavor shapes, over 4 and then 20 other
hosts): the seconds and the Placement requests the pre-flight adds.

The ``drain`` case, in a sandbox of its own per N with exactly two
hypervisors (so that the scheduler has one choice), N servers moved off
one of them:

* this command (``hypervisor servers migrate``) at the default
  ``--parallel`` and at a few others (a sweep);
* the move back: ``hypervisor servers restore`` of the default drain's
  journal, which brings every server home;
* the loop ``openstack server list ... | xargs -n1 openstack server
  migrate --live-migration --wait`` on a few servers, with its time per
  server;
* Nova's bound: N times the time of one live migration (raw API, polled
  every 0.1 s; the mean of a few), as Nova runs one live migration per
  compute at a time. Only part of a move is serialized (scheduling and
  the checks before it are not), so a client that keeps several moves
  in flight can come in under it.

Usage: ``tox -e benchmark -- --help``; ``--cases breadth`` runs the
breadth case alone, ``--cases drain`` the drain case.
"""

import argparse
import concurrent.futures
import datetime
import json
import os
import platform
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

import requests

from osc_hypervisor_servers.moves import move_options
from osc_hypervisor_servers.runner import invocation
from osc_hypervisor_servers.tests import sandbox as nova_sandbox

HOST = 'compute-1'
# A second hypervisor whose name starts like the first: nothing on it
# may change.
NEIGHBOUR = 'compute-10'
CASES = ('contenders', 'breadth', 'drain', 'preflight')
# The breadth case: BREADTH_SERVERS servers on ONE_HYPERVISOR, and as
# many spread evenly over the WIDE_HYPERVISORS.
BREADTH_SERVERS = 60
ONE_HYPERVISOR = 'deep-1'
WIDE_HYPERVISORS = [f'wide-{n:02}' for n in range(1, 21)]
# Where the breadth case should be: breadth / one hypervisor.
BREADTH_TARGET = 1.15
BREADTH_ROUNDS = 3
# The drain case: the only two hypervisors of its sandbox; each
# contender moves the servers from the one that holds them to the other.
DRAIN_HOSTS = ('drain-a', 'drain-b')
# Single live migrations timed with the raw API, after one to warm up.
SINGLE_MOVES = 3
SINGLE_POLL_SECONDS = 0.1
SINGLE_TIMEOUT_SECONDS = 120
# Nova runs this many live migrations per compute at a time (its
# max_concurrent_live_migrations; in the sandbox, in the whole process).
NOVA_LIVE_CONCURRENCY = 1
# Where the drain case should be: the loop's time per server over this
# command's, at least; this command over Nova's bound, at most.
DRAIN_LOOP_TARGET = 3.0
DRAIN_BOUND_TARGET = 1.2
# What urllib3 logs when a request's connection does not fit back into
# the pool.
POOL_FULL = 'Connection pool is full'
# The migration lists a drain makes while waiting, as the sandbox counts
# them.
WATCH_POLLS = 'GET os-migrations'


class Bench:
    def __init__(self, sandbox, servers, parallel):
        self.sandbox = sandbox
        self.servers = servers
        self.parallel = parallel
        # Plain "openstack" and "nova" are the ones beside this Python;
        # journals go to a directory of the benchmark's own.
        self.state = tempfile.mkdtemp(prefix='benchmark-state-')
        self.env = dict(sandbox.env(), XDG_STATE_HOME=self.state)
        self.rows = {}

    def measure(self, key, label, function, floor=None, servers=None):
        """Time ``function``; keep its row under ``key``.

        ``floor`` is the key of the row this one is compared to.
        ``function`` may return a finished command line
        (``subprocess.CompletedProcess``): the row then counts the
        urllib3 "Connection pool is full" warnings on its stderr.
        """
        self.sandbox.reset_stats()
        started = time.perf_counter()
        result = function()
        seconds = time.perf_counter() - started
        stats = self.sandbox.stats()
        row = {
            'key': key,
            'label': label,
            'floor': floor,
            'servers': servers or self.servers,
            'seconds': seconds,
            'requests': stats['total'],
            'reads': stats['by_method'].get('GET', 0),
            'writes': stats['writes'],
            'polls': stats['by_resource'].get(WATCH_POLLS, 0),
            'pool_full': None,
            'result': result,
        }
        if isinstance(result, subprocess.CompletedProcess):
            row['pool_full'] = result.stderr.count(POOL_FULL)
        self.rows[key] = row
        pool_full = (
            ''
            if row['pool_full'] is None
            else f', {row["pool_full"]} "{POOL_FULL}" warnings'
        )
        print(
            f'  {label}: {seconds:.1f} s, {stats["total"]} requests, '
            f'{stats["writes"]} writes{pool_full}',
            flush=True,
        )
        return row

    def shell(self, command, stdout=False):
        """Run ``command`` in bash; exit the benchmark if it fails.

        Returns the finished process, with its stderr (and its stdout,
        when asked for).
        """
        process = subprocess.run(
            ['bash', '-o', 'pipefail', '-c', command],
            env=self.env,
            stdout=subprocess.PIPE if stdout else subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        if process.returncode != 0:
            # The end of it: a traceback or Nova's error is at the end.
            sys.exit(
                f'benchmark: {command!r} failed '
                f'(exit {process.returncode}):\n{process.stderr[-4000:]}'
            )
        return process

    def this_command(self, change, parallel=None, hypervisors=(HOST,)):
        options = ['--parallel', str(parallel)] if parallel else []
        return lambda: self.shell(
            shlex.join(
                ['openstack', 'hypervisor', 'servers', 'set', *hypervisors]
                + options
                + change
            )
        )

    def host_meta(self, key_value):
        return lambda: self.shell(
            shlex.join(
                ['nova', 'host-meta', '--strict', HOST, 'set', key_value]
            )
        )

    def xargs_loop(self, count, key_value):
        return lambda: self.shell(
            f'openstack server list --all-projects --host {HOST} '
            f"-f value -c ID | awk 'NR <= {count}' | "
            f'xargs -n1 openstack server set --property {key_value}'
        )

    def floor(self, full, mark):
        """Only the HTTP calls the change needs, from a thread pool.

        With a token got beforehand, as a long-running client has one.
        """
        token = self.sandbox.token()

        def run():
            session = requests.Session()
            adapter = requests.adapters.HTTPAdapter(pool_maxsize=self.parallel)
            session.mount('http://', adapter)
            session.headers.update(
                {
                    'X-Auth-Token': token,
                    'OpenStack-API-Version': 'compute 2.100',
                }
            )
            endpoint = self.sandbox.endpoint
            listing = session.get(
                f'{endpoint}/servers/detail',
                params={'all_tenants': '1', 'host': HOST, 'node': HOST},
            )
            listing.raise_for_status()

            def change(server):
                url = f'{endpoint}/servers/{server["id"]}'
                calls: list[tuple[str, str, dict[str, Any] | None]] = [
                    ('POST', url + '/metadata', {'metadata': {mark: '1'}})
                ]
                if full:
                    calls += [
                        ('PUT', url, {'server': {'description': mark}}),
                        ('PUT', f'{url}/tags/{mark}', None),
                    ]
                for method, call_url, body in calls:
                    session.request(
                        method, call_url, json=body
                    ).raise_for_status()

            with concurrent.futures.ThreadPoolExecutor(self.parallel) as pool:
                list(pool.map(change, listing.json()['servers']))

        return run


def full_change(mark):
    return [
        '--property', f'{mark}=1',
        '--tag', mark,
        '--description', f'maintenance {mark}',
    ]  # fmt: skip


def run_for(count, args):
    """The contenders on one hypervisor with ``count`` servers."""
    print(
        f'\nBooting {count} servers on {HOST} (and 2 on {NEIGHBOUR})...',
        flush=True,
    )
    started = time.perf_counter()
    with nova_sandbox.NovaSandbox(
        [HOST, NEIGHBOUR], servers_per_host=0
    ) as sandbox:
        sandbox.boot_batches([(HOST, count, None), (NEIGHBOUR, 2, None)])
        print(f'  ready in {time.perf_counter() - started:.0f} s', flush=True)
        sandbox.set_latency(args.latency_ms)
        bench = Bench(sandbox, count, args.parallel)
        p = args.parallel
        bench.measure(
            'serial_full',
            'this, --parallel 1, full change',
            bench.this_command(full_change('full1'), parallel=1),
            floor='floor_full',
        )
        bench.measure(
            'default_full',
            f'this, default (--parallel {p}), full change',
            bench.this_command(full_change('fullp')),
            floor='floor_full',
        )
        bench.measure(
            'floor_full',
            'floor, full change',
            bench.floor(full=True, mark='fullf'),
            floor='floor_full',
        )
        bench.measure(
            'serial_meta',
            'this, --parallel 1, metadata only',
            bench.this_command(['--property', 'meta1=1'], parallel=1),
            floor='floor_meta',
        )
        bench.measure(
            'default_meta',
            f'this, default (--parallel {p}), metadata only',
            bench.this_command(['--property', 'metap=1']),
            floor='floor_meta',
        )
        bench.measure(
            'host_meta',
            'nova host-meta --strict, metadata only',
            bench.host_meta('hostmeta=1'),
            floor='floor_meta',
        )
        bench.measure(
            'floor_meta',
            'floor, metadata only',
            bench.floor(full=False, mark='metaf'),
            floor='floor_meta',
        )
        bench.measure(
            'rerun',
            'this, identical re-run (default)',
            bench.this_command(['--property', 'metap=1']),
            floor='floor_meta',
        )
        for parallel in args.sweep:
            bench.measure(
                f'sweep_{parallel}',
                f'this, --parallel {parallel}, metadata only (sweep)',
                bench.this_command(
                    ['--property', f'sweep{parallel}=1'], parallel=parallel
                ),
                floor='floor_meta',
            )
        if args.loop_servers:
            bench.measure(
                'xargs_loop',
                f'xargs loop of openstack server set ({args.loop_servers} '
                f'servers)',
                bench.xargs_loop(args.loop_servers, 'loop=1'),
                floor='floor_meta',
                servers=args.loop_servers,
            )
        neighbours = sandbox.api(
            'GET', f'/servers/detail?all_tenants=1&host={NEIGHBOUR}'
        )[1]['servers']
        touched = [s['id'] for s in neighbours if s['metadata'] or s['tags']]
        if touched:
            sys.exit(f'benchmark: servers on {NEIGHBOUR} changed: {touched}')
        return bench.rows


#: The preflight case: N servers of K flavor shapes on one source, and H
#: hosts they may go to, at two sizes of H.
PREFLIGHT_SERVERS = 39  # 13 of each shape
PREFLIGHT_SHAPES = ((1, 512), (2, 1024), (4, 2048))
PREFLIGHT_SPARES = (4, 20)
PREFLIGHT_ROUNDS = 3


def run_preflight(spares, args):
    """A drain's dry run with and without its pre-flight, over ``spares``
    hosts: the pre-flight's own requests and seconds.
    """
    hosts = ['pf-source'] + [f'pf-spare-{n:02}' for n in range(spares)]
    print(
        f'\nPre-flight: {PREFLIGHT_SERVERS} servers of '
        f'{len(PREFLIGHT_SHAPES)} flavors on {hosts[0]}, {spares} other '
        f'hosts...',
        flush=True,
    )
    started = time.perf_counter()
    with nova_sandbox.NovaSandbox(hosts, servers_per_host=0) as sandbox:
        flavors = []
        for vcpus, ram in PREFLIGHT_SHAPES:
            status, answer = sandbox.api(
                'POST',
                '/flavors',
                {
                    'flavor': {
                        'name': f'pf-{vcpus}',
                        'vcpus': vcpus,
                        'ram': ram,
                        'disk': 1,
                    }
                },
            )
            flavors.append(answer['flavor']['id'])
        share = PREFLIGHT_SERVERS // len(flavors)
        sandbox.boot_batches(
            [nova_sandbox.Boot(hosts[0], share, flavor=f) for f in flavors]
        )
        print(f'  ready in {time.perf_counter() - started:.0f} s', flush=True)
        sandbox.set_latency(args.latency_ms)
        bench = Bench(sandbox, share * len(flavors), args.parallel)
        for round_number in range(1, PREFLIGHT_ROUNDS + 1):
            for key, options in (
                ('with', []),
                ('without', ['--skip-preflight']),
            ):
                command = shlex.join(
                    ['openstack', 'hypervisor', 'servers', 'migrate']
                    + [hosts[0], '--dry-run', '-f', 'json', *options]
                )
                row = bench.measure(
                    f'{key}_{round_number}',
                    f'dry run {key} the pre-flight, {spares} hosts',
                    lambda command=command: bench.shell(command, stdout=True),
                )
                row['placement'] = sandbox.stats('placement')['total']
        return bench.rows


def report_preflight(rows_by_spares):
    print()
    header = (
        f'{"pre-flight":<42} {"H":>3} {"N":>4} {"K":>2} {"seconds":>8} '
        f'{"compute":>8} {"placement":>9}'
    )
    print(header)
    print('-' * len(header))
    for spares, rows in rows_by_spares.items():
        medians = {}
        for key in ('with', 'without'):
            # 'with' is a prefix of 'without' too.
            runs = [
                row for name, row in rows.items() if name.startswith(f'{key}_')
            ]
            seconds = statistics.median(row['seconds'] for row in runs)
            medians[key] = seconds
            print(
                f'{"dry run " + key + " the pre-flight (median)":<42} '
                f'{spares:>3} {runs[0]["servers"]:>4} '
                f'{len(PREFLIGHT_SHAPES):>2} {seconds:>8.2f} '
                f'{runs[0]["requests"]:>8} {runs[0]["placement"]:>9}'
            )
        print(
            f'H={spares}: the pre-flight costs '
            f'{medians["with"] - medians["without"]:.2f} s'
        )


def run_breadth(args):
    """The same change on one hypervisor, then spread over twenty."""
    per_host = BREADTH_SERVERS // len(WIDE_HYPERVISORS)
    print(
        f'\nBreadth: booting {BREADTH_SERVERS} servers on '
        f'{ONE_HYPERVISOR} and {per_host} on each of '
        f'{len(WIDE_HYPERVISORS)} other hypervisors...',
        flush=True,
    )
    started = time.perf_counter()
    with nova_sandbox.NovaSandbox(
        [ONE_HYPERVISOR, *WIDE_HYPERVISORS], servers_per_host=0
    ) as sandbox:
        # One request per hypervisor, all made before waiting for any.
        sandbox.boot_batches(
            [(ONE_HYPERVISOR, BREADTH_SERVERS, None)]
            + [(host, per_host, None) for host in WIDE_HYPERVISORS]
        )
        print(f'  ready in {time.perf_counter() - started:.0f} s', flush=True)
        sandbox.set_latency(args.latency_ms)
        bench = Bench(sandbox, BREADTH_SERVERS, args.parallel)
        # A run takes about 5 s, and a second of it is noise on two
        # shared cores: the two alternate, and their medians are compared.
        for round_number in range(1, BREADTH_ROUNDS + 1):
            change = ['--property', f'breadth={round_number}']
            bench.measure(
                f'breadth_one_{round_number}',
                f'this, default, 1 hypervisor x {BREADTH_SERVERS} servers',
                bench.this_command(change, hypervisors=[ONE_HYPERVISOR]),
            )
            bench.measure(
                f'breadth_wide_{round_number}',
                f'this, default, {len(WIDE_HYPERVISORS)} hypervisors x '
                f'{per_host} servers',
                bench.this_command(change, hypervisors=WIDE_HYPERVISORS),
            )
        return bench.rows


def _or_dash(value):
    return '-' if value is None else value


class DrainBench(Bench):
    """The drain case: servers moved between the two DRAIN_HOSTS."""

    def servers_on(self):
        """Every server, as Nova reports it, by host."""
        by_host: dict[str, list[dict[str, Any]]] = {}
        for server in self.sandbox.api_list(
            '/servers/detail?all_tenants=1', 'servers'
        ):
            by_host.setdefault(server['OS-EXT-SRV-ATTR:host'], []).append(
                server
            )
        return by_host

    def expect(self, counts, when):
        """Exit unless each host holds that many settled servers.

        ``counts`` maps hosts to server counts; every server must be on
        one of them, ACTIVE, with no task under way.
        """
        by_host = self.servers_on()
        found = {host: len(servers) for host, servers in by_host.items()}
        wanted = {host: count for host, count in counts.items() if count}
        unsettled = [
            f'{server["id"]} ({server["status"]}, task '
            f'{server["OS-EXT-STS:task_state"]})'
            for servers in by_host.values()
            for server in servers
            if server['status'] != 'ACTIVE'
            or server['OS-EXT-STS:task_state'] is not None
        ]
        if found != wanted or unsettled:
            sys.exit(
                f'benchmark: {when}: expected servers per host {wanted}, '
                f'found {found}; not settled: {unsettled or "none"}'
            )
        return by_host

    def migrate(self, source, parallel=None):
        """This command: drain ``source`` (-f json)."""
        options = ['--parallel', str(parallel)] if parallel else []
        command = shlex.join(
            ['openstack', 'hypervisor', 'servers', 'migrate']
            + [source, '-f', 'json']
            + options
        )
        return lambda: self.shell(command, stdout=True)

    def restore(self, journal):
        """This command: every server of a drain's ``journal`` back."""
        command = shlex.join(
            ['openstack', 'hypervisor', 'servers', 'restore', journal]
            + ['-f', 'json']
        )
        return lambda: self.shell(command, stdout=True)

    def journal_of(self, row):
        """The journal a run of ``row`` named on stderr."""
        found = re.search(
            r'^Journal of this run: (.+)$', row['result'].stderr, re.M
        )
        if found is None:
            sys.exit(f'benchmark: {row["label"]}: no journal named')
        return found[1]

    def check_migrate(self, row, source, target):
        """Exit unless every server of ``row``'s run was "migrated"."""
        process = row['result']
        results = json.loads(process.stdout)
        wrong = [
            f'{result["ID"]}: {result["Result"]} {result["Details"]}'
            for result in results
            if result['Result'] != 'migrated'
            or result['Destination'] != target
        ]
        if len(results) != self.servers or wrong:
            sys.exit(
                f'benchmark: {row["label"]}: {len(results)} rows for '
                f'{self.servers} servers; not migrated to {target}: '
                f'{wrong or "none"}'
            )
        self.expect({target: self.servers}, f'after {row["label"]}')

    def loop(self, source, count):
        """OSC's own command, one process per server, waiting for each."""
        return lambda: self.shell(
            f'openstack server list --all-projects --host {source} '
            f"-f value -c ID | awk 'NR <= {count}' | "
            f'xargs -n1 openstack server migrate --live-migration --wait'
        )

    def live_migrate_once(self, server_id):
        """One live migration with the raw API; returns a timed function.

        The function posts os-migrateLive and polls the server's
        migrations every SINGLE_POLL_SECONDS until the new record is
        completed; it returns that record.
        """
        path = f'/os-migrations?instance_uuid={server_id}'
        known = {
            migration['uuid']
            for migration in self.sandbox.api_list(path, 'migrations')
        }

        def run():
            status, answer = self.sandbox.api(
                'POST',
                f'/servers/{server_id}/action',
                {'os-migrateLive': {'host': None, 'block_migration': 'auto'}},
            )
            if status != 202:
                sys.exit(f'benchmark: os-migrateLive: {status} {answer}')
            deadline = time.monotonic() + SINGLE_TIMEOUT_SECONDS
            while True:
                status, answer = self.sandbox.api('GET', path)
                if status != 200:
                    sys.exit(f'benchmark: GET {path}: {status} {answer}')
                ours = [
                    migration
                    for migration in answer['migrations']
                    if migration['uuid'] not in known
                ]
                if ours and ours[0]['status'] == 'completed':
                    return ours[0]
                if ours and ours[0]['status'] in ('error', 'failed'):
                    sys.exit(f'benchmark: live migration failed: {ours[0]}')
                if time.monotonic() > deadline:
                    sys.exit(f'benchmark: live migration too slow: {ours}')
                time.sleep(SINGLE_POLL_SECONDS)

        return run


def _nova_seconds(record):
    """From a migration record's creation to its last update, per Nova."""
    created, updated = (
        datetime.datetime.fromisoformat(record[key])
        for key in ('created_at', 'updated_at')
    )
    return (updated - created).total_seconds()


def _time_single_moves(bench, sandbox, mover, home, round_number):
    """Time SINGLE_MOVES live migrations of ``mover``, ending at ``home``."""
    first, second = DRAIN_HOSTS
    other = {first: second, second: first}
    at = home
    moves = SINGLE_MOVES + SINGLE_MOVES % 2  # it ends where it started
    for move in range(1, moves + 1):
        function = bench.live_migrate_once(mover)
        if move <= SINGLE_MOVES:
            row = bench.measure(
                f'single_{round_number}_{move}',
                f'one live migration, raw API ({at} to {other[at]})',
                function,
                servers=1,
            )
            row['nova_seconds'] = _nova_seconds(row['result'])
        else:
            function()
        at = other[at]
        status, answer = sandbox.api('GET', f'/servers/{mover}')
        if answer['server']['OS-EXT-SRV-ATTR:host'] != at:
            sys.exit(f'benchmark: {mover} is not on {at}: {answer}')


def run_drain(count, args):
    """Drain a hypervisor of ``count`` servers: each contender in turn."""
    first, second = DRAIN_HOSTS
    other = {first: second, second: first}
    print(
        f'\nDrain: booting {count} servers on {first} (and none on '
        f'{second})...',
        flush=True,
    )
    started = time.perf_counter()
    with nova_sandbox.NovaSandbox(
        list(DRAIN_HOSTS), servers_per_host=0
    ) as sandbox:
        sandbox.boot(first, count)
        print(f'  ready in {time.perf_counter() - started:.0f} s', flush=True)
        sandbox.set_latency(args.latency_ms)
        bench = DrainBench(
            sandbox, count, move_options.DEFAULT_PARALLEL_PER_HOST
        )
        source = first
        by_host = bench.expect({source: count}, 'after booting')
        # Nova's bound: one server moved back and forth before each round,
        # the very first move to warm up (the first live migration of a
        # process is slower).
        mover = by_host[source][0]['id']
        bench.live_migrate_once(mover)()
        bench.live_migrate_once(mover)()
        default = move_options.DEFAULT_PARALLEL_PER_HOST
        for round_number in range(1, args.drain_rounds + 1):
            _time_single_moves(bench, sandbox, mover, source, round_number)
            bench.expect({source: count}, f'before round {round_number}')
            row = bench.measure(
                f'drain_default_{round_number}',
                f'this, default (--parallel {default}), {source} to '
                f'{other[source]}',
                bench.migrate(source),
            )
            bench.check_migrate(row, source, other[source])
            # The move back: the drain's journal brings them home.
            row = bench.measure(
                f'restore_default_{round_number}',
                f'this, restore of that drain, {other[source]} to {source}',
                bench.restore(bench.journal_of(row)),
            )
            bench.check_migrate(row, other[source], source)
        for parallel in args.drain_sweep:
            if parallel == default:
                continue
            how = f'--parallel {parallel}'
            bench.expect({source: count}, f'before this, {how}')
            row = bench.measure(
                f'drain_{parallel}',
                f'this, {how}, {source} to {other[source]}',
                bench.migrate(source, parallel),
            )
            bench.check_migrate(row, source, other[source])
            source = other[source]
        if args.drain_loop_servers:
            loop_count = min(args.drain_loop_servers, count)
            bench.expect({source: count}, 'before the loop')
            bench.measure(
                'drain_loop',
                f'xargs loop of openstack server migrate ({loop_count})',
                bench.loop(source, loop_count),
                servers=loop_count,
            )
            # Had --wait not waited, the last server would still be on
            # its way.
            bench.expect(
                {source: count - loop_count, other[source]: loop_count},
                'after the loop',
            )
        return bench.rows


def report_drain(count, rows):
    header = (
        f'{"drain run":<50} {"N":>4} {"seconds":>8} {"s/server":>8} '
        f'{"requests":>8} {"GETs":>5} {"waits":>5} {"pool full":>9} '
        f'{"x bound":>7}'
    )
    singles = [row for key, row in rows.items() if key.startswith('single_')]
    single = statistics.median(row['seconds'] for row in singles)
    bound = count * single / NOVA_LIVE_CONCURRENCY
    table = [
        {
            'label': f'one live migration, raw API (median of {len(singles)})',
            'servers': 1,
            'seconds': single,
            'requests': statistics.median(row['requests'] for row in singles),
            'reads': statistics.median(row['reads'] for row in singles),
            'polls': None,
            'pool_full': None,
        },
        {
            'label': f"Nova's bound: N x one / {NOVA_LIVE_CONCURRENCY}",
            'servers': count,
            'seconds': bound,
            'requests': None,
            'reads': None,
            'polls': None,
            'pool_full': None,
        },
    ]
    table += [
        row
        for key, row in rows.items()
        if key.startswith(('drain_', 'restore_')) and key != 'drain_loop'
    ]
    if 'drain_loop' in rows:
        table.append(rows['drain_loop'])
    print()
    print(header)
    print('-' * len(header))
    for row in table:
        per_server = row['seconds'] / row['servers']
        requests = row['requests']
        if isinstance(requests, float):
            requests = f'{requests:.1f}'
        reads = row['reads']
        if isinstance(reads, float):
            reads = f'{reads:.1f}'
        print(
            f'{row["label"]:<50} {row["servers"]:>4} '
            f'{row["seconds"]:>8.1f} {per_server:>8.3f} '
            f'{_or_dash(requests):>8} {_or_dash(reads):>5} '
            f'{_or_dash(row.get("polls")):>5} '
            f'{_or_dash(row["pool_full"]):>9} '
            f'{per_server / (bound / count):>7.2f}'
        )

    def median_of(prefix):
        runs = [row for key, row in rows.items() if key.startswith(prefix)]
        return (
            statistics.median(row['seconds'] for row in runs),
            statistics.median(row['polls'] for row in runs),
            len(runs),
        )

    this_seconds, this_polls, rounds = median_of('drain_default_')
    this_per_server = this_seconds / count
    for prefix, what in (
        ('drain_default_', 'this'),
        ('restore_default_', 'move back'),
    ):
        seconds = median_of(prefix)[0]
        ratio = seconds / bound
        print(
            f'N={count}: {what} (default, median of {rounds}) / Nova\'s '
            f'bound: {ratio:.2f}x ({seconds:.1f} s against {bound:.1f} s; '
            f'target <= {DRAIN_BOUND_TARGET}x: '
            f'{_verdict(ratio <= DRAIN_BOUND_TARGET)})'
        )
    loop = rows.get('drain_loop')
    if loop:
        loop_per_server = loop['seconds'] / loop['servers']
        ratio = loop_per_server / this_per_server
        print(
            f'N={count}: xargs loop per server / this per server: '
            f'{ratio:.1f}x ({loop_per_server:.2f} s against '
            f'{this_per_server:.3f} s; target >= {DRAIN_LOOP_TARGET:g}x: '
            f'{_verdict(ratio >= DRAIN_LOOP_TARGET)})'
        )
    times = ', '.join(f'{row["seconds"]:.2f}' for row in singles)
    nova = ', '.join(f'{row["nova_seconds"]:.2f}' for row in singles)
    print(
        f'N={count}: one live migration: {single:.2f} s ({times} s, POST '
        f'to "completed" seen; per Nova\'s records, created to completed: '
        f'{nova} s)'
    )
    print(
        f'N={count}: migration lists while waiting (this, default, '
        f'medians): {this_polls:g} for {this_seconds:.1f} s'
    )


def _verdict(met):
    return 'met' if met else 'MISSED'


def machine(args):
    return (
        f'Machine: {os.cpu_count()} cores, Python '
        f'{platform.python_version()}, {platform.machine()}; Nova '
        f'sandbox on 127.0.0.1 with {args.latency_ms:g} ms added to every '
        f'request; default --parallel {args.parallel} (set, unset), '
        f'{move_options.DEFAULT_PARALLEL_PER_HOST} per source host '
        f'(migrate).'
    )


def report(rows_by_count):
    header = (
        f'{"run":<50} {"N":>4} {"seconds":>8} {"s/server":>8} '
        f'{"requests":>8} {"writes":>6} {"x floor":>7} {"pool full":>9}'
    )
    for count, rows in rows_by_count.items():
        print()
        print(header)
        print('-' * len(header))
        for row in rows.values():
            floor = rows[row['floor']]
            per_server = row['seconds'] / row['servers']
            ratio = per_server / (floor['seconds'] / floor['servers'])
            print(
                f'{row["label"]:<50} {row["servers"]:>4} '
                f'{row["seconds"]:>8.1f} {per_server:>8.3f} '
                f'{row["requests"]:>8} {row["writes"]:>6} {ratio:>7.1f} '
                f'{_or_dash(row["pool_full"]):>9}'
            )
        host_meta = rows['host_meta']
        default_meta = rows['default_meta']
        serial_full = rows['serial_full']
        default_full = rows['default_full']
        print(
            f'N={count}: nova host-meta / this (metadata only): '
            f'{host_meta["seconds"] / default_meta["seconds"]:.1f}x; '
            f'--parallel 1 / default (full change): '
            f'{serial_full["seconds"] / default_full["seconds"]:.1f}x'
        )
        loop = rows.get('xargs_loop')
        if loop:
            per_server = loop['seconds'] / loop['servers']
            print(
                f'N={count}: xargs loop per server / this per server '
                f'(metadata only): '
                f'{per_server / (default_meta["seconds"] / count):.0f}x '
                f'({per_server:.2f} s against '
                f'{default_meta["seconds"] / count:.3f} s)'
            )


def report_breadth(rows):
    header = (
        f'{"breadth run":<50} {"N":>4} {"seconds":>8} {"requests":>8} '
        f'{"writes":>6}'
    )
    print()
    print(header)
    print('-' * len(header))
    for row in rows.values():
        print(
            f'{row["label"]:<50} {row["servers"]:>4} '
            f'{row["seconds"]:>8.1f} {row["requests"]:>8} '
            f'{row["writes"]:>6}'
        )
    one = statistics.median(
        row['seconds'] for key, row in rows.items() if '_one_' in key
    )
    wide = statistics.median(
        row['seconds'] for key, row in rows.items() if '_wide_' in key
    )
    print(
        f'breadth / one hypervisor (medians of {BREADTH_ROUNDS} runs each): '
        f'{wide / one:.2f}x ({wide:.1f} s against {one:.1f} s; '
        f'target <= {BREADTH_TARGET}x)'
    )


def main():
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        '--cases',
        type=lambda value: [case for case in value.split(',') if case],
        default=list(CASES),
        help=f'cases to run, comma separated, out of {",".join(CASES)} '
        '(default: all)',
    )
    parser.add_argument(
        '--servers',
        default='60,200',
        help='contenders: server counts on the hypervisor, comma separated',
    )
    parser.add_argument('--latency-ms', type=float, default=100)
    parser.add_argument(
        '--parallel', type=int, default=invocation.DEFAULT_PARALLEL
    )
    parser.add_argument(
        '--loop-servers',
        type=int,
        default=10,
        help='contenders: servers for the xargs loop (0: skip it)',
    )
    parser.add_argument(
        '--sweep',
        type=lambda value: [int(n) for n in value.split(',') if n],
        default=[],
        help='contenders: also time these --parallel values, e.g. 2,4,16',
    )
    parser.add_argument(
        '--drain-servers',
        type=lambda value: [int(n) for n in value.split(',') if n],
        default=[20, 60],
        help='drain: server counts on the hypervisor drained, comma '
        'separated (default: 20,60)',
    )
    parser.add_argument(
        '--drain-loop-servers',
        type=int,
        default=10,
        help='drain: servers for the xargs loop of openstack server '
        'migrate (0: skip it)',
    )
    parser.add_argument(
        '--drain-rounds',
        type=int,
        default=3,
        help='drain: rounds of the default drain and its move back, each '
        'after its own single moves, compared by their medians (default: 3)',
    )
    parser.add_argument(
        '--drain-sweep',
        type=lambda value: [int(n) for n in value.split(',') if n],
        default=[1, 2, 4],
        help='drain: also time migrate at these --parallel values, each '
        'a full drain (default: 1,2,4; "" to skip)',
    )
    args = parser.parse_args()
    unknown = set(args.cases) - set(CASES)
    if unknown:
        parser.error(f'unknown --cases {",".join(sorted(unknown))}')
    load_before = os.getloadavg()
    rows_by_count = {}
    if 'contenders' in args.cases:
        for count in map(int, args.servers.split(',')):
            rows_by_count[count] = run_for(count, args)
    breadth_rows = run_breadth(args) if 'breadth' in args.cases else None
    drain_rows = {}
    if 'drain' in args.cases:
        for count in args.drain_servers:
            drain_rows[count] = run_drain(count, args)
    preflight_rows = {}
    if 'preflight' in args.cases:
        for spares in PREFLIGHT_SPARES:
            preflight_rows[spares] = run_preflight(spares, args)
    print()
    print(machine(args))
    print(
        f'Load average (1, 5, 15 min): before '
        f'{", ".join(f"{n:.2f}" for n in load_before)}; after '
        f'{", ".join(f"{n:.2f}" for n in os.getloadavg())}.'
    )
    report(rows_by_count)
    if breadth_rows:
        report_breadth(breadth_rows)
    for count, rows in drain_rows.items():
        report_drain(count, rows)
    if preflight_rows:
        report_preflight(preflight_rows)


if __name__ == '__main__':
    main()
