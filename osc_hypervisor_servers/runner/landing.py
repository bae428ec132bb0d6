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

"""Calls whose outcome the server's state decides, not the last answer.

An answer can be lost after Nova applied the request (a proxy cuts the
connection, a timeout). A retry then meets the effect of its own first
try: a delete answers 404, a tag put at the 50-tag limit 400, a second
move 409 "task_state migrating", or worse, moves the server again. So
after a lost answer, or a refusal that may be one (404), the server's
state decides whether the call did its job; a call is sent again only
as its policy allows:

* :data:`RESEND`, for idempotent writes (metadata, tags, description):
  sending again is harmless, so transient faults are retried at once,
  and only a call that finally fails is judged by the server's state;
* :data:`LOOK_FIRST`, for moves and confirmations, which must never be
  sent twice: after a lost answer the server is looked at *before* any
  resend, which happens only while it shows the call did not land; a
  refusal after a lost answer is judged the same way.

``landed`` reads the server and says whether it holds the call's effect.
When it cannot tell (its own read fails), the call's error stands.
"""

from __future__ import annotations

from collections.abc import Callable
import dataclasses
import enum

from osc_hypervisor_servers.runner import errors
from osc_hypervisor_servers.runner import retrying


class Policy(enum.Enum):
    RESEND = 'resend'
    LOOK_FIRST = 'look first'


RESEND = Policy.RESEND
LOOK_FIRST = Policy.LOOK_FIRST


@dataclasses.dataclass(frozen=True)
class Sent:
    """What became of a judged call."""

    retries: int
    #: None: the call did its job, by its answer or by the server's state.
    error: BaseException | None = None


class _Landed(Exception):
    """A call whose answer was lost did reach Nova: nothing to resend."""


class _Attempts:
    """One try of the call, as the retry loop makes it."""

    def __init__(
        self,
        call: Callable[[], object],
        landed: Callable[[], bool],
        policy: Policy,
    ) -> None:
        self.call = call
        self.landed = landed
        self.policy = policy
        self.retries = 0

    def __call__(self) -> None:
        if self.retries and self.policy is LOOK_FIRST and self.landed():
            raise _Landed
        self.call()

    def count_retry(self, error: BaseException) -> None:
        self.retries += 1


def send(
    call: Callable[[], object],
    landed: Callable[[], bool],
    policy: Policy,
    retry: retrying.RetryPolicy,
) -> Sent:
    """Send ``call``, retrying transient faults as ``policy`` allows."""
    attempts = _Attempts(call, landed, policy)
    try:
        retry.call(attempts, on_retry=attempts.count_retry)
    except _Landed:
        pass
    except errors.SERVER_ERRORS as error:
        may_have_landed = attempts.retries or (
            errors.status_code(error) == errors.NOT_FOUND
        )
        if not may_have_landed or not _holds(landed):
            return Sent(attempts.retries, error)
    return Sent(attempts.retries)


def _holds(landed: Callable[[], bool]) -> bool:
    try:
        return landed()
    except errors.SERVER_ERRORS:
        return False
