// The PostgreSQL tests share one server, stop and start servers, and time a 5,000-tenant start: run them one class at a time so the
// 2-core machine gives steady numbers.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
