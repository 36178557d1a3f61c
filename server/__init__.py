"""What a web server needs around the core: deployment settings, sessions and their folders, long jobs,
the checkpoint catalogue, safe uploads and the sampling process pool. Imports the core, never the UI."""
