"""dbtest's own style: a TestSuite with suite-level and per-test hooks."""

from dbtest import TestSuite, test


class CounterSuite(TestSuite):
    async def setup_suite(self):
        self.log = ["setup_suite"]

    def setup(self):
        self.counter = 0

    @test(tags=["fast"])
    def increments(self):
        self.counter += 1
        assert self.counter == 1

    @test(tags=["fast"], timeout=5.0)
    async def async_test(self):
        assert self.log[0] == "setup_suite"

    def teardown(self):
        self.counter = None
