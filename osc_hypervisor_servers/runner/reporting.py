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

"""One row per server, and what a whole run says at its end."""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Mapping
import dataclasses

from osc_hypervisor_servers.core import model


@dataclasses.dataclass(frozen=True)
class Status:
    """What happened to one server, as its row's Result shows it."""

    label: str
    #: Whether the server ended where the run wanted it; any other
    #: status makes the command exit non-zero.
    ok: bool

    def __str__(self) -> str:
        return self.label


CHANGED = Status('changed', ok=True)
UNCHANGED = Status('unchanged', ok=True)
WOULD_CHANGE = Status('would change', ok=True)
FAILED = Status('failed', ok=False)
NOT_ATTEMPTED = Status('not attempted', ok=False)
#: A server of a journal that no longer exists: nothing to put back.
GONE = Status('gone', ok=True)
#: Left alone on purpose (its state does not allow the change): it is
#: not where the run wanted it.
SKIPPED = Status('skipped', ok=False)
TIMED_OUT = Status('timed out', ok=False)


@dataclasses.dataclass(frozen=True)
class ServerResult:
    """One server's row; a verb's own rows add their columns."""

    server: model.ServerState
    status: Status
    details: str = ''

    def columns(self) -> Mapping[str, str]:
        """The verb's own columns of the row, by name."""
        return {}


def sorted_results(results: Iterable[ServerResult]) -> list[ServerResult]:
    return sorted(
        results,
        key=lambda r: (
            r.server.hypervisor_hostname or '',
            r.server.name or '',
            r.server.id,
        ),
    )


@dataclasses.dataclass(frozen=True)
class Report:
    results: list[ServerResult]
    #: Ctrl-C ended the run.
    interrupted: bool = False
    #: Why the run ended before its tasks could (Nova stopped
    #: answering), if it did.
    abandoned: str | None = None
    #: A dry run's: what a real run would do, nothing done.
    previewed: bool = False

    def count(self, *statuses: Status) -> int:
        return sum(1 for result in self.results if result.status in statuses)

    @property
    def failed(self) -> int:
        """Servers that did not end as wanted, not counting those not
        attempted or skipped on purpose.
        """
        return sum(
            1
            for result in self.results
            if not result.status.ok
            and result.status not in (NOT_ATTEMPTED, SKIPPED)
        )

    @property
    def succeeded(self) -> bool:
        return all(result.status.ok for result in self.results)

    def summary(self) -> str:
        summary = f'{self.failed} of {len(self.results)} servers failed'
        for status in (SKIPPED, NOT_ATTEMPTED):
            count = self.count(status)
            if count:
                summary += f', {count} {status}'
        if self.abandoned is not None:
            summary = f'{self.abandoned}: gave up; {summary}'
        return summary


@dataclasses.dataclass(frozen=True)
class Outcome:
    """What a verb returns to its command."""

    report: Report
    #: Whether rows may be on several hypervisors (a Hypervisor column).
    wide: bool = False
    #: The verb's own columns, between Result and Details.
    columns: tuple[str, ...] = ()
    #: The journal of the run, when it wrote anything.
    journal: str | None = None
    #: Why the journal lacks the run's results, when it does.
    journal_unrecorded: str | None = None
    #: What went wrong, in one line; the report's own when None.
    problem: str | None = None

    @property
    def summary(self) -> str:
        return self.problem or self.report.summary()

    @property
    def succeeded(self) -> bool:
        return self.problem is None and self.report.succeeded
