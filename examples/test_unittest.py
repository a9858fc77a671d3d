"""unittest.TestCase classes run unchanged."""

import unittest


class StackTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.shared = "ready"

    def setUp(self):
        self.stack = []

    def test_push(self):
        self.stack.append(1)
        self.assertEqual(self.stack, [1])

    def test_pop_empty(self):
        with self.assertRaises(IndexError):
            self.stack.pop()

    def test_shared_setup(self):
        self.assertEqual(self.shared, "ready")

    @unittest.skip("shows how skips are reported")
    def test_skipped(self):
        self.fail("never runs")
