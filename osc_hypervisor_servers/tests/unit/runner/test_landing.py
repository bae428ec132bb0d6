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

from keystoneauth1 import exceptions as ksa_exceptions
import testtools

from osc_hypervisor_servers.runner import errors
from osc_hypervisor_servers.runner import landing
from osc_hypervisor_servers.tests.unit import fakes

LOST = ksa_exceptions.ConnectFailure('connection reset')


class Server:
    """A call's effect: it lands when ``landing`` says so, and a look at
    the server (``landed``) tells whether it has.
    """

    def __init__(self, *answers, landing=(True,)):
        self.answers = list(answers)
        self.landing = list(landing)
        self.holds = False
        self.sent = 0
        self.looks = 0

    def call(self):
        self.sent += 1
        if self.landing.pop(0) if self.landing else True:
            self.holds = True
        answer = self.answers.pop(0) if self.answers else None
        if answer is not None:
            raise answer

    def landed(self):
        self.looks += 1
        return self.holds


def status_of(sent):
    assert sent.error is not None
    return errors.status_code(sent.error)


def send(server, policy):
    return landing.send(
        server.call, server.landed, policy, fakes.no_wait_retry(attempts=4)
    )


class TestResend(testtools.TestCase):
    def test_answered_at_once_needs_no_look(self):
        server = Server()
        self.assertEqual(landing.Sent(0), send(server, landing.RESEND))
        self.assertEqual((1, 0), (server.sent, server.looks))

    def test_lost_answer_is_sent_again_without_looking(self):
        server = Server(LOST)
        self.assertEqual(landing.Sent(1), send(server, landing.RESEND))
        self.assertEqual((2, 0), (server.sent, server.looks))

    def test_refusal_after_a_lost_answer_is_judged_by_the_server(self):
        # The retry of a delete that landed meets 404.
        server = Server(LOST, fakes.http_error(404, 'no such tag'))
        self.assertEqual(landing.Sent(1), send(server, landing.RESEND))
        self.assertEqual(1, server.looks)

    def test_a_404_at_once_is_judged_too(self):
        server = Server(fakes.http_error(404), landing=[False])
        sent = send(server, landing.RESEND)
        self.assertEqual(404, status_of(sent))
        self.assertEqual(1, server.looks)

    def test_a_refusal_at_once_is_final(self):
        server = Server(fakes.http_error(409, 'locked'))
        sent = send(server, landing.RESEND)
        self.assertEqual(409, status_of(sent))
        self.assertEqual(0, server.looks)

    def test_a_look_that_fails_keeps_the_calls_error(self):
        server = Server(LOST, fakes.http_error(409))

        def unreadable():
            raise fakes.http_error(500)

        sent = landing.send(
            server.call, unreadable, landing.RESEND, fakes.no_wait_retry()
        )
        self.assertEqual(409, status_of(sent))


class TestLookFirst(testtools.TestCase):
    def test_a_lost_answer_that_landed_is_never_sent_again(self):
        server = Server(LOST)
        self.assertEqual(landing.Sent(1), send(server, landing.LOOK_FIRST))
        self.assertEqual((1, 1), (server.sent, server.looks))

    def test_a_lost_request_is_sent_again_once_seen_missing(self):
        server = Server(fakes.http_error(503), landing=[False, True])
        self.assertEqual(landing.Sent(1), send(server, landing.LOOK_FIRST))
        self.assertEqual((2, 1), (server.sent, server.looks))

    def test_a_refusal_after_a_lost_answer_is_judged_by_the_server(self):
        # Not landed at the first look; the resend meets the first try's
        # effect ("task_state migrating").
        class SlowServer(Server):
            def landed(self):
                return self.sent > 1

        server = SlowServer(
            LOST, fakes.http_error(409, 'migrating'), landing=[False, False]
        )
        self.assertEqual(landing.Sent(1), send(server, landing.LOOK_FIRST))

    def test_failing_for_good(self):
        server = Server(*[fakes.http_error(503)] * 4, landing=[False] * 4)
        sent = send(server, landing.LOOK_FIRST)
        self.assertEqual((3, 503), (sent.retries, status_of(sent)))
        self.assertEqual(4, server.sent)
