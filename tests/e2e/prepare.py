"""Makes what the end-to-end tests would otherwise make on first use, before they get there: the
FLV fixtures of the realistic streams (about a minute) and, in the long run (EZRTMP_LONG=1,
scripts/test.sh --long), the SRS edge's build (edges.srs_install(), when the SRS kit is beside
the checkout; minutes).

Each is made once per checkout by whichever asks first, under a lock, so a test that gets there
first waits for it instead of doing it twice. scripts/test.sh runs this at the lowest priority
beside the first tests, which mostly wait on streams in real time: the builds and encodes then
no longer stand in the way of the tests one after another.

Run as: prepare.py (EZRTMP_FIXTURES and EZRTMP_PEERS name the directories, as for the tests)."""

import os

import edges
import test_streams


def main():
    if os.environ.get("EZRTMP_LONG") == "1" and edges.servers.srs_kit():
        edges.srs_install()
    for name in test_streams.FIXTURES:
        test_streams.fixture(name)


if __name__ == "__main__":
    main()
