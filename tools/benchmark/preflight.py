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

"""The pre-flight: a drain's dry run with and without it (39 servers of
3 flavor shapes, over 4 and then 20 other hosts): the seconds and the
Placement requests the pre-flight adds.
"""

import argparse
import time

from benchmark import common
from osc_hypervisor_servers.tests import sandbox as nova_sandbox

SERVERS = 39  # 13 of each shape
SHAPES = ((1, 512), (2, 1024), (4, 2048))
SPARES = (4, 20)
ROUNDS = 3


def _flavors(sandbox: nova_sandbox.NovaSandbox) -> list[str]:
    flavors = []
    for vcpus, ram in SHAPES:
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
    return flavors


def run(spares: int, args: argparse.Namespace) -> list[common.Row]:
    """A drain's dry run with and without its pre-flight, over ``spares``
    hosts: the pre-flight's own requests and seconds.
    """
    hosts = ['pf-source'] + [f'pf-spare-{n:02}' for n in range(spares)]
    print(
        f'\nPre-flight: {SERVERS} servers of {len(SHAPES)} flavors on '
        f'{hosts[0]}, {spares} other hosts...',
        flush=True,
    )
    started = time.perf_counter()
    with nova_sandbox.NovaSandbox(hosts, servers_per_host=0) as sandbox:
        flavors = _flavors(sandbox)
        share = SERVERS // len(flavors)
        sandbox.boot_batches(
            [nova_sandbox.Boot(hosts[0], share, flavor=f) for f in flavors]
        )
        print(f'  ready in {time.perf_counter() - started:.0f} s', flush=True)
        sandbox.set_latency(args.latency_ms)
        bench = common.Bench(sandbox, share * len(flavors), args.parallel)
        for _round in range(ROUNDS):
            for case, options in (
                ('with', []),
                ('without', ['--skip-preflight']),
            ):
                row = bench.measure(
                    case,
                    f'dry run {case} the pre-flight, {spares} hosts',
                    bench.openstack(
                        'hypervisor',
                        'servers',
                        'migrate',
                        hosts[0],
                        '--dry-run',
                        '-f',
                        'json',
                        *options,
                    ),  # fmt: skip
                )
                row.placement = sandbox.stats('placement')['total']
        return bench.rows


def report(rows_by_spares: dict[int, list[common.Row]]) -> None:
    for spares, rows in rows_by_spares.items():
        medians = [
            common.Row(
                case=case,
                label=f'dry run {case} the pre-flight (median), H={spares}',
                servers=first.servers,
                seconds=common.median(rows, case),
                requests=first.requests,
                placement=first.placement,
            )
            for case in ('with', 'without')
            for first in common.of_case(rows, case)[:1]
        ]
        common.print_table(
            f'pre-flight, K={len(SHAPES)} flavor shapes',
            [
                common.SERVERS,
                common.Column('seconds', 8, lambda row: row.seconds, '.2f'),
                common.Column('compute', 8, lambda row: row.requests),
                common.Column('placement', 9, lambda row: row.placement),
            ],
            medians,
        )
        with_it, without = (row.seconds for row in medians)
        print(f'H={spares}: the pre-flight costs {with_it - without:.2f} s')
