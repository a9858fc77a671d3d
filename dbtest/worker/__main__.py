import gc
import sys

# No collections while the runtime imports (they would only walk the modules
# being loaded); `main.main` freezes what is loaded and turns the collector back
# on before any test runs.
gc.disable()

if __name__ == "__main__":
    if sys.argv[1:2] == ["--fork-server"]:
        from dbtest.worker.forkserver import run
    else:
        from dbtest.worker.main import run

    run()
