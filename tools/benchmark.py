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

with the number of HTTP requests each one made (counted at the server)
and the ratios between them.

The ``breadth`` case, in a sandbox of its own with 21 hypervisors: this
command at the default ``--parallel``, the same property change on 60
servers spread over 20 hypervisors (3 each, all named on the command
line) and on 60 servers on one hypervisor, and the ratio of the two
times.

Usage: ``tox -e benchmark -- --help``; ``--cases breadth`` runs the
breadth case alone.
"""

import argparse
import concurrent.futures
import os
import platform
import shlex
import subprocess
import sys
import time
from typing import Any

import requests

from osc_hypervisor_servers.tests import sandbox as nova_sandbox
from osc_hypervisor_servers.v2 import hypervisor_servers

HOST = 'compute-1'
# A second hypervisor whose name starts like the first: nothing on it
# may change.
NEIGHBOUR = 'compute-10'
CASES = ('contenders', 'breadth')
# The breadth case: BREADTH_SERVERS servers on ONE_HYPERVISOR, and as
# many spread evenly over the WIDE_HYPERVISORS.
BREADTH_SERVERS = 60
ONE_HYPERVISOR = 'deep-1'
WIDE_HYPERVISORS = [f'wide-{n:02}' for n in range(1, 21)]
# Where the breadth case should be: breadth / one hypervisor.
BREADTH_TARGET = 1.15


class Bench:
    def __init__(self, sandbox, servers, parallel):
        self.sandbox = sandbox
        self.servers = servers
        self.parallel = parallel
        # Plain "openstack" and "nova" are the ones beside this Python.
        self.env = sandbox.env()
        self.rows = {}

    def measure(self, key, label, function, floor=None, servers=None):
        """Time ``function``; keep its row under ``key``.

        ``floor`` is the key of the row this one is compared to.
        """
        self.sandbox.reset_stats()
        started = time.perf_counter()
        function()
        seconds = time.perf_counter() - started
        stats = self.sandbox.stats()
        row = {
            'key': key,
            'label': label,
            'floor': floor,
            'servers': servers or self.servers,
            'seconds': seconds,
            'requests': stats['total'],
            'writes': stats['writes'],
        }
        self.rows[key] = row
        print(
            f'  {label}: {seconds:.1f} s, {stats["total"]} requests, '
            f'{stats["writes"]} writes',
            flush=True,
        )
        return row

    def shell(self, command):
        process = subprocess.run(
            ['bash', '-o', 'pipefail', '-c', command],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        if process.returncode != 0:
            sys.exit(f'benchmark: {command!r} failed:\n{process.stderr}')

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
        """Only the HTTP calls the change needs, from a thread pool."""

        def run():
            session = requests.Session()
            adapter = requests.adapters.HTTPAdapter(pool_maxsize=self.parallel)
            session.mount('http://', adapter)
            session.headers.update(
                {
                    'X-Auth-Token': nova_sandbox.ADMIN_TOKEN,
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
        bench.measure(
            'breadth_one',
            f'this, default, 1 hypervisor x {BREADTH_SERVERS} servers',
            bench.this_command(
                ['--property', 'breadth=1'], hypervisors=[ONE_HYPERVISOR]
            ),
        )
        bench.measure(
            'breadth_wide',
            f'this, default, {len(WIDE_HYPERVISORS)} hypervisors x '
            f'{per_host} servers',
            bench.this_command(
                ['--property', 'breadth=1'], hypervisors=WIDE_HYPERVISORS
            ),
        )
        return bench.rows


def machine(args):
    return (
        f'Machine: {os.cpu_count()} cores, Python '
        f'{platform.python_version()}, {platform.machine()}; Nova '
        f'sandbox on 127.0.0.1 with {args.latency_ms:g} ms added to every '
        f'request; default --parallel {args.parallel}.'
    )


def report(rows_by_count):
    header = (
        f'{"run":<50} {"N":>4} {"seconds":>8} {"s/server":>8} '
        f'{"requests":>8} {"writes":>6} {"x floor":>7}'
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
                f'{row["requests"]:>8} {row["writes"]:>6} {ratio:>7.1f}'
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
    one, wide = rows['breadth_one'], rows['breadth_wide']
    ratio = wide['seconds'] / one['seconds']
    print(
        f'breadth / one hypervisor: {ratio:.2f}x '
        f'({wide["seconds"]:.1f} s against {one["seconds"]:.1f} s; '
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
        '--parallel', type=int, default=hypervisor_servers.DEFAULT_PARALLEL
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
    args = parser.parse_args()
    unknown = set(args.cases) - set(CASES)
    if unknown:
        parser.error(f'unknown --cases {",".join(sorted(unknown))}')
    rows_by_count = {}
    if 'contenders' in args.cases:
        for count in map(int, args.servers.split(',')):
            rows_by_count[count] = run_for(count, args)
    breadth_rows = run_breadth(args) if 'breadth' in args.cases else None
    print()
    print(machine(args))
    report(rows_by_count)
    if breadth_rows:
        report_breadth(breadth_rows)


if __name__ == '__main__':
    main()
