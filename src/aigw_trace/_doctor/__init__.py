"""``aigw-trace doctor``: one small instrumented request to your own gateway, and what really went over the wire.

``_probe`` makes the request and reads the wire, ``_findings`` explains failures and missing headers, ``_report``
holds the diagnosis, its verdict and its printout. Exit codes (``Diagnosis.exit_code``, documented in
docs/doctor.md): 0 joined, 1 a problem found (on either side), 2 could not run, 3 sent but not confirmable from the
client.
"""

from ._findings import safe_url, summarise_body
from ._probe import diagnose
from ._report import Diagnosis, render

__all__ = ["Diagnosis", "diagnose", "render", "safe_url", "summarise_body"]
