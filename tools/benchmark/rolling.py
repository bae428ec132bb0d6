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

"""Rolling maintenance: ``maintain`` of three hosts (with a command that
does nothing) against the same three hosts by hand, each drained with
``migrate --disable-service`` and given back with ``restore``: what the
rolling machinery adds (the journal, the hand-over, the wait for a
heartbeat after the command, Nova's report interval here 1 s).
"""

import argparse

from benchmark import common
from osc_hypervisor_servers.tests import sandbox as nova_sandbox

HOSTS = ('rl-1', 'rl-2', 'rl-3', 'rl-4')
MAINTAINED = HOSTS[:3]
SERVERS_PER_HOST = 5
ROUNDS = 2
#: The target: maintain at most this much slower than by hand.
TARGET_RATIO = 1.1


def _by_hand(bench: common.Bench) -> None:
    for host in MAINTAINED:
        drained = bench.shell(
            f'openstack hypervisor servers migrate {host} --disable-service '
            f'-f json'
        )
        journal = common.journal_of(common.Row('', '', 0, 0, result=drained))
        bench.shell(f'openstack hypervisor servers restore {journal} -f json')


def run(args: argparse.Namespace) -> list[common.Row]:
    print(
        f'\nRolling: {SERVERS_PER_HOST} servers on each of {len(HOSTS)} '
        f'hosts, {len(MAINTAINED)} maintained...',
        flush=True,
    )
    with nova_sandbox.NovaSandbox(
        HOSTS, servers_per_host=SERVERS_PER_HOST, report_interval=1
    ) as sandbox:
        sandbox.set_latency(args.latency_ms)
        bench = common.Bench(
            sandbox, SERVERS_PER_HOST * len(MAINTAINED), args.parallel
        )
        for _round in range(ROUNDS):
            bench.measure(
                'maintain',
                'maintain of 3 hosts, --exec true',
                bench.openstack(
                    'hypervisor',
                    'servers',
                    'maintain',
                    *MAINTAINED,
                    '--exec',
                    'true',
                    '-f',
                    'json',
                ),  # fmt: skip
            )
            bench.measure(
                'by hand',
                '3 x (migrate --disable-service, restore)',
                lambda: _by_hand(bench),
            )
        return bench.rows


def report(rows: list[common.Row]) -> None:
    medians = [
        common.Row(
            case=case,
            label=f'{first.label} (median)',
            servers=first.servers,
            seconds=common.median(rows, case),
            requests=common.median(rows, case, 'requests'),
            writes=common.median(rows, case, 'writes'),
        )
        for case in ('maintain', 'by hand')
        for first in common.of_case(rows, case)[:1]
    ]
    common.print_table(
        'rolling maintenance',
        [common.SERVERS, common.SECONDS, common.REQUESTS, common.WRITES],
        medians,
    )
    maintained, by_hand = (row.seconds for row in medians)
    ratio = maintained / by_hand
    print(
        f'maintain / by hand: {ratio:.2f}x (target <= {TARGET_RATIO}x: '
        f'{common.verdict(ratio <= TARGET_RATIO)})'
    )
