"""The map side: where a map task's output waits, is combined, sorted and spilled to disk."""
