"""What to run: jobs, suites, shapes, run settings (knobs), modes, plugins and the shared settings."""
