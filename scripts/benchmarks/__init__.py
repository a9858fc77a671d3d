"""The benchmark that `scripts/bench` runs: dbtest against pytest and pytest-xdist.

One module per concern; `scripts/bench` is only the command that enters `cli`.

Orchestration (runs under any Python 3.11+, imports only the standard library):
  cli          the command line, which sections run, the run's end (budgets, report)
  environment  the .bench/venv (dbtest built from the clone, pytest and plugins)
  commands     running a command: wall time, process-tree RSS, pass counts
  context      what every section gets (interpreters, work directory, repetitions)
  generate     the synthetic suites and corpora, written as files
  suites       suites (a)–(h): one table of suites, one way to time them
  micro        start-up, collection and selection figures
  overhead     the coordinator's cost per test (5,000 vs 50,000 tests)
  profiles     cProfile of a worker, perf of the coordinator
  budgets      the spec's budgets, PASS/FAIL
  report       docs/benchmarks.md
  formatting   console output and units; stats: medians and per-call timings

Probes (`probes/`) run inside the benchmark's environment, as
`scripts/bench _probe NAME ...`, and print one JSON line. They reach dbtest only
through public entry points: the `dbtest` command's Python entry (`dbtest.cli.main`),
`dbtest._core`, and workers started as the coordinator starts them
(`python -P -m dbtest.worker`, protocol on fds 3/4, `dbtest.worker.protocol`).
"""
