// The tests share one PostgreSQL server and run real silos on loopback ports: one class at a time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
