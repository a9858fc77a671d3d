import sys

if __name__ == "__main__":
    if sys.argv[1:2] == ["--fork-server"]:
        from dbtest.worker.forkserver import run
    else:
        from dbtest.worker.main import run

    run()
