"""One runner per framework; each runs one job inside the job's own process."""
