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

Each case measures its contenders side by side in one run, against a
sandbox of its own, with the number of HTTP requests each one made to
nova (counted at the server; each command line also authenticates with
keystone first, which does not count there) and the ratios between
them: ``contenders`` (marking one hypervisor: this command, nova
host-meta, the xargs loop, the floor), ``breadth`` (one hypervisor
against twenty), ``drain`` (this command's drain and move back against
Nova's bound and the xargs loop), ``preflight`` (what the pre-flight
costs a drain), ``rolling`` (``maintain`` of three hosts against their
drains and restores by hand).

Usage: ``tox -e benchmark -- --help``; ``--cases drain`` runs the drain
case alone.
"""

import argparse
from collections.abc import Callable
import os

from benchmark import breadth
from benchmark import common
from benchmark import contenders
from benchmark import drain
from benchmark import preflight
from benchmark import rolling
from osc_hypervisor_servers.runner import invocation


def _numbers(value: str) -> list[int]:
    return [int(number) for number in value.split(',') if number]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog='tox -e benchmark --',
        description=(__doc__ or '').split('\n\n')[0],
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
        type=_numbers,
        default=[60, 200],
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
        type=_numbers,
        default=[],
        help='contenders: also time these --parallel values, e.g. 2,4,16',
    )
    parser.add_argument(
        '--drain-servers',
        type=_numbers,
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
        type=_numbers,
        default=[1, 2, 4],
        help='drain: also time migrate at these --parallel values, each '
        'a full drain (default: 1,2,4; "" to skip)',
    )
    return parser


def _contenders(args: argparse.Namespace) -> Callable[[], None]:
    rows = {count: contenders.run(count, args) for count in args.servers}
    return lambda: contenders.report(rows)


def _breadth(args: argparse.Namespace) -> Callable[[], None]:
    rows = breadth.run(args)
    return lambda: breadth.report(rows)


def _drain(args: argparse.Namespace) -> Callable[[], None]:
    rows = {count: drain.run(count, args) for count in args.drain_servers}

    def report() -> None:
        for count, counted in rows.items():
            drain.report(count, counted)

    return report


def _preflight(args: argparse.Namespace) -> Callable[[], None]:
    rows = {spares: preflight.run(spares, args) for spares in preflight.SPARES}
    return lambda: preflight.report(rows)


def _rolling(args: argparse.Namespace) -> Callable[[], None]:
    rows = rolling.run(args)
    return lambda: rolling.report(rows)


#: Each case runs, then hands back how to report it once all have run.
CASES: dict[str, Callable[[argparse.Namespace], Callable[[], None]]] = {
    'contenders': _contenders,
    'breadth': _breadth,
    'drain': _drain,
    'preflight': _preflight,
    'rolling': _rolling,
}


def main() -> None:
    parser = _parser()
    args = parser.parse_args()
    unknown = set(args.cases) - set(CASES)
    if unknown:
        parser.error(f'unknown --cases {",".join(sorted(unknown))}')
    load_before = os.getloadavg()
    reports = [CASES[case](args) for case in CASES if case in args.cases]
    print()
    print(common.machine(args.latency_ms, args.parallel))
    print(
        f'Load average (1, 5, 15 min): before '
        f'{", ".join(f"{n:.2f}" for n in load_before)}; after '
        f'{", ".join(f"{n:.2f}" for n in os.getloadavg())}.'
    )
    for report in reports:
        report()


main()
