"""A worker process: its link to the coordinator, the executor processes where user
code runs, its folder of map outputs, the shuffle server, and task logs.
"""
