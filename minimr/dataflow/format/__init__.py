"""The on-disk format: framed pickle blocks, sorted segments of map output, part files."""
