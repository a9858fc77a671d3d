"""Plain pytest-style tests: functions and a Test* class. No imports from dbtest needed."""

import asyncio


def add(a, b):
    return a + b


def test_add():
    assert add(2, 3) == 5


def test_strings():
    assert "db" + "test" == "dbtest"


async def test_async_sleep():
    await asyncio.sleep(0.01)
    assert True


class TestMath:
    def setup_method(self, method):
        self.values = [3, 1, 2]

    def test_sorted(self):
        assert sorted(self.values) == [1, 2, 3]

    def test_sum(self):
        assert sum(self.values) == 6
