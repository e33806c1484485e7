"""The performance monitor (``askpro perf monitor``) and the data seeder (``perf seed``)."""
