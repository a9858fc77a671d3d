import gc
import sys

if __name__ == "__main__":
    # No collections while the runtime imports (they would only walk the modules
    # being loaded). `main.main` turns the collector back on before any test; the
    # fork server, whose loop makes no reference cycles, keeps it off.
    gc.disable()
    if sys.argv[1:2] == ["--fork-server"]:
        from dbtest.worker.forkserver import run
    else:
        from dbtest.worker.main import run

    run()
