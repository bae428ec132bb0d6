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

"""Moves: migrate and evacuate every server off hypervisors, and put
them back.

The commands call ``drain`` (migrate, evacuate) and ``restore`` (of
their journals). A run plans each server's move without I/O
(``planning``, ``kinds``; ``undo`` the way back), checks that the moves
fit (``fitting``, from ``preflight``'s facts and ``packing``), then runs
them (``runs``): it disables or enables compute services
(``compute_services``), moves each server (``moving``; ``others`` for a
move another request makes), follows Nova's migration records
(``migrations``, ``watching``, ``tracking``), says where each one ended
(``verdicts``), and ends with Nova's own listing (``endings``).
"""
