"""The worker runtime. It imports only the standard library and msgpack, so that
a worker is ready to run tests a few milliseconds after it starts."""
