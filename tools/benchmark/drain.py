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

"""The drain: N servers moved off one of exactly two hypervisors (so that
the scheduler has one choice).

This command (``hypervisor servers migrate``) at the default
``--parallel`` and at a few others; the move back (``restore`` of the
default drain's journal); the loop ``openstack server list | xargs -n1
openstack server migrate --live-migration --wait`` on a few servers;
Nova's bound: N times one live migration (raw API, polled every 0.1 s),
as Nova runs one live migration per compute at a time. Only part of a
move is serialized, so a client that keeps several moves in flight can
come in under it.
"""

import argparse
from collections.abc import Callable
import datetime
import json
import sys
import time
from typing import Any

from benchmark import common
from osc_hypervisor_servers.moves import move_options
from osc_hypervisor_servers.tests import sandbox as nova_sandbox

HOSTS = ('drain-a', 'drain-b')
# Single live migrations timed with the raw API, after one to warm up.
SINGLE_MOVES = 3
SINGLE_POLL_SECONDS = 0.1
SINGLE_TIMEOUT_SECONDS = 120
# Nova runs this many live migrations per compute at a time (its
# max_concurrent_live_migrations; in the sandbox, in the whole process).
NOVA_LIVE_CONCURRENCY = 1
# Where it should be: the loop's time per server over this command's, at
# least; this command over Nova's bound, at most.
LOOP_TARGET = 3.0
BOUND_TARGET = 1.2


class DrainBench(common.Bench):
    """Servers moved between two hosts, checked through the API."""

    def servers_on(self) -> dict[str, list[dict[str, Any]]]:
        """Every server, as Nova reports it, by host."""
        by_host: dict[str, list[dict[str, Any]]] = {}
        for server in self.sandbox.api_list(
            '/servers/detail?all_tenants=1', 'servers'
        ):
            by_host.setdefault(server['OS-EXT-SRV-ATTR:host'], []).append(
                server
            )
        return by_host

    def expect(
        self, counts: dict[str, int], when: str
    ) -> dict[str, list[dict[str, Any]]]:
        """Exit unless each host holds that many settled servers: every
        server on one of them, ACTIVE, with no task under way.
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

    def migrate(
        self, source: str, parallel: int | None = None
    ) -> Callable[[], Any]:
        """This command: drain ``source`` (-f json)."""
        options = ['--parallel', str(parallel)] if parallel else []
        return self.openstack(
            'hypervisor', 'servers', 'migrate', source, '-f', 'json', *options
        )

    def restore(self, journal: str) -> Callable[[], Any]:
        """This command: every server of a drain's ``journal`` back."""
        return self.openstack(
            'hypervisor', 'servers', 'restore', journal, '-f', 'json'
        )

    def check_moved(self, row: common.Row, target: str) -> None:
        """Exit unless every server of ``row``'s run was "migrated" to
        ``target``, as the API shows them too.
        """
        results = json.loads(row.result.stdout)
        wrong = [
            f'{result["ID"]}: {result["Result"]} {result["Details"]}'
            for result in results
            if result['Result'] != 'migrated'
            or result['Destination'] != target
        ]
        if len(results) != self.servers or wrong:
            sys.exit(
                f'benchmark: {row.label}: {len(results)} rows for '
                f'{self.servers} servers; not migrated to {target}: '
                f'{wrong or "none"}'
            )
        self.expect({target: self.servers}, f'after {row.label}')

    def loop(self, source: str, count: int) -> Callable[[], Any]:
        """OSC's own command, one process per server, waiting for each."""
        return lambda: self.shell(
            f'openstack server list --all-projects --host {source} '
            f"-f value -c ID | awk 'NR <= {count}' | "
            f'xargs -n1 openstack server migrate --live-migration --wait'
        )

    def live_migrate_once(self, server_id: str) -> Callable[[], Any]:
        """One live migration with the raw API, as a timed function that
        returns its completed record.
        """
        path = f'/os-migrations?instance_uuid={server_id}'
        known = {
            migration['uuid']
            for migration in self.sandbox.api_list(path, 'migrations')
        }

        def run() -> Any:
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


def _nova_seconds(record: dict[str, Any]) -> float:
    """From a migration record's creation to its last update, per Nova."""
    created, updated = (
        datetime.datetime.fromisoformat(record[key])
        for key in ('created_at', 'updated_at')
    )
    return (updated - created).total_seconds()


def _single_moves(bench: DrainBench, mover: str, home: str) -> None:
    """Time SINGLE_MOVES live migrations of ``mover``, ending at ``home``."""
    first, second = HOSTS
    other = {first: second, second: first}
    at = home
    moves = SINGLE_MOVES + SINGLE_MOVES % 2  # it ends where it started
    for move in range(1, moves + 1):
        function = bench.live_migrate_once(mover)
        if move <= SINGLE_MOVES:
            row = bench.measure(
                'single',
                f'one live migration, raw API ({at} to {other[at]})',
                function,
                servers=1,
            )
            row.nova_seconds = _nova_seconds(row.result)
        else:
            function()
        at = other[at]
        status, answer = bench.sandbox.api('GET', f'/servers/{mover}')
        if answer['server']['OS-EXT-SRV-ATTR:host'] != at:
            sys.exit(f'benchmark: {mover} is not on {at}: {answer}')


def run(count: int, args: argparse.Namespace) -> list[common.Row]:
    """Drain a hypervisor of ``count`` servers: each contender in turn."""
    first, second = HOSTS
    print(
        f'\nDrain: booting {count} servers on {first} (and none on '
        f'{second})...',
        flush=True,
    )
    started = time.perf_counter()
    with nova_sandbox.NovaSandbox(list(HOSTS), servers_per_host=0) as sandbox:
        sandbox.boot(first, count)
        print(f'  ready in {time.perf_counter() - started:.0f} s', flush=True)
        sandbox.set_latency(args.latency_ms)
        bench = DrainBench(
            sandbox, count, move_options.DEFAULT_PARALLEL_PER_HOST
        )
        _rounds(bench, args)
        _others(bench, args)
        return bench.rows


def _rounds(bench: DrainBench, args: argparse.Namespace) -> None:
    """Rounds of the default drain and its move back, each after Nova's
    bound is measured again.
    """
    source, target = HOSTS
    count = bench.servers
    by_host = bench.expect({source: count}, 'after booting')
    # Nova's bound: one server moved back and forth before each round,
    # the very first move to warm up (the first live migration of a
    # process is slower).
    mover = by_host[source][0]['id']
    bench.live_migrate_once(mover)()
    bench.live_migrate_once(mover)()
    default = move_options.DEFAULT_PARALLEL_PER_HOST
    for round_number in range(1, args.drain_rounds + 1):
        _single_moves(bench, mover, source)
        bench.expect({source: count}, f'before round {round_number}')
        row = bench.measure(
            'drain_default',
            f'this, default (--parallel {default}), {source} to {target}',
            bench.migrate(source),
        )
        bench.check_moved(row, target)
        # The move back: the drain's journal brings them home.
        row = bench.measure(
            'restore_default',
            f'this, restore of that drain, {target} to {source}',
            bench.restore(common.journal_of(row)),
        )
        bench.check_moved(row, source)


def _others(bench: DrainBench, args: argparse.Namespace) -> None:
    """The sweep of --parallel, then the xargs loop."""
    first, second = HOSTS
    other = {first: second, second: first}
    source = first
    count = bench.servers
    for parallel in args.drain_sweep:
        if parallel == move_options.DEFAULT_PARALLEL_PER_HOST:
            continue
        how = f'--parallel {parallel}'
        bench.expect({source: count}, f'before this, {how}')
        row = bench.measure(
            f'drain_{parallel}',
            f'this, {how}, {source} to {other[source]}',
            bench.migrate(source, parallel),
        )
        bench.check_moved(row, other[source])
        source = other[source]
    if args.drain_loop_servers:
        loop_count = min(args.drain_loop_servers, count)
        bench.expect({source: count}, 'before the loop')
        bench.measure(
            'loop',
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


def report(count: int, rows: list[common.Row]) -> None:
    singles = common.of_case(rows, 'single')
    single = common.median(rows, 'single')
    bound = count * single / NOVA_LIVE_CONCURRENCY
    table = [
        common.Row(
            case='single_median',
            label=f'one live migration, raw API (median of {len(singles)})',
            servers=1,
            seconds=single,
            requests=common.median(rows, 'single', 'requests'),
            reads=common.median(rows, 'single', 'reads'),
        ),
        common.Row(
            case='bound',
            label=f"Nova's bound: N x one / {NOVA_LIVE_CONCURRENCY}",
            servers=count,
            seconds=bound,
        ),
        *(row for row in rows if row.case not in ('single', 'loop')),
        *common.of_case(rows, 'loop'),
    ]
    common.print_table(
        'drain run',
        [
            common.SERVERS,
            common.SECONDS,
            common.PER_SERVER,
            common.REQUESTS,
            common.Column('GETs', 5, lambda row: row.reads),
            common.Column('waits', 5, lambda row: row.polls),
            common.Column('pool full', 9, lambda row: row.pool_full),
            common.Column(
                'x bound', 7, lambda row: row.per_server / single, '.2f'
            ),
        ],
        table,
    )
    _ratios(count, rows, bound, single)


def _ratios(
    count: int, rows: list[common.Row], bound: float, single: float
) -> None:
    rounds = len(common.of_case(rows, 'drain_default'))
    this_per_server = common.median(rows, 'drain_default') / count
    for case, what in (
        ('drain_default', 'this'),
        ('restore_default', 'move back'),
    ):
        seconds = common.median(rows, case)
        ratio = seconds / bound
        print(
            f'N={count}: {what} (default, median of {rounds}) / Nova\'s '
            f'bound: {ratio:.2f}x ({seconds:.1f} s against {bound:.1f} s; '
            f'target <= {BOUND_TARGET}x: '
            f'{common.verdict(ratio <= BOUND_TARGET)})'
        )
    for loop in common.of_case(rows, 'loop'):
        ratio = loop.per_server / this_per_server
        print(
            f'N={count}: xargs loop per server / this per server: '
            f'{ratio:.1f}x ({loop.per_server:.2f} s against '
            f'{this_per_server:.3f} s; target >= {LOOP_TARGET:g}x: '
            f'{common.verdict(ratio >= LOOP_TARGET)})'
        )
    singles = common.of_case(rows, 'single')
    times = ', '.join(f'{row.seconds:.2f}' for row in singles)
    nova = ', '.join(f'{row.nova_seconds:.2f}' for row in singles)
    print(
        f'N={count}: one live migration: {single:.2f} s ({times} s, POST '
        f'to "completed" seen; per Nova\'s records, created to completed: '
        f'{nova} s)'
    )
    print(
        f'N={count}: migration lists while waiting (this, default, '
        f'medians): {common.median(rows, "drain_default", "polls"):g} for '
        f'{common.median(rows, "drain_default"):.1f} s'
    )
