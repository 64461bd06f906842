"""Running jobs: the sweep, the executors and worker processes, and the runners that measure inside a job."""
