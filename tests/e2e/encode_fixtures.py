"""Encodes the FLV fixtures of the default test run before the tests that play them get there.

Each fixture is encoded once per checkout by whichever asks first (test_streams.fixture() and
joinlatency.stream_fixture() hold a lock on it meanwhile, so a test that gets there first waits
for the encode instead of doing it twice). scripts/test.sh runs this at the lowest priority beside
the first tests, which mostly wait on streams in real time: the encodes (about a minute in all)
then no longer stand in the way of the tests one after another.

Run as: encode_fixtures.py (EZRTMP_FIXTURES names the directory, as for the tests)."""

import joinlatency
import test_join_latency
import test_streams


def main():
    for name in test_streams.FIXTURES:
        test_streams.fixture(name)
    joinlatency.stream_fixture(test_join_latency.STREAM)


if __name__ == "__main__":
    main()
