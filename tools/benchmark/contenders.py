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

"""The contenders: marking the servers of one hypervisor of N.

This command at ``--parallel 1`` and at the default, on a property + tag
+ description change and on a metadata-only change; ``nova host-meta
--strict`` (python-novaclient) on the metadata-only change, its only
job; the loop ``openstack server list | xargs -n1 openstack server set``
on a few servers; the floor (only the HTTP calls the change needs, from
a plain thread pool with the same concurrency and a token got
beforehand); an identical re-run (no write expected).
"""

import argparse
from collections.abc import Callable
import concurrent.futures
import shlex
import sys
import time
from typing import Any

import requests

from benchmark import common
from osc_hypervisor_servers.tests import sandbox as nova_sandbox

HOST = 'compute-1'
# A second hypervisor whose name starts like the first: nothing on it
# may change.
NEIGHBOUR = 'compute-10'


class ContendersBench(common.Bench):
    def this_command(
        self,
        change: list[str],
        parallel: int | None = None,
        hypervisors: tuple[str, ...] | list[str] = (HOST,),
    ) -> Callable[[], Any]:
        options = ['--parallel', str(parallel)] if parallel else []
        return lambda: self.shell(
            shlex.join(
                ['openstack', 'hypervisor', 'servers', 'set', *hypervisors]
                + options
                + change
            )
        )

    def host_meta(self, key_value: str) -> Callable[[], Any]:
        return lambda: self.shell(
            shlex.join(
                ['nova', 'host-meta', '--strict', HOST, 'set', key_value]
            )
        )

    def xargs_loop(self, count: int, key_value: str) -> Callable[[], Any]:
        return lambda: self.shell(
            f'openstack server list --all-projects --host {HOST} '
            f"-f value -c ID | awk 'NR <= {count}' | "
            f'xargs -n1 openstack server set --property {key_value}'
        )

    def floor(self, full: bool, mark: str) -> Callable[[], None]:
        """Only the HTTP calls the change needs, from a thread pool.

        With a token got beforehand, as a long-running client has one.
        """
        token = self.sandbox.token()

        def run() -> None:
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

            def change(server: dict[str, Any]) -> None:
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


def full_change(mark: str) -> list[str]:
    return [
        '--property', f'{mark}=1',
        '--tag', mark,
        '--description', f'maintenance {mark}',
    ]  # fmt: skip


def run(count: int, args: argparse.Namespace) -> list[common.Row]:
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
        bench = ContendersBench(sandbox, count, args.parallel)
        _measure(bench, args)
        neighbours = sandbox.api(
            'GET', f'/servers/detail?all_tenants=1&host={NEIGHBOUR}'
        )[1]['servers']
        touched = [s['id'] for s in neighbours if s['metadata'] or s['tags']]
        if touched:
            sys.exit(f'benchmark: servers on {NEIGHBOUR} changed: {touched}')
        return bench.rows


def _measure(bench: ContendersBench, args: argparse.Namespace) -> None:
    p = args.parallel
    for case, label, function, floor in (
        (
            'serial_full',
            'this, --parallel 1, full change',
            bench.this_command(full_change('full1'), parallel=1),
            'floor_full',
        ),
        (
            'default_full',
            f'this, default (--parallel {p}), full change',
            bench.this_command(full_change('fullp')),
            'floor_full',
        ),
        (
            'floor_full',
            'floor, full change',
            bench.floor(full=True, mark='fullf'),
            'floor_full',
        ),
        (
            'serial_meta',
            'this, --parallel 1, metadata only',
            bench.this_command(['--property', 'meta1=1'], parallel=1),
            'floor_meta',
        ),
        (
            'default_meta',
            f'this, default (--parallel {p}), metadata only',
            bench.this_command(['--property', 'metap=1']),
            'floor_meta',
        ),
        (
            'host_meta',
            'nova host-meta --strict, metadata only',
            bench.host_meta('hostmeta=1'),
            'floor_meta',
        ),
        (
            'floor_meta',
            'floor, metadata only',
            bench.floor(full=False, mark='metaf'),
            'floor_meta',
        ),
        (
            'rerun',
            'this, identical re-run (default)',
            bench.this_command(['--property', 'metap=1']),
            'floor_meta',
        ),
    ):
        bench.measure(case, label, function, floor=floor)
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


def report(rows_by_count: dict[int, list[common.Row]]) -> None:
    for count, rows in rows_by_count.items():
        _report(count, rows)


def _report(count: int, rows: list[common.Row]) -> None:
    by_case = {row.case: row for row in rows}

    def times_floor(row: common.Row) -> float:
        assert row.floor is not None
        return row.per_server / by_case[row.floor].per_server

    common.print_table(
        'run',
        [
            common.SERVERS,
            common.SECONDS,
            common.PER_SERVER,
            common.REQUESTS,
            common.WRITES,
            common.Column('x floor', 7, times_floor, '.1f'),
            common.Column('pool full', 9, lambda row: row.pool_full),
        ],
        rows,
    )
    host_meta = by_case['host_meta'].seconds
    default_meta = by_case['default_meta'].seconds
    serial = by_case['serial_full'].seconds
    default_full = by_case['default_full'].seconds
    print(
        f'N={count}: nova host-meta / this (metadata only): '
        f'{host_meta / default_meta:.1f}x; --parallel 1 / default (full '
        f'change): {serial / default_full:.1f}x'
    )
    loop = by_case.get('xargs_loop')
    if loop:
        this = by_case['default_meta'].per_server
        print(
            f'N={count}: xargs loop per server / this per server '
            f'(metadata only): {loop.per_server / this:.0f}x '
            f'({loop.per_server:.2f} s against {this:.3f} s)'
        )
