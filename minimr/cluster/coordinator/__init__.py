"""The coordinator process: its loop (frames to scheduler events and back), the
answers to clients, its journal and history, and what one key may make it hold.
"""
