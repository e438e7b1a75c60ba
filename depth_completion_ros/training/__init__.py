"""Training loops, training samples and the frame caches they read (the ``dcr train`` jobs)."""
