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

"""What every case shares: a typed row, the bench that measures one, one
table printer, and medians taken by a field.
"""

from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Sequence
import dataclasses
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

from osc_hypervisor_servers.moves import move_options
from osc_hypervisor_servers.tests import sandbox as nova_sandbox

# What urllib3 logs when a request's connection does not fit back into
# the pool.
POOL_FULL = 'Connection pool is full'
# The migration lists a drain makes while waiting, as the sandbox counts
# them.
WATCH_POLLS = 'GET os-migrations'


@dataclasses.dataclass
class Row:
    """One measured run of one contender."""

    #: What was run, the same for every round of it: medians are taken
    #: over the rows of one case.
    case: str
    label: str
    servers: int
    seconds: float
    #: Requests nova received, and of them GETs, writes, migration lists.
    requests: float | None = None
    reads: float | None = None
    writes: float | None = None
    polls: float | None = None
    #: urllib3's "Connection pool is full" warnings of a command line.
    pool_full: int | None = None
    #: The case this one is compared to (the contenders' floor).
    floor: str | None = None
    #: Placement requests (the pre-flight's), and Nova's own seconds of a
    #: move (its record's creation to its end).
    placement: int | None = None
    nova_seconds: float | None = None
    #: What the function returned: a finished command line, a record.
    result: Any = None

    @property
    def per_server(self) -> float:
        return self.seconds / self.servers


def of_case(rows: Iterable[Row], case: str) -> list[Row]:
    return [row for row in rows if row.case == case]


def median(rows: Iterable[Row], case: str, field: str = 'seconds') -> float:
    """The median of ``field`` over the rows of ``case``."""
    values = [getattr(row, field) for row in of_case(rows, case)]
    if not values:
        sys.exit(f'benchmark: no run of {case}')
    return float(statistics.median(values))


def verdict(met: bool) -> str:
    return 'met' if met else 'MISSED'


class Bench:
    """Measures runs against one sandbox; keeps their rows in order."""

    def __init__(
        self, sandbox: nova_sandbox.NovaSandbox, servers: int, parallel: int
    ) -> None:
        self.sandbox = sandbox
        self.servers = servers
        self.parallel = parallel
        # Plain "openstack" and "nova" are the ones beside this Python;
        # journals go to a directory of the benchmark's own.
        self.state = tempfile.mkdtemp(prefix='benchmark-state-')
        self.env = dict(sandbox.env(), XDG_STATE_HOME=self.state)
        self.rows: list[Row] = []

    def measure(
        self,
        case: str,
        label: str,
        function: Callable[[], Any],
        floor: str | None = None,
        servers: int | None = None,
    ) -> Row:
        """Time ``function``, counting the requests nova received; keep
        its row. A finished command line's row counts the pool warnings
        on its stderr.
        """
        self.sandbox.reset_stats()
        started = time.perf_counter()
        result = function()
        seconds = time.perf_counter() - started
        stats = self.sandbox.stats()
        row = Row(
            case=case,
            label=label,
            servers=servers or self.servers,
            seconds=seconds,
            requests=stats['total'],
            reads=stats['by_method'].get('GET', 0),
            writes=stats['writes'],
            polls=stats['by_resource'].get(WATCH_POLLS, 0),
            floor=floor,
            result=result,
        )
        if isinstance(result, subprocess.CompletedProcess):
            row.pool_full = result.stderr.count(POOL_FULL)
        self.rows.append(row)
        warnings = (
            ''
            if row.pool_full is None
            else f', {row.pool_full} "{POOL_FULL}" warnings'
        )
        print(
            f'  {label}: {seconds:.1f} s, {stats["total"]} requests, '
            f'{stats["writes"]} writes{warnings}',
            flush=True,
        )
        return row

    def shell(
        self, command: str, stdout: bool = False
    ) -> subprocess.CompletedProcess[str]:
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

    def openstack(self, *args: str) -> Callable[[], Any]:
        """A timed function: ``openstack <args>``, its stdout kept."""
        command = shlex.join(['openstack', *args])
        return lambda: self.shell(command, stdout=True)


def journal_of(row: Row) -> str:
    """The journal a command line of ``row`` named on stderr."""
    found = re.search(r'^Journal of this run: (.+)$', row.result.stderr, re.M)
    if found is None:
        sys.exit(f'benchmark: {row.label}: no journal named')
    return found[1]


@dataclasses.dataclass(frozen=True)
class Column:
    title: str
    width: int
    #: The cell of a row; None prints "-".
    cell: Callable[[Row], object]
    #: How a number is written (its format spec).
    spec: str = ''


def _cell(value: object, column: Column) -> str:
    if value is None:
        text = '-'
    elif isinstance(value, float) and column.spec:
        text = format(value, column.spec)
    elif isinstance(value, float):
        text = f'{value:g}' if value.is_integer() else f'{value:.1f}'
    else:
        text = str(value)
    return f'{text:>{column.width}}'


SERVERS = Column('N', 4, lambda row: row.servers)
SECONDS = Column('seconds', 8, lambda row: row.seconds, '.1f')
PER_SERVER = Column('s/server', 8, lambda row: row.per_server, '.3f')
REQUESTS = Column('requests', 8, lambda row: row.requests)
WRITES = Column('writes', 6, lambda row: row.writes)
LABEL_WIDTH = 50


def print_table(
    title: str, columns: Sequence[Column], rows: Iterable[Row]
) -> None:
    """One table: a header, a rule, a line per row, its label first."""
    header = ' '.join(
        [f'{title:<{LABEL_WIDTH}}']
        + [f'{column.title:>{column.width}}' for column in columns]
    )
    print()
    print(header)
    print('-' * len(header))
    for row in rows:
        print(
            ' '.join(
                [f'{row.label:<{LABEL_WIDTH}}']
                + [_cell(column.cell(row), column) for column in columns]
            )
        )


def machine(latency_ms: float, parallel: int) -> str:
    return (
        f'Machine: {os.cpu_count()} cores, Python '
        f'{platform.python_version()}, {platform.machine()}; Nova '
        f'sandbox on 127.0.0.1 with {latency_ms:g} ms added to every '
        f'request; default --parallel {parallel} (set, unset), '
        f'{move_options.DEFAULT_PARALLEL_PER_HOST} per source host '
        f'(migrate).'
    )
