"""The reduce side: the k-way merge of sorted segments, cut into key groups for ``reduce``."""
