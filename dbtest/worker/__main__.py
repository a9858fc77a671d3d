from dbtest.worker.main import run

run()
