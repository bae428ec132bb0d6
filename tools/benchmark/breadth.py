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

"""Breadth: the same change on 60 servers of one hypervisor, and on 60
servers spread over 20 hypervisors named on the command line.
"""

import argparse
import time

from benchmark import common
from benchmark import contenders
from osc_hypervisor_servers.tests import sandbox as nova_sandbox

SERVERS = 60
ONE_HYPERVISOR = 'deep-1'
WIDE_HYPERVISORS = [f'wide-{n:02}' for n in range(1, 21)]
# Where it should be: breadth / one hypervisor.
TARGET = 1.15
ROUNDS = 3


def run(args: argparse.Namespace) -> list[common.Row]:
    per_host = SERVERS // len(WIDE_HYPERVISORS)
    print(
        f'\nBreadth: booting {SERVERS} servers on {ONE_HYPERVISOR} and '
        f'{per_host} on each of {len(WIDE_HYPERVISORS)} other '
        f'hypervisors...',
        flush=True,
    )
    started = time.perf_counter()
    with nova_sandbox.NovaSandbox(
        [ONE_HYPERVISOR, *WIDE_HYPERVISORS], servers_per_host=0
    ) as sandbox:
        # One request per hypervisor, all made before waiting for any.
        sandbox.boot_batches(
            [(ONE_HYPERVISOR, SERVERS, None)]
            + [(host, per_host, None) for host in WIDE_HYPERVISORS]
        )
        print(f'  ready in {time.perf_counter() - started:.0f} s', flush=True)
        sandbox.set_latency(args.latency_ms)
        bench = contenders.ContendersBench(sandbox, SERVERS, args.parallel)
        # A run takes about 5 s, and a second of it is noise on two
        # shared cores: the two alternate, and their medians are compared.
        for round_number in range(1, ROUNDS + 1):
            change = ['--property', f'breadth={round_number}']
            bench.measure(
                'one',
                f'this, default, 1 hypervisor x {SERVERS} servers',
                bench.this_command(change, hypervisors=[ONE_HYPERVISOR]),
            )
            bench.measure(
                'wide',
                f'this, default, {len(WIDE_HYPERVISORS)} hypervisors x '
                f'{per_host} servers',
                bench.this_command(change, hypervisors=WIDE_HYPERVISORS),
            )
        return bench.rows


def report(rows: list[common.Row]) -> None:
    common.print_table(
        'breadth run',
        [common.SERVERS, common.SECONDS, common.REQUESTS, common.WRITES],
        rows,
    )
    one = common.median(rows, 'one')
    wide = common.median(rows, 'wide')
    print(
        f'breadth / one hypervisor (medians of {ROUNDS} runs each): '
        f'{wide / one:.2f}x ({wide:.1f} s against {one:.1f} s; '
        f'target <= {TARGET}x)'
    )
