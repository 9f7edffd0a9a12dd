"""Jobs written for other MapReduce libraries, run by minimr unchanged (``mrjob``)."""
